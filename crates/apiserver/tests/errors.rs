//! Goal: every error is a `Status` JSON with upstream's code, reason and message, and bad
//! input never stores anything.
//! Method: a real server over HTTPS; send each kind of bad request and check the `Status`
//! and that the collection is unchanged afterwards.

mod common;

use common::{JOBS, TestServer, job};
use http::Method;
use serde_json::json;

async fn job_count(client: &common::TestClient) -> usize {
    client.get(JOBS).await.json()["items"]
        .as_array()
        .map_or(0, Vec::len)
}

#[tokio::test]
async fn malformed_bodies_are_400_and_store_nothing() {
    let server = TestServer::start().await;
    let client = server.client();
    for (content_type, body) in [
        ("application/json", &b"{\"kind\":"[..]),
        ("application/json", b"[1,2]"),
        ("application/json", b"\xff\xfe"),
        ("application/yaml", b"a: [unclosed"),
        ("application/json", br#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"x"},"spec":{"parallelism":"many"}}"#),
        ("application/json", br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}}"#),
    ] {
        let reply = client.request(Method::POST, JOBS, &[("content-type", content_type)], body.to_vec()).await;
        reply.expect_status(400);
    }
    assert_eq!(job_count(&client).await, 0);
}

#[tokio::test]
async fn unknown_content_types_are_415() {
    let server = TestServer::start().await;
    let client = server.client();
    let reply = client
        .request(
            Method::POST,
            JOBS,
            &[("content-type", "text/plain")],
            b"hello".to_vec(),
        )
        .await;
    assert!(
        reply
            .expect_status(415)
            .contains("the body of the request was in an unknown format")
    );
    let protobuf = client
        .request(
            Method::POST,
            JOBS,
            &[("content-type", "application/vnd.kubernetes.protobuf")],
            b"k8s\0".to_vec(),
        )
        .await;
    protobuf.expect_status(415);
    assert_eq!(job_count(&client).await, 0);
}

#[tokio::test]
async fn oversize_bodies_are_413() {
    let server = TestServer::start().await;
    let client = server.client();
    let mut body = job("big", "default");
    body["metadata"]["annotations"] = json!({"blob": "x".repeat(3 * 1024 * 1024 + 10)});
    let reply = client.post(JOBS, &body).await;
    assert_eq!(
        reply.expect_status(413),
        "Request entity too large: limit is 3145728"
    );
    assert_eq!(job_count(&client).await, 0);
}

