//! Goal: create, get, list, update, patch (three types) and delete behave as upstream's API
//! server does for what kubectl relies on: defaults, dry runs, field validation, generated
//! names, optimistic concurrency, no-op detection, status subresource semantics, deletion
//! propagation, graceful pod deletion and namespace termination.
//! Method: a real server over HTTPS, one scenario per test.

mod common;

use std::time::Duration;

use common::{FrameReader, JOBS, TestServer, job, namespace};
use serde_json::json;

#[tokio::test]
async fn create_get_list_round_trip_with_defaults() {
    let server = TestServer::start().await;
    let client = server.client();
    let created = client
        .post(
            &format!("{JOBS}?fieldManager=kubectl-create&fieldValidation=Strict"),
            &job("a", "default"),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    let uid = created["metadata"]["uid"].as_str().unwrap();
    assert_eq!(created["metadata"]["generation"], 1);
    assert_eq!(
        created["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid
    );
    assert_eq!(
        created["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/job-name"],
        "a"
    );
    let got = client.get(&format!("{JOBS}/a")).await.json();
    assert_eq!(got, created);
    let list = client.get(JOBS).await.json();
    assert_eq!(list["kind"], "JobList");
    assert_eq!(list["apiVersion"], "batch/v1");
    assert_eq!(list["items"][0]["metadata"]["name"], "a");
    assert!(
        list["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= created["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
    );
    let all = client.get("/apis/batch/v1/jobs").await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    let in_missing = client.get("/apis/batch/v1/namespaces/nowhere/jobs").await;
    assert_eq!(in_missing.status, 200);
    assert!(in_missing.json()["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn yaml_bodies_and_generated_names() {
    let server = TestServer::start().await;
    let client = server.client();
    let yaml =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: cm-\ndata:\n  a: \"1\"\n";
    let reply = client
        .request(
            http::Method::POST,
            "/api/v1/namespaces/default/configmaps",
            &[("content-type", "application/yaml")],
            yaml.into(),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let name = reply.json()["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(name.starts_with("cm-") && name.len() == 8, "{name}");
}

#[tokio::test]
async fn dry_run_create_and_delete_persist_nothing() {
    let server = TestServer::start().await;
    let client = server.client();
    let reply = client
        .post(&format!("{JOBS}?dryRun=All"), &job("dry", "default"))
        .await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.json()["metadata"]["name"], "dry");
    client.get(&format!("{JOBS}/dry")).await.expect_status(404);
    client.post(JOBS, &job("keep", "default")).await;
    let reply = client
        .delete(
            &format!("{JOBS}/keep?dryRun=All"),
            &json!({"propagationPolicy": "Background"}),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(client.get(&format!("{JOBS}/keep")).await.status, 200);
}

#[tokio::test]
async fn field_validation_strict_warn_and_ignore() {
    let server = TestServer::start().await;
    let client = server.client();
    let mut body = job("v", "default");
    body["spec"]["bogusField"] = json!(1);
    let strict = client
        .post(&format!("{JOBS}?fieldValidation=Strict"), &body)
        .await;
    assert_eq!(
        strict.expect_status(400),
        "Job in version \"v1\" cannot be handled as a Job: strict decoding error: unknown field \"spec.bogusField\""
    );
    let warn = client
        .post(&format!("{JOBS}?fieldValidation=Warn"), &body)
        .await;
    assert_eq!(warn.status, 201);
    assert_eq!(
        warn.warnings(),
        vec!["299 - \"unknown field \\\"spec.bogusField\\\"\""]
    );
    body["metadata"]["name"] = json!("v2");
    let ignore = client
        .post(&format!("{JOBS}?fieldValidation=Ignore"), &body)
        .await;
    assert_eq!(ignore.status, 201);
    assert!(ignore.warnings().is_empty());
    let duplicate = br#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"d","name":"d"},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[]}}}}"#;
    let reply = client
        .request(
            http::Method::POST,
            &format!("{JOBS}?fieldValidation=Strict"),
            &[("content-type", "application/json")],
            duplicate.to_vec(),
        )
        .await;
    assert!(
        reply
            .expect_status(400)
            .contains("duplicate field \"metadata.name\"")
    );
}

#[tokio::test]
async fn update_with_a_stale_resource_version_conflicts() {
    let server = TestServer::start().await;
    let client = server.client();
    let created = client.post(JOBS, &job("u", "default")).await.json();
    let mut changed = created.clone();
    changed["metadata"]["labels"]["tier"] = json!("gold");
    let updated = client.put(&format!("{JOBS}/u"), &changed).await;
    assert_eq!(updated.status, 200, "{}", updated.text());
    assert_ne!(
        updated.json()["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );
    let stale = client.put(&format!("{JOBS}/u"), &changed).await;
    assert_eq!(
        stale.expect_status(409),
        "Operation cannot be fulfilled on jobs.batch \"u\": the object has been modified; please apply your changes to the latest version and try again"
    );
    let mut renamed = updated.json();
    renamed["metadata"]["name"] = json!("other");
    let mismatch = client.put(&format!("{JOBS}/u"), &renamed).await;
    assert_eq!(
        mismatch.expect_status(400),
        "the name of the object (other) does not match the name on the URL (u)"
    );
}

#[tokio::test]
async fn three_patch_types_and_no_op_detection() {
    let server = TestServer::start().await;
    let client = server.client();
    let created = client.post(JOBS, &job("p", "default")).await.json();
    let path = format!("{JOBS}/p?fieldManager=kubectl-patch");
    let merge = client
        .patch(
            &path,
            "application/merge-patch+json",
            r#"{"metadata":{"labels":{"m":"1"}}}"#,
        )
        .await;
    assert_eq!(merge.json()["metadata"]["labels"]["m"], "1");
    let strategic = client
        .patch(
            &path,
            "application/strategic-merge-patch+json",
            r#"{"spec":{"backoffLimit":3}}"#,
        )
        .await;
    assert_eq!(strategic.json()["spec"]["backoffLimit"], 3);
    let json_patch = client
        .patch(
            &path,
            "application/json-patch+json",
            r#"[{"op":"add","path":"/metadata/labels/j","value":"2"}]"#,
        )
        .await;
    let patched = json_patch.json();
    assert_eq!(patched["metadata"]["labels"]["j"], "2");
    let again = client
        .patch(
            &path,
            "application/merge-patch+json",
            r#"{"metadata":{"labels":{"m":"1"}}}"#,
        )
        .await
        .json();
    assert_eq!(
        again["metadata"]["resourceVersion"], patched["metadata"]["resourceVersion"],
        "a no-op patch keeps the revision"
    );
    assert_ne!(
        patched["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );
    let failed = client
        .patch(
            &path,
            "application/json-patch+json",
            r#"[{"op":"test","path":"/metadata/name","value":"x"}]"#,
        )
        .await;
    failed.expect_status(422);
    let unsupported = client.patch(&path, "application/json", "{}").await;
    unsupported.expect_status(415);
}

#[tokio::test]
async fn strategic_merge_patches_merge_containers_by_name() {
    let server = TestServer::start().await;
    let client = server.client();
    let pods = "/api/v1/namespaces/default/pods";
    let pod = json!({"metadata": {"name": "two"}, "spec": {"containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}});
    client.post(pods, &pod).await;
    let patched = client
        .patch(
            &format!("{pods}/two"),
            "application/strategic-merge-patch+json",
            r#"{"spec":{"containers":[{"name":"b","image":"b:2"}]}}"#,
        )
        .await
        .json();
    let containers = patched["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 2);
    assert_eq!(containers[1]["image"], "b:2");
    assert_eq!(containers[0]["image"], "a:1");
}

#[tokio::test]
async fn status_subresource_changes_only_status() {
    let server = TestServer::start().await;
    let client = server.client();
    client.post(JOBS, &job("s", "default")).await;
    let status = client
        .patch(
            &format!("{JOBS}/s/status"),
            "application/merge-patch+json",
            r#"{"status":{"active":1},"spec":{"parallelism":5}}"#,
        )
        .await;
    assert_eq!(status.status, 200, "{}", status.text());
    let body = status.json();
    assert_eq!(body["status"]["active"], 1);
    assert_eq!(
        body["spec"]["parallelism"], 1,
        "spec is ignored on the status subresource"
    );
    let main = client
        .patch(
            &format!("{JOBS}/s"),
            "application/merge-patch+json",
            r#"{"status":{"active":9},"metadata":{"labels":{"x":"y"}}}"#,
        )
        .await
        .json();
    assert_eq!(
        main["status"]["active"], 1,
        "status is ignored on the main resource"
    );
    assert_eq!(main["metadata"]["labels"]["x"], "y");
}

#[tokio::test]
async fn deletion_propagation_policies() {
    let server = TestServer::start().await;
    let client = server.client();
    for name in ["bg", "fg", "or"] {
        client.post(JOBS, &job(name, "default")).await;
    }
    let background = client
        .delete(
            &format!("{JOBS}/bg"),
            &json!({"propagationPolicy": "Background"}),
        )
        .await;
    assert_eq!(background.status, 200);
    client.get(&format!("{JOBS}/bg")).await.expect_status(404);
    let foreground = client
        .delete(
            &format!("{JOBS}/fg"),
            &json!({"propagationPolicy": "Foreground"}),
        )
        .await
        .json();
    assert!(foreground["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(
        foreground["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    let orphan = client
        .delete(
            &format!("{JOBS}/or"),
            &json!({"propagationPolicy": "Orphan"}),
        )
        .await
        .json();
    assert_eq!(orphan["metadata"]["finalizers"], json!(["orphan"]));
    let precondition = client
        .delete(
            &format!("{JOBS}/or"),
            &json!({"preconditions": {"uid": "wrong"}}),
        )
        .await;
    assert!(
        precondition
            .expect_status(409)
            .contains("Precondition failed: UID in precondition: wrong")
    );
}

#[tokio::test]
async fn bound_pods_are_deleted_gracefully_and_unbound_pods_at_once() {
    let server = TestServer::start().await;
    let client = server.client();
    let pod = |name: &str, node: Option<&str>| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "containers": [{"name": "main", "image": "busybox"}]}})
    };
    let pods = "/api/v1/namespaces/default/pods";
    assert_eq!(client.post(pods, &pod("unbound", None)).await.status, 201);
    assert_eq!(
        client.post(pods, &pod("bound", Some("n1"))).await.status,
        201
    );
    client.delete(&format!("{pods}/unbound"), &json!({})).await;
    client
        .get(&format!("{pods}/unbound"))
        .await
        .expect_status(404);
    let marked = client
        .delete(&format!("{pods}/bound"), &json!({"gracePeriodSeconds": 5}))
        .await
        .json();
    assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 5);
    assert_eq!(client.get(&format!("{pods}/bound")).await.status, 200);
    client
        .delete(&format!("{pods}/bound"), &json!({"gracePeriodSeconds": 0}))
        .await;
    client
        .get(&format!("{pods}/bound"))
        .await
        .expect_status(404);
}

#[tokio::test]
async fn binding_assigns_a_node_once() {
    let server = TestServer::start().await;
    let client = server.client();
    let pods = "/api/v1/namespaces/default/pods";
    client.post(pods, &json!({"metadata": {"name": "b"}, "spec": {"containers": [{"name": "c", "image": "i"}]}})).await;
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "b"}, "target": {"kind": "Node", "name": "n1"}});
    let reply = client.post(&format!("{pods}/b/binding"), &binding).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(reply.json()["status"], "Success");
    assert_eq!(
        client.get(&format!("{pods}/b")).await.json()["spec"]["nodeName"],
        "n1"
    );
    let again = client.post(&format!("{pods}/b/binding"), &binding).await;
    assert!(
        again
            .expect_status(409)
            .contains("is already assigned to node \"n1\"")
    );
    let eviction = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "b"}, "deleteOptions": {"gracePeriodSeconds": 0}});
    assert_eq!(
        client
            .post(&format!("{pods}/b/eviction"), &eviction)
            .await
            .status,
        201
    );
    client.get(&format!("{pods}/b")).await.expect_status(404);
}

#[tokio::test]
async fn namespace_lifecycle_and_termination() {
    let server = TestServer::start().await;
    let client = server.client();
    let missing = client
        .post("/apis/batch/v1/namespaces/absent/jobs", &job("j", "absent"))
        .await;
    assert_eq!(
        missing.expect_status(404),
        "namespaces \"absent\" not found"
    );
    assert_eq!(
        client
            .post("/api/v1/namespaces", &namespace("doomed"))
            .await
            .status,
        201
    );
    let created = client.get("/api/v1/namespaces/doomed").await.json();
    assert_eq!(created["status"]["phase"], "Active");
    assert_eq!(created["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(
        created["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "doomed"
    );
    assert_eq!(
        client
            .get("/api/v1/namespaces/doomed/serviceaccounts/default")
            .await
            .status,
        200
    );
    client
        .post("/apis/batch/v1/namespaces/doomed/jobs", &job("j", "doomed"))
        .await;
    let listed = client.get("/api/v1/namespaces").await.json();
    let rv = listed["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let watch = format!(
        "/api/v1/namespaces?watch=true&fieldSelector=metadata.name%3Ddoomed&resourceVersion={rv}"
    );
    let mut frames = FrameReader::new(
        client
            .send(
                http::Method::GET,
                &watch,
                &[("accept", "application/json")],
                Vec::new(),
            )
            .await,
    );
    let deleting = client
        .delete("/api/v1/namespaces/doomed", &json!({}))
        .await
        .json();
    assert_eq!(deleting["status"]["phase"], "Terminating");
    let reply = client
        .post("/apis/batch/v1/namespaces/doomed/jobs", &job("k", "doomed"))
        .await;
    let message = reply.status.as_u16();
    assert!(message == 403 || message == 404, "{}", reply.text());
    loop {
        let event = frames
            .next(Duration::from_secs(20))
            .await
            .expect("namespace watch open");
        if event["type"] == "DELETED" {
            break;
        }
    }
    client
        .get("/api/v1/namespaces/doomed")
        .await
        .expect_status(404);
    client
        .get("/apis/batch/v1/namespaces/doomed/jobs/j")
        .await
        .expect_status(404);
}

#[tokio::test]
async fn immortal_namespaces_cannot_be_deleted() {
    let server = TestServer::start().await;
    let reply = server
        .client()
        .delete("/api/v1/namespaces/default", &json!({}))
        .await;
    assert_eq!(
        reply.expect_status(403),
        "namespaces \"default\" is forbidden: this namespace may not be deleted"
    );
}

#[tokio::test]
async fn reviews_answer_allowed() {
    let server = TestServer::start().await;
    let client = server.client();
    let review = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "create", "group": "batch", "resource": "jobs", "namespace": "default"}}});
    let reply = client
        .post(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            &review,
        )
        .await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.json()["status"]["allowed"], true);
    let whoami = client
        .post(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            &json!({}),
        )
        .await
        .json();
    assert_eq!(whoami["status"]["userInfo"]["username"], "admin");
}

#[tokio::test]
async fn events_v1_is_a_view_of_core_events() {
    let server = TestServer::start().await;
    let client = server.client();
    let event = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e1"},
        "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "test", "reportingInstance": "t1",
        "action": "Testing", "reason": "Tested", "regarding": {"kind": "Job", "name": "j", "namespace": "default"}, "note": "hello", "type": "Normal"});
    let reply = client
        .post("/apis/events.k8s.io/v1/namespaces/default/events", &event)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(reply.json()["note"], "hello");
    let core = client
        .get("/api/v1/namespaces/default/events/e1")
        .await
        .json();
    assert_eq!(core["message"], "hello");
    assert_eq!(core["involvedObject"]["name"], "j");
    let selected = client.get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dj,involvedObject.kind%3DJob").await.json();
    assert_eq!(selected["items"].as_array().unwrap().len(), 1);
}
