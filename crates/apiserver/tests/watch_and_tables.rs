//! Goal: watches and Tables behave as `kubectl get`, `get -w`, `wait` and `delete --wait`
//! expect: synthetic ADDED on rv=0, resume from a revision, 410 as an ERROR event,
//! `timeoutSeconds`, Table events, Table columns and `includeObject`, `limit`/`continue`.
//! Method: a real server over HTTPS; watches are read frame by frame with a bound per
//! frame (no sleeps).

mod common;

use std::time::Duration;

use common::{FrameReader, JOBS, JSON, TABLE, TestServer, job};
use http::Method;
use serde_json::json;

const FRAME: Duration = Duration::from_secs(10);

#[tokio::test]
async fn watch_from_zero_starts_with_synthetic_added_events() {
    let server = TestServer::start().await;
    let client = server.client();
    client.post(JOBS, &job("a", "default")).await;
    client.post(JOBS, &job("b", "default")).await;
    let response = client
        .send(
            Method::GET,
            &format!("{JOBS}?watch=true&resourceVersion=0"),
            &[("accept", JSON)],
            Vec::new(),
        )
        .await;
    assert_eq!(response.status(), 200);
    let mut frames = FrameReader::new(response);
    let first = frames.next(FRAME).await.unwrap();
    let second = frames.next(FRAME).await.unwrap();
    assert_eq!(
        (first["type"].as_str(), second["type"].as_str()),
        (Some("ADDED"), Some("ADDED"))
    );
    client
        .patch(
            &format!("{JOBS}/a"),
            "application/merge-patch+json",
            r#"{"metadata":{"labels":{"x":"1"}}}"#,
        )
        .await;
    let modified = frames.next(FRAME).await.unwrap();
    assert_eq!(modified["type"], "MODIFIED");
    assert_eq!(modified["object"]["metadata"]["labels"]["x"], "1");
    client
        .delete(
            &format!("{JOBS}/a"),
            &json!({"propagationPolicy": "Background"}),
        )
        .await;
    let deleted = frames.next(FRAME).await.unwrap();
    assert_eq!(deleted["type"], "DELETED");
    assert_eq!(deleted["object"]["metadata"]["name"], "a");
}

#[tokio::test]
async fn watch_resumes_after_a_revision_with_a_name_selector() {
    let server = TestServer::start().await;
    let client = server.client();
    client.post(JOBS, &job("w", "default")).await;
    let list = client
        .get(&format!(
            "{JOBS}?fieldSelector=metadata.name%3Dw&resourceVersion=0&limit=500"
        ))
        .await
        .json();
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    client.post(JOBS, &job("other", "default")).await;
    let path = format!(
        "{JOBS}?allowWatchBookmarks=true&fieldSelector=metadata.name%3Dw&resourceVersion={rv}&timeoutSeconds=300&watch=true"
    );
    let mut frames = FrameReader::new(
        client
            .send(Method::GET, &path, &[("accept", JSON)], Vec::new())
            .await,
    );
    client
        .delete(
            &format!("{JOBS}/w"),
            &json!({"propagationPolicy": "Background"}),
        )
        .await;
    let event = frames.next(FRAME).await.unwrap();
    assert_eq!(
        event["type"], "DELETED",
        "only the named object, only changes after rv: {event}"
    );
}

#[tokio::test]
async fn watch_from_a_compacted_revision_is_a_410_error_event() {
    let config = corral_store::StoreConfig {
        history_revisions: 3,
        ..Default::default()
    };
    let server = TestServer::start_with(config, |_| {}).await;
    let client = server.client();
    for i in 0..8 {
        client.post(JOBS, &job(&format!("j{i}"), "default")).await;
    }
    let mut frames = FrameReader::new(
        client
            .send(
                Method::GET,
                &format!("{JOBS}?watch=1&resourceVersion=2"),
                &[("accept", JSON)],
                Vec::new(),
            )
            .await,
    );
    let error = frames.next(FRAME).await.unwrap();
    assert_eq!(error["type"], "ERROR");
    assert_eq!(error["object"]["code"], 410);
    assert_eq!(error["object"]["reason"], "Expired");
    assert!(
        error["object"]["message"]
            .as_str()
            .unwrap()
            .starts_with("too old resource version: 2 (")
    );
    assert!(
        frames.next(FRAME).await.is_none(),
        "the stream ends after the error"
    );
}