#[tokio::test]
async fn invalid_objects_are_422_with_causes() {
    let server = TestServer::start().await;
    let client = server.client();
    let mut body = job("bad", "default");
    body["spec"]["template"]["spec"]["restartPolicy"] = json!(null);
    let reply = client.post(JOBS, &body).await;
    let message = reply.expect_status(422);
    assert!(
        message.starts_with("Job.batch \"bad\" is invalid: spec.template.spec.restartPolicy"),
        "{message}"
    );
    let status = reply.json();
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(status["details"]["kind"], "Job");
    assert_eq!(
        status["details"]["causes"][0]["field"],
        "spec.template.spec.restartPolicy"
    );
    let unnamed = client.post(JOBS, &json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": []}}}})).await;
    unnamed.expect_status(422);
}

#[tokio::test]
async fn not_found_already_exists_and_method_not_allowed() {
    let server = TestServer::start().await;
    let client = server.client();
    let missing = client.get(&format!("{JOBS}/nope")).await;
    assert_eq!(missing.expect_status(404), "jobs.batch \"nope\" not found");
    let status = missing.json();
    assert_eq!(status["reason"], "NotFound");
    assert_eq!(
        status["details"],
        json!({"name": "nope", "group": "batch", "kind": "jobs"})
    );
    assert_eq!(
        client
            .get("/api/v1/namespaces/default/pods/nope")
            .await
            .expect_status(404),
        "pods \"nope\" not found"
    );
    assert_eq!(
        client
            .get("/apis/batch/v1/namespaces/default/widgets")
            .await
            .expect_status(404),
        "the server could not find the requested resource"
    );
    assert_eq!(
        client.get("/nothing/here").await.expect_status(404),
        "the server could not find the requested resource"
    );
    client.post(JOBS, &job("dup", "default")).await;
    let duplicate = client.post(JOBS, &job("dup", "default")).await;
    assert_eq!(
        duplicate.expect_status(409),
        "jobs.batch \"dup\" already exists"
    );
    assert_eq!(duplicate.json()["reason"], "AlreadyExists");
    let review_get = client
        .get("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
        .await;
    assert_eq!(
        review_get.expect_status(405),
        "the server does not allow this method on the requested resource"
    );
    let mismatch = client.post(JOBS, &job("x", "elsewhere")).await;
    assert_eq!(
        mismatch.expect_status(400),
        "the namespace of the provided object does not match the namespace sent on the request"
    );
}

#[tokio::test]
async fn bad_selectors_and_continue_tokens_are_400() {
    let server = TestServer::start().await;
    let client = server.client();
    assert_eq!(
        client
            .get("/api/v1/pods?fieldSelector=spec.bogus%3D1")
            .await
            .expect_status(400),
        "field label not supported: spec.bogus"
    );
    client
        .get("/api/v1/pods?labelSelector=a%20in%20(")
        .await
        .expect_status(400);
    client
        .get(&format!("{JOBS}?limit=1&continue=not-a-token"))
        .await
        .expect_status(400);
    client
        .get(&format!("{JOBS}?resourceVersion=abc"))
        .await
        .expect_status(400);
    client
        .get(&format!("{JOBS}?watch=perhaps"))
        .await
        .expect_status(400);
}

#[tokio::test]
async fn bad_patches_are_rejected_and_change_nothing() {
    let server = TestServer::start().await;
    let client = server.client();
    let created = client.post(JOBS, &job("p", "default")).await.json();
    let path = format!("{JOBS}/p");
    client
        .patch(&path, "application/merge-patch+json", "{not json")
        .await
        .expect_status(400);
    client
        .patch(&path, "application/json-patch+json", r#"{"op":"add"}"#)
        .await
        .expect_status(400);
    client
        .patch(
            &path,
            "application/json-patch+json",
            r#"[{"op":"remove","path":"/nope"}]"#,
        )
        .await
        .expect_status(422);
    client
        .patch(
            &path,
            "application/strategic-merge-patch+json",
            r#"{"$patch":"explode"}"#,
        )
        .await
        .expect_status(422);
    client
        .patch(
            &path,
            "application/merge-patch+json",
            r#"{"spec":{"parallelism":"x"}}"#,
        )
        .await
        .expect_status(400);
    client
        .patch(
            &path,
            "application/merge-patch+json",
            r#"{"metadata":{"name":"renamed"}}"#,
        )
        .await
        .expect_status(400);
    client
        .patch(
            "/apis/batch/v1/namespaces/default/jobs/ghost",
            "application/merge-patch+json",
            "{}",
        )
        .await
        .expect_status(404);
    let after = client.get(&path).await.json();
    assert_eq!(
        after["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );
}

#[tokio::test]
async fn anonymous_requests_are_401_unless_allowed() {
    let server = TestServer::start().await;
    let reply = server.anonymous().get(JOBS).await;
    assert_eq!(reply.expect_status(401), "Unauthorized");
    let token = server
        .anonymous()
        .request(
            Method::GET,
            JOBS,
            &[("authorization", "Bearer wrong")],
            Vec::new(),
        )
        .await;
    token.expect_status(401);
    let open = TestServer::start_with(Default::default(), |c| {
        c.allow_anonymous = true;
        c.admin_token = Some("t0ken".into());
    })
    .await;
    assert_eq!(open.anonymous().get(JOBS).await.status, 200);
    let with_token = open
        .anonymous()
        .request(
            Method::GET,
            JOBS,
            &[("authorization", "Bearer t0ken")],
            Vec::new(),
        )
        .await;
    assert_eq!(with_token.status, 200);
}

#[tokio::test]
async fn continue_tokens_past_compaction_are_410() {
    let config = corral_store::StoreConfig {
        history_revisions: 5,
        ..Default::default()
    };
    let server = TestServer::start_with(config, |_| {}).await;
    let client = server.client();
    for i in 0..3 {
        client.post(JOBS, &job(&format!("j{i}"), "default")).await;
    }
    let page = client.get(&format!("{JOBS}?limit=1")).await.json();
    let token = page["metadata"]["continue"].as_str().unwrap().to_string();
    for i in 0..10 {
        client
            .post(
                "/api/v1/namespaces/default/configmaps",
                &json!({"metadata": {"name": format!("c{i}")}}),
            )
            .await;
    }
    let expired = client
        .get(&format!("{JOBS}?limit=1&continue={token}"))
        .await;
    assert!(
        expired
            .expect_status(410)
            .starts_with("The provided continue parameter is too old")
    );
    assert_eq!(expired.json()["reason"], "Expired");
}

/// kubectl ≥ 1.32 sends typed-client bodies (`kubectl create job`, `create role`, …) in
/// protobuf; the body captured from the real kubectl 1.32 creates the Job.
#[tokio::test]
async fn protobuf_bodies_from_kubectl_1_32_are_decoded() {
    let server = TestServer::start().await;
    let client = server.client();
    let body = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../protobuf/testdata/kubectl-1.32/create_job.pb"),
    )
    .expect("captured body");
    let reply = client
        .request(
            Method::POST,
            &format!("{JOBS}?fieldManager=kubectl-create&fieldValidation=Strict"),
            &[
                ("content-type", "application/vnd.kubernetes.protobuf"),
                (
                    "accept",
                    "application/vnd.kubernetes.protobuf, application/json",
                ),
            ],
            body,
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let created = reply.json();
    assert_eq!(created["metadata"]["name"], "hello");
    assert_eq!(
        created["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox"
    );
    assert_eq!(job_count(&client).await, 1);
}
