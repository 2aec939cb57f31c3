//! [`IoRuntime`]: the backend's own tokio runtime, and a blocking call into it that is
//! safe from any thread.
//!
//! The `Backend` port is synchronous (the store's commit leader blocks until a batch is
//! durable) while etcd-client is async. `Runtime::block_on` would panic when the caller
//! is itself inside a tokio runtime (the API server's handlers are), so every call is
//! spawned onto this runtime and the caller waits on a std channel instead.

use std::future::Future;
use std::time::Duration;

use tokio::runtime::{Builder, Handle, Runtime};

pub(crate) struct IoRuntime {
    runtime: Option<Runtime>,
}

impl IoRuntime {
    pub(crate) fn new() -> std::io::Result<IoRuntime> {
        // One worker: the store sends one commit at a time, plus the lease keep-alive.
        let runtime = Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("corral-etcd-io")
            .enable_all()
            .build()?;
        Ok(IoRuntime {
            runtime: Some(runtime),
        })
    }

    pub(crate) fn handle(&self) -> &Handle {
        match &self.runtime {
            Some(runtime) => runtime.handle(),
            // Only `drop` takes the runtime out.
            None => unreachable!("the etcd runtime is used after shutdown"),
        }
    }

    /// Runs `future` on the runtime and waits for it, for at most `timeout`. `None`: it
    /// timed out, or the runtime is shutting down.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        timeout: Duration,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        self.handle().spawn(async move {
            if let Ok(output) = tokio::time::timeout(timeout, future).await {
                let _ = sender.send(output);
            }
        });
        receiver.recv().ok()
    }
}

impl Drop for IoRuntime {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime; this does not.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
