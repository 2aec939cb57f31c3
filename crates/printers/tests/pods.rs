//! Goal: pod rows print what upstream's `printPod` prints: READY, STATUS (init containers,
//! waiting and terminated reasons, exit codes and signals, Completed-but-running,
//! Terminating, Unknown, SchedulingGated), RESTARTS with "(X ago)", the wide cells, and the
//! Completed row condition.
//!
//! Method: upstream's `TestPrintPod`, `TestPrintPodWithRestartableInitContainer`,
//! `TestPrintPodwide` and `TestPrintPodConditions` cases (`printers_test.go`), with
//! `time.Now()` offsets taken from a fixed `now`, then the everyday statuses users see
//! (CrashLoopBackOff, ImagePullBackOff, OOMKilled, ...).

mod common;

use common::{ago, object, texts};
use corral_api::ResourceKind;
use corral_api::meta_types::TableRowCondition;
use corral_printers::print_row;
use serde_json::{Value, json};

/// A container status with upstream's zero values for the fields a test leaves out.
fn cs(fields: Value) -> Value {
    let mut status =
        json!({"name": "", "image": "", "imageID": "", "ready": false, "restartCount": 0});
    for (k, v) in fields.as_object().unwrap() {
        status[k] = v.clone();
    }
    status
}

fn containers(n: usize) -> Value {
    Value::Array((0..n).map(|_| json!({"name": ""})).collect())
}

fn pod(metadata: Value, spec: Value, status: Value) -> corral_api::KubeObject {
    object(
        ResourceKind::Pod,
        json!({"metadata": metadata, "spec": spec, "status": status}),
    )
}

/// A pod with `n` unnamed containers and the given status.
fn simple(name: &str, n: usize, status: Value) -> corral_api::KubeObject {
    pod(
        json!({"name": name}),
        json!({"containers": containers(n)}),
        status,
    )
}

/// The five default cells.
fn row(pod: &corral_api::KubeObject) -> Vec<String> {
    texts(&common::cells("", "pods", pod))[..5].to_vec()
}

fn terminated_ago(seconds: i64) -> Value {
    json!({"terminated": {"exitCode": 0, "finishedAt": ago(seconds)}})
}

#[test]
fn container_states_override_the_phase() {
    let running = json!({"running": {}});
    let cases = [
        (
            simple(
                "test1",
                2,
                json!({"phase": "podPhase", "containerStatuses": [
            cs(json!({"ready": true, "restartCount": 3, "state": running})),
            cs(json!({"restartCount": 3}))]}),
            ),
            ["test1", "1/2", "podPhase", "6", "<unknown>"],
        ),
        (
            simple(
                "test2",
                2,
                json!({"phase": "podPhase", "containerStatuses": [
            cs(json!({"ready": true, "restartCount": 3, "state": running})),
            cs(json!({"restartCount": 3, "state": {"waiting": {"reason": "ContainerWaitingReason"}}}))]}),
            ),
            ["test2", "1/2", "ContainerWaitingReason", "6", "<unknown>"],
        ),
        (
            simple(
                "test3",
                2,
                json!({"phase": "podPhase", "containerStatuses": [
            cs(json!({"restartCount": 3, "state": {"waiting": {"reason": "ContainerWaitingReason"}}})),
            cs(json!({"restartCount": 3, "state": {"terminated": {"exitCode": 0, "reason": "ContainerTerminatedReason"}}}))]}),
            ),
            ["test3", "0/2", "ContainerWaitingReason", "6", "<unknown>"],
        ),
        (
            simple(
                "test4",
                2,
                json!({"phase": "podPhase", "containerStatuses": [
            cs(json!({"ready": true, "restartCount": 3, "state": running})),
            cs(json!({"ready": true, "restartCount": 3}))]}),
            ),
            ["test4", "1/2", "podPhase", "6", "<unknown>"],
        ),
        (
            simple(
                "test5",
                2,
                json!({"phase": "podPhase", "reason": "podReason", "containerStatuses": [
            cs(json!({"ready": true, "restartCount": 3, "state": running})),
            cs(json!({"ready": true, "restartCount": 3}))]}),
            ),
            ["test5", "1/2", "podReason", "6", "<unknown>"],
        ),
    ];
    for (pod, want) in cases {
        assert_eq!(row(&pod), want);
    }
}

