//! A node in "another process": the agent joins a real HTTPS API server with a token
//! (the REST client: list, watch, create, patch, delete over TLS with a CA), and the API
//! server reaches the node's HTTPS log endpoint through `RoutingLogSource`.
//!
//! Method: the API server's own HTTP front (router + TLS accept loop) on loopback with a
//! self-signed certificate; the agent uses `RemoteApi` with that certificate as CA and
//! serves logs on an ephemeral port with the same token.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use corral_agent::agent::LogEndpointConfig;
use corral_agent::{AgentConfig, NodeAgent, RemoteApi, RemoteApiConfig, RoutingLogSource};
use corral_apiserver::discovery::DiscoveryDocuments;
use corral_apiserver::http::auth::StaticTokens;
use corral_apiserver::http::tls::{TlsMaterial, serve, server_config};
use corral_apiserver::http::{HttpShared, HttpState, router};
use corral_apiserver::metrics::Metrics;
use corral_apiserver::openapi::OpenApiDocuments;
use corral_apiserver::ops::HealthState;
use corral_apiserver::service::{LogOptions, UserInfo};
use k8s_openapi::api::core::v1::Node;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

const LIMIT: Duration = Duration::from_secs(30);

struct Server {
    address: SocketAddr,
    ca_pem: String,
    stop: watch::Sender<bool>,
}

async fn https_server(service: corral_apiserver::ApiService, token: &str, node: &str) -> Server {
    let (cert, key) =
        corral_agent::tls::self_signed(&["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let user = UserInfo::new(
        &format!("system:node:{node}"),
        &["system:nodes", "system:authenticated"],
    );
    let shared = HttpShared {
        service,
        authenticator: Arc::new(StaticTokens::new().with(token, user)),
        allow_anonymous: false,
        metrics: Arc::new(Metrics::new()),
        health: Arc::new(HealthState::default()),
        discovery: DiscoveryDocuments::build(&address.to_string()),
        openapi: OpenApiDocuments::build(),
    };
    let material = TlsMaterial {
        certificate_chain_pem: cert.clone(),
        private_key_pem: key,
        client_ca_pem: None,
    };
    let config = server_config(&material).unwrap();
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(serve(
        listener,
        config,
        router(HttpState(Arc::new(shared))),
        stopped,
        Duration::from_secs(1),
    ));
    Server {
        address,
        ca_pem: cert,
        stop,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_joins_over_https_and_serves_logs_through_the_api_server() {
    let token = unique("token");
    let node = unique("remote");
    let logs = Arc::new(RoutingLogSource::new().with_node_token(&token));
    let service = service_with_logs(Arc::clone(&logs));
    let server = https_server(service.clone(), &token, &node).await;

    // A wrong token is refused.
    let bad = RemoteApi::new(&RemoteApiConfig {
        server: format!("https://{}", server.address),
        token: "wrong".into(),
        ca_pem: Some(server.ca_pem.clone()),
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let refused = NodeAgent::start(
        Arc::new(bad),
        AgentConfig::new(&format!("{node}-x"), dir.path().join("x")),
    )
    .await;
    assert!(refused.is_err());

    let api = RemoteApi::shared(&RemoteApiConfig {
        server: format!("https://{}", server.address),
        token: token.clone(),
        ca_pem: Some(server.ca_pem.clone()),
    })
    .unwrap();
    let mut config = AgentConfig::new(&node, dir.path().join("data"));
    config.log_endpoint = Some(LogEndpointConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        token: token.clone(),
    });
    config.shutdown_grace = Duration::from_secs(2);
    let agent = NodeAgent::start(api, config).await.expect("the node joins");
    let port = agent.log_port().unwrap();
    let client = service.client(UserInfo::system("test"));
    let registered: Node = client.get("", &node).await.unwrap();
    let endpoint = registered
        .status
        .unwrap()
        .daemon_endpoints
        .unwrap()
        .kubelet_endpoint
        .unwrap();
    assert_eq!(endpoint.port, i32::from(port));

    let cluster = RemoteCluster {
        client: client.clone(),
        service: service.clone(),
        node: node.clone(),
    };
    let marker = unique("marker");
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "far", "namespace": "default"},
        "spec": {"nodeName": node, "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", "echo hello; sleep 0.3; echo bye"],
                                 "env": [{"name": "CORRAL_TEST_MARKER", "value": marker}]}]}
    });
    let object = corral_api::KubeObject::from_value(corral_api::ResourceKind::Pod, pod).unwrap();
    let outcome = client
        .execute(&corral_core::Action::Create { object })
        .await;
    assert!(!outcome.is_failure(), "{outcome:?}");
    cluster.wait_phase("far", "Running").await;
    let followed = cluster
        .logs(
            "far",
            LogOptions {
                follow: true,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(followed, "hello\nbye\n");
    cluster.wait_phase("far", "Succeeded").await;
    let tail = cluster
        .logs(
            "far",
            LogOptions {
                tail_lines: Some(1),
                timestamps: true,
                ..Default::default()
            },
        )
        .await;
    assert!(tail.ends_with("Z bye\n"), "{tail}");
    let err = corral_apiserver::service::LogSource::open(
        logs.as_ref(),
        &client.get("default", "far").await.unwrap(),
        "main",
        &LogOptions {
            previous: true,
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    assert_eq!(err.code, 400);

    agent.shutdown().await;
    assert!(marked_processes(&marker).is_empty());
    let _ = server.stop.send(true);
}

struct RemoteCluster {
    client: corral_apiserver::ApiClient,
    service: corral_apiserver::ApiService,
    node: String,
}

impl RemoteCluster {
    async fn wait_phase(&self, name: &str, wanted: &str) {
        let deadline = std::time::Instant::now() + LIMIT;
        loop {
            let pod = self
                .client
                .get::<k8s_openapi::api::core::v1::Pod>("default", name)
                .await
                .ok();
            if pod.as_ref().is_some_and(|p| phase(p) == wanted) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "pod {name} on {} never {wanted}: {:?}",
                self.node,
                pod.map(|p| p.status)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn logs(&self, name: &str, options: LogOptions) -> String {
        use futures::StreamExt;
        let target = corral_apiserver::service::Target::object(
            corral_api::resource::resource_of(corral_api::ResourceKind::Pod),
            Some("default"),
            name,
        );
        let mut stream = self.service.logs(&target, &options).unwrap();
        let mut out = Vec::new();
        while let Some(chunk) = tokio::time::timeout(LIMIT, stream.next()).await.unwrap() {
            out.extend_from_slice(&chunk.unwrap());
        }
        String::from_utf8(out).unwrap()
    }
}
