//! Goal (issue 8, guard 7, end to end): with a real slow HTTPS admission webhook in front
//! of pod creation and `corral up` (profile `corral`), the webhook breaker opens after
//! repeated timeouts, later pods are created promptly instead of waiting out the timeout,
//! and kubectl shows the breaker's state (`kubectl get webhookbreakers`) and its Warning
//! event. Under `--profile upstream` every creation waits for the timeout.
//!
//! Method: a Python HTTPS server (self-signed certificate made with `openssl`, handed to
//! the configuration as its caBundle) that answers every AdmissionReview after 5 s; the
//! webhook's `timeoutSeconds` is 1 and its failurePolicy Ignore. Pods are created one by
//! one with kubectl and timed (the timing is compared with the webhook timeout with a wide
//! margin, not asserted as a performance figure). Skipped without kubectl, python3 or
//! openssl.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{Corral, have_kubectl};

const SERVER: &str = r#"
import base64, json, ssl, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(5)
        answer = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                  "response": {"uid": body["request"]["uid"], "allowed": True}}
        data = json.dumps(answer).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except Exception:
            pass
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

struct SlowWebhook {
    child: Child,
    port: u16,
    ca_bundle: String,
}

impl Drop for SlowWebhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

fn slow_webhook(dir: &std::path::Path) -> SlowWebhook {
    let cert = dir.join("webhook.crt");
    let key = dir.join("webhook.key");
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        // An end-entity certificate (its own trust anchor): rustls, like Go, refuses a CA
        // certificate as a server's identity.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl made a certificate");
    let script = dir.join("webhook.py");
    std::fs::write(&script, SERVER).unwrap();
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(&cert)
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let port = line.trim().parse().expect("the webhook prints its port");
    SlowWebhook {
        child,
        port,
        ca_bundle: base64::engine::general_purpose::STANDARD.encode(std::fs::read(&cert).unwrap()),
    }
}

fn configuration(webhook: &SlowWebhook) -> String {
    format!(
        r#"
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {{name: slow}}
webhooks:
- name: slow.example.com
  admissionReviewVersions: ["v1"]
  sideEffects: None
  failurePolicy: Ignore
  timeoutSeconds: 1
  clientConfig:
    url: https://127.0.0.1:{}/mutate
    caBundle: {}
  namespaceSelector:
    matchLabels: {{webhook: slow}}
  rules:
  - {{apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}}
"#,
        webhook.port, webhook.ca_bundle
    )
}

/// Creates pod `name` (in the webhook's namespace) and returns how long kubectl took.
fn create_pod(corral: &Corral, name: &str) -> Duration {
    let started = Instant::now();
    corral.ok(&[
        "run",
        name,
        "-n",
        "hooked",
        "--image=busybox",
        "--restart=Never",
        "--",
        "true",
    ]);
    started.elapsed()
}

fn setup(corral: &Corral, webhook: &SlowWebhook) {
    corral.ok(&["create", "namespace", "hooked"]);
    corral.ok(&["label", "namespace", "hooked", "webhook=slow"]);
    corral.apply(&configuration(webhook));
}

#[test]
fn the_breaker_opens_and_pods_are_created_promptly() {
    if !have_kubectl() || !have("python3") || !have("openssl") {
        eprintln!("skipped: needs kubectl, python3 and openssl");
        return;
    }
    let corral = Corral::start(&["--in-memory"]);
    let webhook = slow_webhook(corral.data_dir());
    setup(&corral, &webhook);
    // Five timeouts in a row open the circuit (BreakerConfig::corral).
    for i in 0..5 {
        let took = create_pod(&corral, &format!("slow-{i}"));
        assert!(
            took >= Duration::from_millis(900),
            "pod {i} waited for the webhook's 1 s timeout (took {took:?}); server log:\n{}",
            corral.log()
        );
    }
    let breakers = corral.eventually(
        Duration::from_secs(30),
        &["get", "webhookbreakers"],
        |out| out.contains("Open"),
    );
    assert!(breakers.contains("slow.slow.example.com"), "{breakers}");
    // With the circuit open, an Ignore webhook is skipped: the next pods do not wait.
    let mut fastest = Duration::MAX;
    for i in 0..3 {
        fastest = fastest.min(create_pod(&corral, &format!("fast-{i}")));
    }
    assert!(
        fastest < Duration::from_millis(900),
        "with the circuit open pods are created without waiting (fastest {fastest:?})"
    );
    let events = corral.eventually(
        Duration::from_secs(30),
        &["get", "events", "-A", "--field-selector", "type=Warning"],
        |out| out.contains("WebhookCircuitOpen"),
    );
    assert!(events.contains("slow"), "{events}");
    let metrics = corral.ok(&["get", "--raw", "/metrics"]);
    assert!(
        metrics.contains("corral_webhook_breaker_state"),
        "breaker metrics are exported"
    );
}

#[test]
fn upstream_profile_waits_for_every_timeout() {
    if !have_kubectl() || !have("python3") || !have("openssl") {
        eprintln!("skipped: needs kubectl, python3 and openssl");
        return;
    }
    let corral = Corral::start(&["--in-memory", "--profile", "upstream", "--no-node"]);
    let webhook = slow_webhook(corral.data_dir());
    setup(&corral, &webhook);
    for i in 0..7 {
        let took = create_pod(&corral, &format!("slow-{i}"));
        assert!(
            took >= Duration::from_millis(900),
            "upstream calls the webhook every time (pod {i} took {took:?})"
        );
    }
}
