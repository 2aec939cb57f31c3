//! Goal: the discovery and OpenAPI endpoints answer what kubectl 1.27–1.33 read.
//! Method: a real server over HTTPS; request each endpoint with the `Accept` headers kubectl
//! sends and check the documents and content types.

mod common;

use common::{JSON, TestServer};

const V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
const V2BETA1: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

#[tokio::test]
async fn version_reports_kubernetes_1_32() {
    let server = TestServer::start().await;
    let reply = server.anonymous().get("/version?timeout=5s").await;
    assert_eq!(reply.status, 200);
    let version = reply.json();
    assert_eq!(version["major"], "1");
    assert_eq!(version["minor"], "32");
    assert!(
        version["gitVersion"]
            .as_str()
            .unwrap()
            .starts_with("v1.32.0-corral.")
    );
}

/// OpenAPI-generated clients (the Python `kubernetes` package) ask for `/version/`.
#[tokio::test]
async fn version_is_served_with_a_trailing_slash() {
    let server = TestServer::start().await;
    let reply = server.client().get("/version/").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["minor"], "32");
}

#[tokio::test]
async fn legacy_discovery_lists_versions_groups_and_resources() {
    let server = TestServer::start().await;
    let client = server.client();
    let api = client.get("/api").await.json();
    assert_eq!(api["kind"], "APIVersions");
    assert_eq!(api["versions"][0], "v1");
    let apis = client.get("/apis").await.json();
    assert_eq!(apis["kind"], "APIGroupList");
    let groups: Vec<&str> = apis["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert!(
        groups.contains(&"batch") && groups.contains(&"policy"),
        "{groups:?}"
    );
    let batch = client.get("/apis/batch").await.json();
    assert_eq!(batch["preferredVersion"]["groupVersion"], "batch/v1");
    let core = client.get("/api/v1").await.json();
    let eviction = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "pods/eviction")
        .unwrap();
    assert_eq!(
        (eviction["group"].as_str(), eviction["version"].as_str()),
        (Some("policy"), Some("v1"))
    );
    let batch_v1 = client.get("/apis/batch/v1?timeout=32s").await.json();
    assert_eq!(batch_v1["groupVersion"], "batch/v1");
    let cronjobs = batch_v1["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "cronjobs")
        .unwrap();
    assert_eq!(cronjobs["shortNames"][0], "cj");
    assert_eq!(
        client.get("/apis/nope/v1").await.expect_status(404),
        "the server could not find the requested resource"
    );
}

#[tokio::test]
async fn aggregated_discovery_answers_only_the_accepted_version() {
    let server = TestServer::start().await;
    let client = server.client();
    let v2 = client.get_accept("/apis", V2).await;
    assert_eq!(
        v2.header("content-type"),
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    assert_eq!(v2.json()["apiVersion"], "apidiscovery.k8s.io/v2");
    let v2beta1 = client.get_accept("/api", V2BETA1).await;
    assert_eq!(
        v2beta1.header("content-type"),
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
    );
    let body = v2beta1.json();
    assert_eq!(body["apiVersion"], "apidiscovery.k8s.io/v2beta1");
    let pods = body["items"][0]["versions"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "pods")
        .unwrap();
    let eviction = pods["subresources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["subresource"] == "eviction")
        .unwrap();
    assert_eq!(eviction["responseKind"]["group"], "policy");
    let legacy = client.get_accept("/api", JSON).await;
    assert_eq!(legacy.json()["kind"], "APIVersions");
}

#[tokio::test]
async fn discovery_works_over_http2() {
    let server = TestServer::start().await;
    let reply = server.client_h2().get_accept("/apis", V2).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["kind"], "APIGroupDiscoveryList");
}

#[tokio::test]
async fn openapi_v3_index_and_documents_satisfy_kubectls_verifier() {
    let server = TestServer::start().await;
    let client = server.client();
    let index = client.get("/openapi/v3?timeout=32s").await.json();
    let url = index["paths"]["apis/batch/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(url.starts_with("/openapi/v3/apis/batch/v1?hash="), "{url}");
    let document = client.get(&format!("{url}&timeout=32s")).await;
    assert_eq!(document.header("cache-control"), "public, immutable");
    let document = document.json();
    let patch = &document["paths"]["/apis/batch/v1/namespaces/{namespace}/jobs/{name}"]["patch"];
    assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Job");
    assert!(
        patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
    );
    assert!(client.get("/openapi/v3/api/v1").await.json()["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"].is_object());
    client
        .get("/openapi/v3/apis/nope/v1")
        .await
        .expect_status(404);
}

#[tokio::test]
async fn openapi_v2_is_an_empty_protobuf_document() {
    let server = TestServer::start().await;
    let reply = server
        .client()
        .get_accept(
            "/openapi/v2?timeout=32s",
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    );
    assert!(reply.body.is_empty());
}

#[tokio::test]
async fn health_endpoints_are_public_and_verbose_on_request() {
    let server = TestServer::start().await;
    let anonymous = server.anonymous();
    assert_eq!(anonymous.get("/readyz").await.text(), "ok");
    let verbose = anonymous.get("/readyz?verbose").await.text();
    assert!(
        verbose.contains("[+]ping ok")
            && verbose.contains("[+]etcd ok")
            && verbose.ends_with("readyz check passed\n"),
        "{verbose}"
    );
    assert_eq!(anonymous.get("/livez/ping").await.text(), "ok");
    assert_eq!(
        anonymous.get("/api").await.expect_status(401),
        "Unauthorized"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_verb_resource_and_code() {
    let server = TestServer::start().await;
    let client = server.client();
    client.get(common::JOBS).await;
    client
        .get("/apis/batch/v1/namespaces/default/jobs/missing")
        .await;
    let text = client.get("/metrics").await.text();
    assert!(
        text.contains("apiserver_request_total{verb=\"list\",resource=\"jobs\",code=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("apiserver_request_total{verb=\"get\",resource=\"jobs\",code=\"404\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("apiserver_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("apiserver_registered_watchers"), "{text}");
    assert!(text.contains("apiserver_storage_objects"), "{text}");
}
