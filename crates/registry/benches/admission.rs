//! Admission of a pod create without webhooks, per request (goal ≤ 50 µs).
//!
//! `cargo bench -p corral-registry --bench admission`: a namespace with its `default`
//! ServiceAccount, a LimitRange and a ResourceQuota in an [`ObjectCache`]; each iteration
//! runs a fresh [`AdmissionFlow`] to `Admitted` (defaults, NamespaceLifecycle, LimitRanger,
//! ServiceAccount with the token volume, Priority, tolerations, registry validation,
//! quota charge). Prints the median and p99 of batches of 100 requests.

#![allow(clippy::disallowed_methods)] // a benchmark measures wall time

use std::sync::Arc;
use std::time::Instant;

use corral_api::{KubeObject, Revision};
use corral_core::{ChangeKind, ObjectCache, ObjectEvent};
use corral_registry::admission::{AdmissionConfig, AdmissionFlow, AdmissionRequest, AdmissionStep};
use corral_registry::authz::UserInfo;
use serde_json::json;

fn object(kind: corral_api::ResourceKind, value: serde_json::Value) -> KubeObject {
    KubeObject::from_value(kind, value).expect("valid fixture")
}

fn cache() -> ObjectCache {
    use corral_api::ResourceKind as K;
    let mut cache = ObjectCache::new();
    let objects = [
        object(
            K::Namespace,
            json!({"metadata": {"name": "team"}, "status": {"phase": "Active"}}),
        ),
        object(
            K::ServiceAccount,
            json!({"metadata": {"name": "default", "namespace": "team"}}),
        ),
        object(
            K::LimitRange,
            json!({"metadata": {"name": "limits", "namespace": "team"}, "spec": {"limits": [
                {"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"}, "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}
            ]}}),
        ),
        object(
            K::ResourceQuota,
            json!({"metadata": {"name": "q", "namespace": "team", "resourceVersion": "4"},
            "spec": {"hard": {"pods": "1000000", "requests.cpu": "100000", "count/pods": "1000000"}},
            "status": {"hard": {"pods": "1000000", "requests.cpu": "100000", "count/pods": "1000000"},
                       "used": {"pods": "0", "requests.cpu": "0", "count/pods": "0"}}}),
        ),
    ];
    for (i, o) in objects.into_iter().enumerate() {
        cache.apply(&ObjectEvent {
            change: ChangeKind::Added,
            object: Arc::new(o),
            revision: Revision(i as u64 + 1),
        });
    }
    cache
}

fn pod(i: usize) -> KubeObject {
    object(
        corral_api::ResourceKind::Pod,
        json!({"metadata": {"name": format!("job-{i}-abcde"), "generateName": format!("job-{i}-"), "namespace": "team",
                            "uid": format!("uid-{i}"), "labels": {"job-name": format!("job-{i}")}},
               "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", "exit 0"]}]}}),
    )
}

fn main() {
    measure(
        "admission (pod create, no webhooks, with the registry's create preparation)",
        true,
    );
    measure("admission chain alone (run_validation = false)", false);
}

fn measure(label: &str, run_validation: bool) {
    let cache = cache();
    let config = AdmissionConfig {
        run_validation,
        ..AdmissionConfig::default()
    };
    let user = UserInfo::new(
        "system:serviceaccount:kube-system:job-controller",
        &["system:authenticated"],
    );
    let now = corral_core::clock::epoch();
    // Requests are decoded before the clock starts: decoding is the API layer's cost.
    let request = |i: usize| {
        let mut request = AdmissionRequest::create(pod(i), user.clone(), &format!("req-{i}"));
        request.name = String::new();
        request
    };
    let run = |request: AdmissionRequest| {
        let mut flow = AdmissionFlow::new(request, &config);
        match flow.step(&cache, now) {
            AdmissionStep::Admitted(admitted) => assert_eq!(admitted.quota.len(), 1),
            other => panic!("unexpected {other:?}"),
        }
    };
    for i in 0..2_000 {
        run(request(i));
    }
    let batch = 100;
    let mut per_request_us: Vec<f64> = Vec::new();
    for b in 0..200 {
        let requests: Vec<AdmissionRequest> = (0..batch).map(|i| request(b * batch + i)).collect();
        let started = Instant::now();
        for r in requests {
            run(r);
        }
        per_request_us.push(started.elapsed().as_secs_f64() * 1e6 / batch as f64);
    }
    per_request_us.sort_by(f64::total_cmp);
    let median = per_request_us[per_request_us.len() / 2];
    let p99 = per_request_us[per_request_us.len() * 99 / 100];
    println!(
        "{label}: median {median:.1} µs/request, p99 {p99:.1} µs/request (batches of {batch}, {} batches)",
        per_request_us.len()
    );
}
