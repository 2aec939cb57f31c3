//! Goal: `GET /corral/snapshot` streams a valid, consistent snapshot of the running store
//! to admins only, over HTTP/1.1 and HTTP/2, and [`download`] (the client of `corral
//! snapshot save`) fetches it with the admin kubeconfig the server wrote.
//!
//! Method: a real server in process (memory store, port 0); objects created over HTTPS;
//! the body is parsed with the store's own snapshot reader and compared with the store.
//! Consistency under writes: a writer creates ConfigMaps while snapshots are taken; every
//! snapshot must pass its checksum and hold no object newer than its revision.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{TestServer, job};
use corral_apiserver::snapshot::{Endpoint, SNAPSHOT_PATH, download};
use corral_store::{SnapshotInfo, StoredObject, read_snapshot};
use serde_json::json;

fn parse(bytes: &[u8]) -> (SnapshotInfo, Vec<StoredObject>) {
    let mut objects = Vec::new();
    let info = read_snapshot(&mut &bytes[..], &mut |object| {
        objects.push(object);
        Ok(())
    })
    .expect("a valid snapshot");
    (info, objects)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_get_a_snapshot_of_every_object_at_the_current_revision() {
    let server = TestServer::start().await;
    let client = server.client();
    for i in 0..20 {
        let reply = client
            .post(common::JOBS, &job(&format!("job-{i}"), "default"))
            .await;
        assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());
    }
    let store = server.service().store();
    let revision = store.current_revision();
    for h2 in [false, true] {
        let client = if h2 {
            server.client_h2()
        } else {
            server.client()
        };
        let reply = client.get(SNAPSHOT_PATH).await;
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.text());
        assert_eq!(
            reply.header("content-type"),
            "application/vnd.corral.snapshot"
        );
        let (info, objects) = parse(&reply.body);
        assert_eq!(info.revision, revision);
        assert_eq!(info.size_bytes as usize, reply.body.len());
        let jobs = objects
            .iter()
            .filter(|o| o.key.kind.plural() == "jobs")
            .count();
        assert_eq!(jobs, 20);
        assert!(
            objects
                .iter()
                .any(|o| o.key.to_string() == "namespaces/kube-system")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_and_non_admin_users_are_refused() {
    let server = TestServer::start().await;
    server
        .anonymous()
        .get(SNAPSHOT_PATH)
        .await
        .expect_status(401);
    let open = TestServer::start_with(Default::default(), |c| c.allow_anonymous = true).await;
    let message = open.anonymous().get(SNAPSHOT_PATH).await.expect_status(403);
    assert!(message.contains("system:anonymous"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_uses_the_admin_kubeconfig_and_snapshots_stay_consistent_under_writes() {
    let server = TestServer::start().await;
    let endpoint = Endpoint::from_kubeconfig(&server.handle.kubeconfig).expect("kubeconfig");
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let client = server.client_h2();
        let writing = Arc::clone(&writing);
        tokio::spawn(async move {
            let mut i = 0;
            while writing.load(Ordering::Relaxed) && i < 2_000 {
                let body = json!({"metadata": {"name": format!("cm-{i}")}, "data": {"k": "v"}});
                client
                    .post("/api/v1/namespaces/default/configmaps", &body)
                    .await;
                i += 1;
            }
            i
        })
    };
    let mut revisions = Vec::new();
    for _ in 0..5 {
        let mut bytes = Vec::new();
        let written = download(&endpoint, &mut bytes).await.expect("download");
        assert_eq!(written as usize, bytes.len());
        let (info, objects) = parse(&bytes);
        assert_eq!(info.object_count as usize, objects.len());
        for object in &objects {
            assert!(
                object.mod_revision <= info.revision,
                "{} at {} is newer than the snapshot's revision {}",
                object.key,
                object.mod_revision,
                info.revision
            );
        }
        revisions.push(info.revision);
    }
    writing.store(false, Ordering::Relaxed);
    let created = writer.await.expect("writer");
    assert!(created > 0);
    assert!(revisions.windows(2).all(|w| w[0] <= w[1]), "{revisions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_kubeconfig_is_reported_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\ncurrent-context: nope\n",
    )
    .unwrap();
    let error = Endpoint::from_kubeconfig(&path).unwrap_err().to_string();
    assert!(
        error.contains("kubeconfig") && error.contains("nope"),
        "{error}"
    );
}
