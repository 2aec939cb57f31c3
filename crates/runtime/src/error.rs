//! The runtime's typed errors. `Display` names what failed; the API error that caused it
//! is the `source` (logged separately, never folded into the message).

use corral_api::{ApiError, Revision};

/// An informer failure, named by the phase it happened in (kube-rs `watcher::Error`).
#[derive(Debug, thiserror::Error)]
pub enum InformerError {
    #[error("listing {kind} failed")]
    InitialListFailed {
        kind: &'static str,
        #[source]
        source: ApiError,
    },
    #[error("starting the watch of {kind} at revision {revision} failed")]
    WatchStartFailed {
        kind: &'static str,
        revision: Revision,
        #[source]
        source: ApiError,
    },
    #[error("the watch of {kind} failed after revision {revision}")]
    WatchFailed {
        kind: &'static str,
        revision: Revision,
        #[source]
        source: ApiError,
    },
}

impl InformerError {
    /// The phase label (metrics, logs).
    pub fn phase(&self) -> &'static str {
        match self {
            InformerError::InitialListFailed { .. } => "list",
            InformerError::WatchStartFailed { .. } => "watch_start",
            InformerError::WatchFailed { .. } => "watch",
        }
    }

    /// The API error behind it.
    pub fn cause(&self) -> &ApiError {
        match self {
            InformerError::InitialListFailed { source, .. }
            | InformerError::WatchStartFailed { source, .. }
            | InformerError::WatchFailed { source, .. } => source,
        }
    }
}

/// A task of the controller manager ended abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ShutdownError {
    #[error("{count} runtime task(s) panicked")]
    TasksPanicked { count: usize },
    #[error("runtime tasks did not stop within {seconds} s")]
    Timeout { seconds: u64 },
}

/// A controller name `ControllerManagerConfig::disable` does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown controller {0:?}")]
pub struct UnknownController(pub String);

/// A profile name `Profile::from_str` does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown profile {0:?} (expected \"corral\" or \"upstream\")")]
pub struct UnknownProfile(pub String);
