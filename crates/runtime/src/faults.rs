//! Fault injection at the controllers' API client: a [`WriteFaults`] seam that delays a
//! controller's write (and optionally fails it after the delay) before it reaches the API
//! service.
//!
//! Why here and not in admission: the API service's admission seam
//! (`corral_apiserver::service::Admission`) is synchronous and runs on tokio's blocking
//! pool, and paused-time tests cannot advance tokio's clock while a blocking task runs
//! (tokio inhibits auto-advance), so a 20 s webhook cannot be modelled there without
//! waiting 20 real seconds. A delay *after* the request took its client token and *before*
//! the API call is what a slow admission chain looks like from the controller: the
//! request holds whoever awaits it for that long, then commits (or is refused, with the
//! error given). Nothing is injected unless [`ControllerManagerConfig::write_faults`]
//! is set; production never sets it.
//!
//! [`ControllerManagerConfig::write_faults`]: crate::ControllerManagerConfig::write_faults

use std::time::Duration;

use corral_api::ApiError;
use corral_core::Action;

/// What happens to one write.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WriteFault {
    /// How long the request takes before it is answered (an admission webhook's latency).
    pub delay: Duration,
    /// `Some`: the request fails with this error after the delay and nothing is written
    /// (a webhook denial or timeout); `None`: it is then made as usual.
    pub error: Option<ApiError>,
}

impl WriteFault {
    /// The write is made after `delay`.
    pub fn slow(delay: Duration) -> WriteFault {
        WriteFault { delay, error: None }
    }

    /// The write fails with `error` after `delay`.
    pub fn failing(delay: Duration, error: ApiError) -> WriteFault {
        WriteFault {
            delay,
            error: Some(error),
        }
    }
}

/// Decides a fault per write. Called once per API request of every controller (not for
/// events dropped by the recorder), after the client token is taken.
pub trait WriteFaults: Send + Sync {
    /// The fault for `action`, written by the controller whose queue is `controller`;
    /// `None`: no fault.
    fn fault(&self, controller: &str, action: &Action) -> Option<WriteFault>;
}

impl<F> WriteFaults for F
where
    F: Fn(&str, &Action) -> Option<WriteFault> + Send + Sync,
{
    fn fault(&self, controller: &str, action: &Action) -> Option<WriteFault> {
        self(controller, action)
    }
}
