//! The FailedScheduling message (upstream `framework.FitError.Error` plus the
//! DefaultPreemption PostFilter message):
//!
//! `0/<N> nodes are available: <prefilter msg | sorted "<count> <reason>" list>.
//! preemption: 0/<N> nodes are available: <sorted "<count> <preemption reason>" list>.`
//!
//! Reasons are counted per node and the `"<count> <reason>"` strings are sorted as
//! strings, as upstream's `sort.Strings`. Corral does not preempt, so a node rejected
//! only for resources reports upstream's "No preemption victims found for incoming pod",
//! and every other rejection "Preemption is not helpful for scheduling".

use std::collections::BTreeMap;

use crate::filters::Rejection;

/// Upstream's `ErrNoNodesAvailable`.
pub const NO_NODES_AVAILABLE: &str = "no nodes available to schedule pods";
const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// Why no node was chosen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnosis {
    pub node_count: usize,
    /// A PreFilter rejection: applies to every node and replaces the per-node reasons.
    pub prefilter: Option<String>,
    /// Reason → number of nodes that gave it.
    pub reasons: BTreeMap<String, usize>,
    /// Rejection code → number of nodes.
    pub codes: BTreeMap<Rejection, usize>,
    /// The pod has `preemptionPolicy: Never`.
    pub preemption_never: bool,
}

impl Diagnosis {
    pub fn message(&self) -> String {
        if self.node_count == 0 {
            return NO_NODES_AVAILABLE.to_string();
        }
        let n = self.node_count;
        let mut message = format!("0/{n} nodes are available:");
        match &self.prefilter {
            Some(prefilter) => message.push_str(&format!(" {prefilter}.")),
            None => {
                let mut histogram: Vec<String> = self
                    .reasons
                    .iter()
                    .map(|(reason, count)| format!("{count} {reason}"))
                    .collect();
                histogram.sort();
                if !histogram.is_empty() {
                    message.push_str(&format!(" {}.", histogram.join(", ")));
                }
            }
        }
        message.push_str(&format!(" {}", self.preemption_message()));
        message
    }

    fn preemption_message(&self) -> String {
        let n = self.node_count;
        if self.preemption_never {
            return "preemption: not eligible due to preemptionPolicy=Never.".to_string();
        }
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        if self.prefilter.is_some() {
            counts.insert(NOT_HELPFUL, n);
        } else {
            for (code, count) in &self.codes {
                let reason = match code {
                    Rejection::Unschedulable => NO_VICTIMS,
                    Rejection::UnschedulableAndUnresolvable => NOT_HELPFUL,
                };
                *counts.entry(reason).or_insert(0) += count;
            }
        }
        let mut parts: Vec<String> = counts.iter().map(|(r, c)| format!("{c} {r}")).collect();
        parts.sort();
        format!(
            "preemption: 0/{n} nodes are available: {}.",
            parts.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_counted_per_node_and_sorted_as_strings() {
        let diagnosis = Diagnosis {
            node_count: 3,
            prefilter: None,
            reasons: BTreeMap::from([
                (
                    "node(s) had untolerated taint {dedicated: batch}".to_string(),
                    2,
                ),
                ("Insufficient cpu".to_string(), 1),
            ]),
            codes: BTreeMap::from([
                (Rejection::Unschedulable, 1),
                (Rejection::UnschedulableAndUnresolvable, 2),
            ]),
            preemption_never: false,
        };
        assert_eq!(
            diagnosis.message(),
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {dedicated: batch}. \
             preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, \
             2 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn a_prefilter_rejection_replaces_the_per_node_list() {
        let diagnosis = Diagnosis {
            node_count: 2,
            prefilter: Some("persistentvolumeclaim \"data\" not found".into()),
            ..Default::default()
        };
        assert_eq!(
            diagnosis.message(),
            "0/2 nodes are available: persistentvolumeclaim \"data\" not found. \
             preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
        );
    }
}