#[tokio::test]
async fn watch_timeout_closes_the_stream() {
    let server = TestServer::start().await;
    let client = server.client();
    let list = client.get(JOBS).await.json();
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("{JOBS}?watch=true&resourceVersion={rv}&timeoutSeconds=1");
    let mut frames = FrameReader::new(
        client
            .send(Method::GET, &path, &[("accept", JSON)], Vec::new())
            .await,
    );
    assert!(frames.next(Duration::from_secs(10)).await.is_none());
}

#[tokio::test]
async fn table_watch_events_over_http2() {
    let server = TestServer::start().await;
    let client = server.client_h2();
    client.post(JOBS, &job("t", "default")).await;
    let table = client.get_accept(JOBS, TABLE).await.json();
    let rv = table["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("{JOBS}?resourceVersion={rv}&watch=true");
    let mut frames = FrameReader::new(
        client
            .send(Method::GET, &path, &[("accept", TABLE)], Vec::new())
            .await,
    );
    client.post(JOBS, &job("u", "default")).await;
    let event = frames.next(FRAME).await.unwrap();
    assert_eq!(event["type"], "ADDED");
    assert_eq!(event["object"]["kind"], "Table");
    assert_eq!(event["object"]["rows"][0]["cells"][0], "u");
    assert_eq!(event["object"]["columnDefinitions"][0]["name"], "Name");
}

#[tokio::test]
async fn job_tables_have_upstream_columns_and_row_metadata() {
    let server = TestServer::start().await;
    let client = server.client();
    client.post(JOBS, &job("tbl", "default")).await;
    let table = client
        .get_accept(&format!("{JOBS}?limit=500"), TABLE)
        .await
        .json();
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        [
            "Name",
            "Status",
            "Completions",
            "Duration",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    let row = &table["rows"][0];
    assert_eq!(row["cells"][0], "tbl");
    assert_eq!(row["cells"][2], "0/1");
    assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(row["object"]["metadata"]["labels"]["app"], "test");
    let full = client
        .get_accept(&format!("{JOBS}?includeObject=Object"), TABLE)
        .await
        .json();
    assert_eq!(full["rows"][0]["object"]["kind"], "Job");
    let none = client
        .get_accept(&format!("{JOBS}?includeObject=None"), TABLE)
        .await
        .json();
    assert!(none["rows"][0].get("object").is_none());
    let single = client
        .get_accept(&format!("{JOBS}/tbl"), TABLE)
        .await
        .json();
    assert_eq!(single["rows"].as_array().unwrap().len(), 1);
    let namespaces = client.get_accept("/api/v1/namespaces", TABLE).await.json();
    let ns_columns: Vec<&str> = namespaces["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(ns_columns, ["Name", "Status", "Age"]);
}

#[tokio::test]
async fn limit_and_continue_page_through_a_list() {
    let server = TestServer::start().await;
    let client = server.client();
    for i in 0..5 {
        client
            .post(JOBS, &job(&format!("page-{i}"), "default"))
            .await;
    }
    let mut names = Vec::new();
    let mut path = format!("{JOBS}?limit=2");
    let mut revisions = Vec::new();
    for _ in 0..10 {
        let page = client.get(&path).await.json();
        revisions.push(page["metadata"]["resourceVersion"].clone());
        names.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["metadata"]["name"].as_str().unwrap().to_string()),
        );
        match page["metadata"]["continue"].as_str() {
            Some(token) if !token.is_empty() => path = format!("{JOBS}?limit=2&continue={token}"),
            _ => break,
        }
    }
    assert_eq!(names, ["page-0", "page-1", "page-2", "page-3", "page-4"]);
    assert!(
        revisions.windows(2).all(|w| w[0] == w[1]),
        "every page is read at the first page's revision"
    );
}
