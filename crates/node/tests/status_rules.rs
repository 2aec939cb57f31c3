//! Table tests of the pure status rules: upstream `getPhase` cases and QoS classes.

use std::collections::BTreeMap;

use corral_node::status::{get_phase, qos_class};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, Pod, PodSpec, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

fn pod(policy: &str, init: &[&str], sidecars: &[&str], containers: &[&str]) -> Pod {
    let c = |n: &&str| Container {
        name: n.to_string(),
        ..Default::default()
    };
    let mut init_containers: Vec<Container> = init.iter().map(c).collect();
    init_containers.extend(sidecars.iter().map(|n| Container {
        name: n.to_string(),
        restart_policy: Some("Always".into()),
        ..Default::default()
    }));
    Pod {
        spec: Some(PodSpec {
            restart_policy: Some(policy.into()),
            init_containers: Some(init_containers),
            containers: containers.iter().map(c).collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn running(name: &str, started: bool) -> ContainerStatus {
    ContainerStatus {
        name: name.into(),
        started: Some(started),
        state: Some(ContainerState {
            running: Some(ContainerStateRunning::default()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn exited(name: &str, code: i32) -> ContainerStatus {
    ContainerStatus {
        name: name.into(),
        state: Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: code,
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn waiting(name: &str, last_exit: Option<i32>) -> ContainerStatus {
    ContainerStatus {
        name: name.into(),
        state: Some(ContainerState {
            waiting: Some(ContainerStateWaiting::default()),
            ..Default::default()
        }),
        last_state: last_exit.map(|code| ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: code,
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn get_phase_follows_upstream_for_each_case() {
    let cases: Vec<(&str, Pod, Vec<ContainerStatus>, bool, &str)> = vec![
        (
            "waiting container is pending",
            pod("Always", &[], &[], &["a"]),
            vec![waiting("a", None)],
            false,
            "Pending",
        ),
        (
            "running container is running",
            pod("Always", &[], &[], &["a"]),
            vec![running("a", true)],
            false,
            "Running",
        ),
        (
            "missing status is pending",
            pod("Always", &[], &[], &["a", "b"]),
            vec![running("a", true)],
            false,
            "Pending",
        ),
        (
            "always with an exit keeps running",
            pod("Always", &[], &[], &["a"]),
            vec![exited("a", 1)],
            false,
            "Running",
        ),
        (
            "never with success succeeds",
            pod("Never", &[], &[], &["a"]),
            vec![exited("a", 0)],
            false,
            "Succeeded",
        ),
        (
            "never with a failure fails",
            pod("Never", &[], &[], &["a", "b"]),
            vec![exited("a", 0), exited("b", 1)],
            false,
            "Failed",
        ),
        (
            "on failure with a failure keeps running",
            pod("OnFailure", &[], &[], &["a"]),
            vec![exited("a", 1)],
            false,
            "Running",
        ),
        (
            "crash loop waiting counts as stopped",
            pod("OnFailure", &[], &[], &["a"]),
            vec![waiting("a", Some(1))],
            false,
            "Running",
        ),
        (
            "terminal always pod with a failure fails",
            pod("Always", &[], &[], &["a"]),
            vec![exited("a", 1)],
            true,
            "Failed",
        ),
        (
            "running init container is pending",
            pod("Never", &["i"], &[], &["a"]),
            vec![running("i", true), waiting("a", None)],
            false,
            "Pending",
        ),
        (
            "failed init under never fails",
            pod("Never", &["i"], &[], &["a"]),
            vec![exited("i", 1), waiting("a", None)],
            false,
            "Failed",
        ),
        (
            "failed init under on failure is pending",
            pod("OnFailure", &["i"], &[], &["a"]),
            vec![waiting("i", Some(1)), waiting("a", None)],
            false,
            "Pending",
        ),
        (
            "unstarted sidecar is pending",
            pod("Never", &[], &["s"], &["a"]),
            vec![running("s", false), waiting("a", None)],
            false,
            "Pending",
        ),
        (
            "sidecar plus finished main still runs",
            pod("Never", &[], &["s"], &["a"]),
            vec![running("s", true), exited("a", 0)],
            false,
            "Running",
        ),
        (
            "stopped sidecar is ignored",
            pod("Never", &[], &["s"], &["a"]),
            vec![exited("s", 143), exited("a", 0)],
            false,
            "Succeeded",
        ),
    ];
    for (name, pod, statuses, terminal, expected) in cases {
        let initialized = statuses
            .iter()
            .any(|s| s.name == "a" && s.state.as_ref().is_some_and(|st| st.waiting.is_none()));
        assert_eq!(
            get_phase(&pod, &statuses, terminal, initialized),
            expected,
            "{name}"
        );
    }
}

fn with_resources(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Pod {
    let list = |items: &[(&str, &str)]| -> Option<BTreeMap<String, Quantity>> {
        (!items.is_empty()).then(|| {
            items
                .iter()
                .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                .collect()
        })
    };
    Pod {
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "a".into(),
                resources: Some(ResourceRequirements {
                    requests: list(requests),
                    limits: list(limits),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn qos_class_is_guaranteed_burstable_or_best_effort() {
    assert_eq!(qos_class(&with_resources(&[], &[])), "BestEffort");
    assert_eq!(
        qos_class(&with_resources(&[("cpu", "100m")], &[])),
        "Burstable"
    );
    assert_eq!(
        qos_class(&with_resources(
            &[("cpu", "1"), ("memory", "1Gi")],
            &[("cpu", "1"), ("memory", "1Gi")]
        )),
        "Guaranteed"
    );
    // Requests default to limits.
    assert_eq!(
        qos_class(&with_resources(&[], &[("cpu", "1"), ("memory", "1Gi")])),
        "Guaranteed"
    );
    assert_eq!(
        qos_class(&with_resources(
            &[("cpu", "500m"), ("memory", "1Gi")],
            &[("cpu", "1"), ("memory", "1Gi")]
        )),
        "Burstable"
    );
}