#[test]
fn completed_container_next_to_a_running_one_is_running_or_not_ready() {
    let statuses = json!([
        cs(
            json!({"ready": true, "restartCount": 3, "state": {"terminated": {"reason": "Completed", "exitCode": 0}}})
        ),
        cs(json!({"ready": true, "restartCount": 3, "state": {"running": {}}})),
    ]);
    let without_ready = simple(
        "test6",
        2,
        json!({"phase": "Running", "containerStatuses": statuses}),
    );
    assert_eq!(
        row(&without_ready),
        ["test6", "1/2", "NotReady", "6", "<unknown>"]
    );
    let with_ready = simple(
        "test6",
        2,
        json!({"phase": "Running", "containerStatuses": statuses,
        "conditions": [{"type": "Ready", "status": "True"}]}),
    );
    assert_eq!(
        row(&with_ready),
        ["test6", "1/2", "Running", "6", "<unknown>"]
    );
}

#[test]
fn init_containers_report_progress_and_restarts() {
    let waiting = json!({"waiting": {}});
    let spec =
        |init: usize| json!({"initContainers": containers(init), "containers": containers(1)});
    let restarting =
        cs(json!({"restartCount": 3, "state": {"running": {}}, "lastState": terminated_ago(10)}));
    let cases = [
        (
            pod(
                json!({"name": "test7"}),
                spec(1),
                json!({"phase": "podPhase",
            "initContainerStatuses": [restarting],
            "containerStatuses": [cs(json!({"state": waiting}))]}),
            ),
            ["test7", "0/1", "Init:0/1", "3 (10s ago)", "<unknown>"],
        ),
        (
            pod(
                json!({"name": "test8"}),
                spec(2),
                json!({"phase": "podPhase",
            "initContainerStatuses": [restarting, cs(json!({"state": waiting}))],
            "containerStatuses": [cs(json!({"state": waiting}))]}),
            ),
            ["test8", "0/1", "Init:0/2", "3 (10s ago)", "<unknown>"],
        ),
        (
            pod(
                json!({"name": "test9"}),
                spec(2),
                json!({"phase": "podPhase",
            "initContainerStatuses": [cs(json!({"state": {"terminated": {"exitCode": 0}}})), restarting],
            "containerStatuses": [cs(json!({"state": waiting}))]}),
            ),
            ["test9", "0/1", "Init:1/2", "3 (10s ago)", "<unknown>"],
        ),
        (
            pod(
                json!({"name": "test10"}),
                spec(2),
                json!({"phase": "podPhase",
            "initContainerStatuses": [
                cs(json!({"restartCount": 2, "state": {"terminated": {"exitCode": 0}}, "lastState": terminated_ago(120)})),
                restarting],
            "containerStatuses": [cs(json!({"state": waiting}))]}),
            ),
            ["test10", "0/1", "Init:1/2", "5 (10s ago)", "<unknown>"],
        ),
        (
            pod(
                json!({"name": "test11"}),
                spec(1),
                json!({"phase": "Running",
            "initContainerStatuses": [
                cs(json!({"restartCount": 2, "state": {"terminated": {"exitCode": 0}}, "lastState": terminated_ago(120)}))],
            "containerStatuses": [
                cs(json!({"restartCount": 4, "state": {"running": {}}, "lastState": terminated_ago(20)}))]}),
            ),
            ["test11", "0/1", "Running", "4 (20s ago)", "<unknown>"],
        ),
    ];
    for (pod, want) in cases {
        assert_eq!(row(&pod), want);
    }
}

#[test]
fn restarts_show_the_latest_termination() {
    let running = json!({"running": {}});
    let day = 24 * 3600;
    let cases = [
        (
            simple(
                "test12",
                1,
                json!({"phase": "Running", "containerStatuses": [
            cs(json!({"ready": true, "restartCount": 3, "state": running, "lastState": terminated_ago(5 * day)}))]}),
            ),
            ["test12", "1/1", "Running", "3 (5d ago)", "<unknown>"],
        ),
        (
            simple(
                "test13",
                2,
                json!({"phase": "Running", "containerStatuses": [
            cs(json!({"ready": true, "state": running})),
            cs(json!({"ready": true, "restartCount": 3, "state": running, "lastState": terminated_ago(10 * day)}))]}),
            ),
            ["test13", "2/2", "Running", "3 (10d ago)", "<unknown>"],
        ),
        (
            simple(
                "test14",
                2,
                json!({"phase": "Running", "containerStatuses": [
            cs(json!({"ready": true, "restartCount": 6, "state": running, "lastState": terminated_ago(5 * day)})),
            cs(json!({"ready": true, "restartCount": 3, "state": running, "lastState": terminated_ago(20 * day)}))]}),
            ),
            ["test14", "2/2", "Running", "9 (5d ago)", "<unknown>"],
        ),
    ];
    for (pod, want) in cases {
        assert_eq!(row(&pod), want);
    }
}

