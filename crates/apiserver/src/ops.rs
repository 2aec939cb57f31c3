//! Health endpoints as upstream's `healthz` package serves them: `/healthz`, `/livez`,
//! `/readyz` (plain `ok`, or with `?verbose` one `[+]check ok` line per check and a
//! summary line; failures answer 500 with the list), `/{endpoint}/{check}` for one check,
//! `?exclude=check` to skip one.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::service::ApiService;

/// Start-up and shutdown state the checks read.
#[derive(Debug, Default)]
pub struct HealthState {
    /// The system namespaces exist.
    pub bootstrapped: AtomicBool,
    pub shutting_down: AtomicBool,
}

impl HealthState {
    pub fn set_bootstrapped(&self) {
        self.bootstrapped.store(true, Ordering::SeqCst);
    }

    pub fn set_shutting_down(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }
}

/// Which endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Healthz,
    Livez,
    Readyz,
}

impl Endpoint {
    pub fn parse(name: &str) -> Option<Endpoint> {
        match name {
            "healthz" => Some(Endpoint::Healthz),
            "livez" => Some(Endpoint::Livez),
            "readyz" => Some(Endpoint::Readyz),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Endpoint::Healthz => "healthz",
            Endpoint::Livez => "livez",
            Endpoint::Readyz => "readyz",
        }
    }

    fn checks(self) -> &'static [&'static str] {
        match self {
            Endpoint::Readyz => &[
                "ping",
                "log",
                "etcd",
                "etcd-readiness",
                "poststarthook/corral-system-namespaces",
                "shutdown",
            ],
            _ => &[
                "ping",
                "log",
                "etcd",
                "poststarthook/corral-system-namespaces",
            ],
        }
    }
}

fn run_check(name: &str, service: &ApiService, state: &HealthState) -> Result<(), &'static str> {
    match name {
        "ping" | "log" => Ok(()),
        "etcd" | "etcd-readiness" if service.store().is_read_only() => Err("storage is read-only"),
        "etcd" | "etcd-readiness" => Ok(()),
        "poststarthook/corral-system-namespaces" if state.bootstrapped.load(Ordering::SeqCst) => {
            Ok(())
        }
        "poststarthook/corral-system-namespaces" => Err("not finished"),
        "shutdown" if state.shutting_down.load(Ordering::SeqCst) => Err("process is shutting down"),
        "shutdown" => Ok(()),
        _ => Err("unknown check"),
    }
}

/// A health answer: HTTP code and text body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthAnswer {
    pub code: u16,
    pub body: String,
}

/// Evaluates `endpoint` (or one `check` of it) with the query's `verbose`/`exclude`.
pub fn evaluate(
    endpoint: Endpoint,
    check: Option<&str>,
    verbose: bool,
    excluded: &[String],
    service: &ApiService,
    state: &HealthState,
) -> HealthAnswer {
    if let Some(check) = check {
        if !endpoint.checks().contains(&check) {
            return HealthAnswer {
                code: 404,
                body: "404 page not found\n".into(),
            };
        }
        return match run_check(check, service, state) {
            Ok(()) => HealthAnswer {
                code: 200,
                body: "ok".into(),
            },
            Err(why) => HealthAnswer {
                code: 500,
                body: format!("internal server error: {why}\n"),
            },
        };
    }
    let mut lines = Vec::new();
    let mut failed = false;
    for name in endpoint.checks() {
        if excluded.iter().any(|e| e == name) {
            lines.push(format!("[+]{name} excluded: ok"));
            continue;
        }
        match run_check(name, service, state) {
            Ok(()) => lines.push(format!("[+]{name} ok")),
            Err(_) => {
                failed = true;
                lines.push(format!("[-]{name} failed: reason withheld"));
            }
        }
    }
    let summary = if failed { "failed" } else { "passed" };
    lines.push(format!("{} check {summary}", endpoint.name()));
    match (failed, verbose) {
        (false, false) => HealthAnswer {
            code: 200,
            body: "ok".into(),
        },
        (false, true) => HealthAnswer {
            code: 200,
            body: lines.join("\n") + "\n",
        },
        (true, _) => HealthAnswer {
            code: 500,
            body: lines.join("\n") + "\n",
        },
    }
}
