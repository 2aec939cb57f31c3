//! List-then-watch loops feeding the driver: a full list (so deletions missed while
//! disconnected are noticed), then a watch from the list's revision, re-watched from the
//! last revision seen when it ends, re-listed after a 410. Retries back off up to 5 s.

use std::sync::Arc;
use std::time::Duration;

use corral_api::{KubeObject, ResourceKind, Revision};
use futures::StreamExt;
use tokio::sync::{mpsc, watch};

use crate::api::{NodeApi, ObjectEvent};

/// What an informer reports.
#[derive(Debug)]
pub enum InformerEvent {
    /// A complete list (replaces what was known of this kind).
    Listed(ResourceKind, Vec<KubeObject>),
    Upserted(KubeObject),
    Deleted(KubeObject),
}

const RETRY_MAX: Duration = Duration::from_secs(5);

/// Runs until `shutdown` turns true or the receiver goes away.
pub async fn run(
    api: Arc<dyn NodeApi>,
    kind: ResourceKind,
    field_selector: String,
    sender: mpsc::Sender<InformerEvent>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut retry = Duration::from_millis(100);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let listed = tokio::select! {
            listed = api.list(kind, &field_selector) => listed,
            _ = shutdown.changed() => return,
        };
        let mut revision = match listed {
            Ok((items, revision)) => {
                if sender
                    .send(InformerEvent::Listed(kind, items))
                    .await
                    .is_err()
                {
                    return;
                }
                retry = Duration::from_millis(100);
                revision
            }
            Err(e) => {
                tracing::warn!(kind = ?kind, error = %e, "list failed");
                if !pause(&mut shutdown, &mut retry).await {
                    return;
                }
                continue;
            }
        };
        // Watch until the history is gone (410), then re-list.
        loop {
            let opened = tokio::select! {
                opened = api.watch(kind, &field_selector, revision) => opened,
                _ = shutdown.changed() => return,
            };
            let mut stream = match opened {
                Ok(stream) => stream,
                Err(e) if e.code == 410 => break,
                Err(e) => {
                    tracing::warn!(kind = ?kind, error = %e, "watch failed");
                    if !pause(&mut shutdown, &mut retry).await {
                        return;
                    }
                    continue;
                }
            };
            retry = Duration::from_millis(100);
            let expired = loop {
                let next = tokio::select! {
                    next = stream.next() => next,
                    _ = shutdown.changed() => return,
                };
                let event = match next {
                    None => break false,
                    Some(Err(e)) if e.code == 410 => break true,
                    Some(Err(e)) => {
                        tracing::debug!(kind = ?kind, error = %e, "watch error");
                        break false;
                    }
                    Some(Ok(event)) => event,
                };
                let report = match event {
                    ObjectEvent::Bookmark(r) => {
                        revision = revision.max(r);
                        continue;
                    }
                    ObjectEvent::Added(o) | ObjectEvent::Modified(o) => {
                        revision = revision.max(o.revision().unwrap_or(Revision(0)));
                        InformerEvent::Upserted(o)
                    }
                    ObjectEvent::Deleted(o) => {
                        revision = revision.max(o.revision().unwrap_or(Revision(0)));
                        InformerEvent::Deleted(o)
                    }
                };
                if sender.send(report).await.is_err() {
                    return;
                }
            };
            if expired {
                break;
            }
        }
    }
}

/// Waits out a retry delay (doubling it); false when shutting down.
async fn pause(shutdown: &mut watch::Receiver<bool>, retry: &mut Duration) -> bool {
    let delay = *retry;
    *retry = (*retry * 2).min(RETRY_MAX);
    tokio::select! {
        _ = tokio::time::sleep(delay) => true,
        _ = shutdown.changed() => false,
    }
}