#[test]
fn scheduling_gates_phases_and_deletion() {
    let gated = simple(
        "test15",
        2,
        json!({"phase": "podPhase",
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
    );
    assert_eq!(
        row(&gated),
        ["test15", "0/2", "SchedulingGated", "0", "<unknown>"]
    );
    let completed = json!([cs(
        json!({"state": {"terminated": {"reason": "Completed", "exitCode": 0}}})
    )]);
    let succeeded = simple(
        "test16",
        1,
        json!({"phase": "Succeeded", "containerStatuses": completed}),
    );
    assert_eq!(
        row(&succeeded),
        ["test16", "0/1", "Completed", "0", "<unknown>"]
    );
    let failed = simple(
        "test17",
        1,
        json!({"phase": "Failed", "containerStatuses": [
        cs(json!({"state": {"terminated": {"reason": "Error", "exitCode": 1}}}))]}),
    );
    assert_eq!(row(&failed), ["test17", "0/1", "Error", "0", "<unknown>"]);
    let deleted = |name: &str, status: Value| {
        pod(
            json!({"name": name, "deletionTimestamp": ago(10)}),
            json!({"containers": containers(1)}),
            status,
        )
    };
    let deleted_succeeded = deleted(
        "test18",
        json!({"phase": "Succeeded", "containerStatuses": completed}),
    );
    assert_eq!(
        row(&deleted_succeeded),
        ["test18", "0/1", "Completed", "0", "<unknown>"]
    );
    let deleted_running = deleted(
        "test19",
        json!({"phase": "Running", "containerStatuses": [cs(json!({"state": {"running": {}}}))]}),
    );
    assert_eq!(
        row(&deleted_running),
        ["test19", "0/1", "Terminating", "0", "<unknown>"]
    );
    let deleted_pending = deleted("test20", json!({"phase": "Pending"}));
    assert_eq!(
        row(&deleted_pending),
        ["test20", "0/1", "Terminating", "0", "<unknown>"]
    );
    let node_lost = deleted("lost", json!({"phase": "Running", "reason": "NodeLost"}));
    assert_eq!(
        row(&node_lost),
        ["lost", "0/1", "Unknown", "0", "<unknown>"]
    );
}

fn sidecar_spec() -> Value {
    json!({"initContainers": [
        {"name": "restartable-init-1", "restartPolicy": "Always"},
        {"name": "restartable-init-2", "restartPolicy": "Always"}],
        "containers": containers(1)})
}

#[test]
fn restartable_init_containers_count_as_containers() {
    let first = |started: bool, second: Value| {
        json!([
            cs(
                json!({"name": "restartable-init-1", "restartCount": 3, "state": {"running": {}}, "started": started, "lastState": terminated_ago(10)})
            ),
            second
        ])
    };
    let waiting_app = json!([cs(json!({"state": {"waiting": {}}}))]);
    let not_initialized = json!([{"type": "Initialized", "status": "False"}]);
    let cases = [
        (
            json!({"phase": "Pending", "conditions": not_initialized, "containerStatuses": waiting_app,
            "initContainerStatuses": first(false, cs(json!({"name": "restartable-init-2", "state": {"waiting": {}}, "started": false})))}),
            ["test1", "0/3", "Init:0/2", "3 (10s ago)", "<unknown>"],
        ),
        (
            json!({"phase": "Pending", "conditions": not_initialized, "containerStatuses": waiting_app,
            "initContainerStatuses": first(true, cs(json!({"name": "restartable-init-2", "state": {"running": {}}, "started": false})))}),
            ["test1", "0/3", "Init:1/2", "3 (10s ago)", "<unknown>"],
        ),
        (
            json!({"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
            "initContainerStatuses": first(true, cs(json!({"name": "restartable-init-2", "state": {"running": {}}, "started": true}))),
            "containerStatuses": [cs(json!({"ready": true, "restartCount": 4, "state": {"running": {}}, "lastState": terminated_ago(20)}))]}),
            ["test1", "1/3", "Running", "7 (10s ago)", "<unknown>"],
        ),
    ];
    for (status, want) in cases {
        assert_eq!(
            row(&pod(json!({"name": "test1"}), sidecar_spec(), status)),
            want
        );
    }
}

#[test]
fn failed_sidecars_of_a_succeeded_pod_keep_the_app_status() {
    let error = json!({"terminated": {"reason": "Error", "exitCode": 137}});
    let status = json!({"phase": "Succeeded", "conditions": [{"type": "Initialized", "status": "True"}],
        "initContainerStatuses": [
            cs(json!({"name": "restartable-init-1", "restartCount": 3, "state": error, "started": false, "lastState": terminated_ago(10)})),
            cs(json!({"name": "restartable-init-2", "state": error, "started": false}))],
        "containerStatuses": [cs(json!({"restartCount": 4, "state": {"terminated": {"reason": "Completed", "exitCode": 0}}, "lastState": terminated_ago(20)}))]});
    let pod = pod(json!({"name": "test3"}), sidecar_spec(), status);
    assert_eq!(
        row(&pod),
        ["test3", "0/3", "Completed", "7 (10s ago)", "<unknown>"]
    );
    assert_eq!(
        print_row(common::resource("", "pods"), &pod, &common::options()).conditions,
        [completed(
            "Succeeded",
            "The pod has completed successfully."
        )]
    );
}

#[test]
fn statuses_of_unknown_containers_are_tolerated() {
    let spec = json!({"initContainers": [
            {"name": "init1", "image": "initimage"},
            {"name": "sidecar1", "image": "sidecarimage", "restartPolicy": "Always"}],
        "containers": [{"name": "container1", "image": "containerimage"}]});
    let status = json!({"phase": "Running",
        "initContainerStatuses": [cs(json!({"name": "initinvalid"})), cs(json!({"name": "init1"})), cs(json!({"name": "sidecar1"}))],
        "containerStatuses": [cs(json!({"name": "containerinvalid"})), cs(json!({"name": "container1"}))]});
    assert_eq!(
        row(&pod(json!({"name": "test4"}), spec, status)),
        ["test4", "0/2", "Init:0/2", "0", "<unknown>"]
    );
}

#[test]
fn wide_cells_show_ip_node_nominated_node_and_readiness_gates() {
    let gates = json!([{"conditionType": "condition1"}, {"conditionType": "condition2"}, {"conditionType": "condition3"}]);
    let statuses = json!([
        cs(json!({"ready": true, "restartCount": 3, "state": {"running": {}}})),
        cs(json!({"restartCount": 3}))
    ]);
    let status = |ips: Value| {
        json!({"phase": "podPhase", "podIPs": ips, "nominatedNodeName": "node1",
        "conditions": [{"type": "condition1", "status": "False"}, {"type": "condition2", "status": "True"}],
        "containerStatuses": statuses})
    };
    let spec = json!({"containers": containers(2), "nodeName": "test1", "readinessGates": gates});
    let want = [
        "test1",
        "1/2",
        "podPhase",
        "6",
        "<unknown>",
        "1.1.1.1",
        "test1",
        "node1",
        "1/3",
    ];
    let single = pod(
        json!({"name": "test1"}),
        spec.clone(),
        status(json!([{"ip": "1.1.1.1"}])),
    );
    assert_eq!(texts(&common::cells("", "pods", &single)), want);
    let dual = pod(
        json!({"name": "test1"}),
        spec,
        status(json!([{"ip": "1.1.1.1"}, {"ip": "2001:db8::"}])),
    );
    assert_eq!(texts(&common::cells("", "pods", &dual)), want);
    let bare = simple(
        "test2",
        2,
        json!({"phase": "podPhase", "containerStatuses": [
        cs(json!({"ready": true, "restartCount": 3, "state": {"running": {}}})),
        cs(json!({"restartCount": 3, "state": {"waiting": {"reason": "ContainerWaitingReason"}}}))]}),
    );
    assert_eq!(
        texts(&common::cells("", "pods", &bare)),
        [
            "test2",
            "1/2",
            "ContainerWaitingReason",
            "6",
            "<unknown>",
            "<none>",
            "<none>",
            "<none>",
            "<none>"
        ]
    );
}

fn completed(reason: &str, message: &str) -> TableRowCondition {
    TableRowCondition {
        type_: "Completed".into(),
        status: "True".into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
    }
}

#[test]
fn finished_pods_carry_the_completed_row_condition() {
    let statuses = json!([
        cs(json!({"ready": true, "restartCount": 3, "state": {"running": {}}})),
        cs(json!({"restartCount": 3}))
    ]);
    let conditions = |phase: &str| {
        let pod = simple(
            "test1",
            2,
            json!({"phase": phase, "containerStatuses": statuses}),
        );
        let row = print_row(common::resource("", "pods"), &pod, &common::options());
        (texts(&row.cells)[2].clone(), row.conditions)
    };
    assert_eq!(conditions("Running"), ("Running".to_string(), vec![]));
    assert_eq!(
        conditions("Succeeded"),
        (
            "Succeeded".to_string(),
            vec![completed(
                "Succeeded",
                "The pod has completed successfully."
            )]
        )
    );
    assert_eq!(
        conditions("Failed"),
        (
            "Failed".to_string(),
            vec![completed("Failed", "The pod failed.")]
        )
    );
    let json = serde_json::to_value(completed("Failed", "The pod failed.")).unwrap();
    assert_eq!(
        json,
        json!({"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."})
    );
}

#[test]
fn everyday_statuses_read_as_on_a_real_cluster() {
    let one = |state: Value, restarts: i32| {
        simple(
            "p",
            1,
            json!({"phase": "Running", "containerStatuses": [cs(json!({"restartCount": restarts, "state": state}))]}),
        )
    };
    let cases = [
        (
            one(json!({"waiting": {"reason": "CrashLoopBackOff"}}), 4),
            "CrashLoopBackOff",
            "4",
        ),
        (
            one(json!({"waiting": {"reason": "ImagePullBackOff"}}), 0),
            "ImagePullBackOff",
            "0",
        ),
        (
            one(json!({"waiting": {"reason": "ErrImagePull"}}), 0),
            "ErrImagePull",
            "0",
        ),
        (
            one(json!({"waiting": {"reason": "ContainerCreating"}}), 0),
            "ContainerCreating",
            "0",
        ),
        (
            one(
                json!({"terminated": {"reason": "OOMKilled", "exitCode": 137}}),
                1,
            ),
            "OOMKilled",
            "1",
        ),
        (
            one(json!({"terminated": {"exitCode": 2}}), 0),
            "ExitCode:2",
            "0",
        ),
        (
            one(json!({"terminated": {"exitCode": 137, "signal": 9}}), 0),
            "Signal:9",
            "0",
        ),
        (
            one(json!({"terminated": {"reason": "", "exitCode": 0}}), 0),
            "ExitCode:0",
            "0",
        ),
    ];
    for (pod, status, restarts) in cases {
        let cells = row(&pod);
        assert_eq!((cells[2].as_str(), cells[3].as_str()), (status, restarts));
    }
    let init = |state: Value| {
        pod(
            json!({"name": "p"}),
            json!({"initContainers": containers(1), "containers": containers(1)}),
            json!({"phase": "Pending", "initContainerStatuses": [cs(json!({"state": state}))]}),
        )
    };
    let init_cases = [
        (json!({"terminated": {"exitCode": 3}}), "Init:ExitCode:3"),
        (
            json!({"terminated": {"exitCode": 1, "signal": 15}}),
            "Init:Signal:15",
        ),
        (
            json!({"terminated": {"exitCode": 1, "reason": "Error"}}),
            "Init:Error",
        ),
        (
            json!({"waiting": {"reason": "CrashLoopBackOff"}}),
            "Init:CrashLoopBackOff",
        ),
        (
            json!({"waiting": {"reason": "PodInitializing"}}),
            "Init:0/1",
        ),
        (json!({"running": {}}), "Init:0/1"),
    ];
    for (state, status) in init_cases {
        assert_eq!(row(&init(state))[2], status);
    }
}

#[test]
fn ages_come_from_the_creation_timestamp() {
    let young = pod(
        json!({"name": "p", "creationTimestamp": ago(42)}),
        json!({"containers": containers(1)}),
        json!({"phase": "Pending"}),
    );
    assert_eq!(row(&young), ["p", "0/1", "Pending", "0", "42s"]);
    let old = pod(
        json!({"name": "p", "creationTimestamp": ago(3 * 3600 + 60)}),
        json!({"containers": containers(1)}),
        json!({}),
    );
    assert_eq!(row(&old), ["p", "0/1", "", "0", "3h1m"]);
}

#[test]
fn pod_ip_prefers_the_legacy_field_as_decoding_does() {
    let pod = pod(
        json!({"name": "p"}),
        json!({"containers": containers(1)}),
        json!({"podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.1"}]}),
    );
    assert_eq!(texts(&common::cells("", "pods", &pod))[5], "10.0.0.9");
}
