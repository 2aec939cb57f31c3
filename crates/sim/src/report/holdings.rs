//! Guard 6 in the report: what failing pods hold. [`compute`] runs the controllers'
//! `compute_holdings` (the same pure function the API server serves as `holdings`) on the
//! final cache, with the scheduler's accounting of a pod's requests; [`render`] prints every
//! held pod under its Job and the per-namespace totals.

use std::fmt::Write;

use corral_controllers::holdings::{HoldingsReport, PodRequests, compute_holdings};
use corral_core::{ObjectCache, Timestamp};
use k8s_openapi::api::core::v1::Pod;

/// A pod's requests as the scheduler accounts them (one definition for both).
pub fn pod_requests(pod: &Pod) -> PodRequests {
    let r = corral_scheduler::resources::pod_object_requests(pod, false);
    PodRequests {
        milli_cpu: r.milli_cpu,
        memory: r.memory,
    }
}

/// The holdings of the cache at `now`.
pub fn compute(cache: &ObjectCache, now: Timestamp) -> HoldingsReport {
    compute_holdings(cache, now, &pod_requests)
}

fn mebibytes(bytes: i64) -> String {
    format!("{}Mi", bytes / (1 << 20))
}

/// The holdings table: one line per owner with its pods, then namespace totals.
pub fn render(report: &HoldingsReport) -> String {
    let mut out = String::new();
    if report.holdings.is_empty() {
        let _ = writeln!(out, "holdings: no pod holds node resources without running");
        return out;
    }
    let _ = writeln!(
        out,
        "holdings (pods holding node resources without running):\n{:<16} {:<28} {:>5} {:>8} {:>9}  state (pod, node, since)",
        "namespace", "owner", "pods", "cpu", "memory"
    );
    for h in &report.holdings {
        let cpu: i64 = h
            .status
            .held_pods
            .iter()
            .map(|p| {
                corral_api::Quantity::from_wire(&p.requests.cpu).map_or(0, |q| q.milli_value())
            })
            .sum();
        let memory: i64 = h
            .status
            .held_pods
            .iter()
            .map(|p| corral_api::Quantity::from_wire(&p.requests.memory).map_or(0, |q| q.value()))
            .sum();
        let pods: Vec<String> = h
            .status
            .held_pods
            .iter()
            .map(|p| {
                format!(
                    "{} {} on {} since {}",
                    p.state, p.name, p.node_name, p.since.0
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "{:<16} {:<28} {:>5} {:>7}m {:>9}  {}",
            h.metadata.namespace.as_deref().unwrap_or(""),
            format!("{}/{}", h.status.owner.kind, h.status.owner.name),
            h.status.pods,
            cpu,
            mebibytes(memory),
            pods.join("; ")
        );
    }
    for total in &report.namespaces {
        let _ = writeln!(
            out,
            "{:<16} {:<28} {:>5} {:>7}m {:>9}  ({} owners)",
            total.namespace,
            "TOTAL",
            total.pods,
            total.requests.milli_cpu,
            mebibytes(total.requests.memory),
            total.owners
        );
    }
    out
}
