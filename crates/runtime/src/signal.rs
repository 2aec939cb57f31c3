//! Two one-way latches the tasks share, on `tokio::sync::watch`:
//!
//! - [`Shutdown`]: once triggered, every loop finishes the item in hand and returns;
//! - [`Synced`]: set when every informer has delivered its first complete list, so
//!   workers never reconcile from a half-filled cache (client-go's `WaitForCacheSync`:
//!   a Job reconciled before its pods were listed would create them again).

use tokio::sync::watch;

/// The sending side of [`Shutdown`].
#[derive(Debug)]
pub struct ShutdownTrigger {
    sender: watch::Sender<bool>,
}

/// A cloneable shutdown signal.
#[derive(Clone, Debug)]
pub struct Shutdown {
    receiver: watch::Receiver<bool>,
}

/// A new trigger and its signal.
pub fn shutdown_channel() -> (ShutdownTrigger, Shutdown) {
    let (sender, receiver) = watch::channel(false);
    (ShutdownTrigger { sender }, Shutdown { receiver })
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    pub fn signal(&self) -> Shutdown {
        Shutdown {
            receiver: self.sender.subscribe(),
        }
    }
}

impl Shutdown {
    pub fn is_triggered(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Resolves once shutdown is triggered (or the trigger is gone).
    pub async fn wait(&mut self) {
        // An error means the trigger was dropped: treat it as a shutdown.
        let _ = self.receiver.wait_for(|triggered| *triggered).await;
    }
}

/// The sending side of [`Synced`].
#[derive(Debug)]
pub struct SyncedTrigger {
    sender: watch::Sender<bool>,
}

/// Whether the shared cache has been filled once.
#[derive(Clone, Debug)]
pub struct Synced {
    receiver: watch::Receiver<bool>,
}

pub fn synced_channel() -> (SyncedTrigger, Synced) {
    let (sender, receiver) = watch::channel(false);
    (SyncedTrigger { sender }, Synced { receiver })
}

impl SyncedTrigger {
    pub fn mark_synced(&self) {
        self.sender.send_replace(true);
    }
}

impl Synced {
    pub fn is_synced(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Resolves once synced; `false` if the informer went away first.
    pub async fn wait(&mut self) -> bool {
        self.receiver.wait_for(|synced| *synced).await.is_ok()
    }
}
