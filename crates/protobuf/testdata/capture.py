#!/usr/bin/env python3
"""Captures the protobuf request bodies real kubectl binaries send, as test fixtures.

One-off tool (not run by CI): starts a tiny fake API server on 127.0.0.1 that answers
discovery and the few GETs kubectl needs, points a throwaway kubeconfig at it over
plain http, runs each command below with kubectl 1.32 and 1.33, and writes

  testdata/kubectl-<version>/<name>.pb    the body of the protobuf request (k8s\\0 envelope)
  testdata/kubectl-<version>/<name>.json  what the same kubectl prints for the same object
                                          with --dry-run=client -o json (when it can)

The .json files are Go's encoding/json of the very Go object whose protobuf is in the
.pb file, i.e. exactly what kubectl <= 1.31 sent as a JSON body; tests/kubectl_fixtures.rs
asserts that corral_protobuf::decode(.pb) equals it.

`create job --from=cronjob/cj` copies the CronJob's jobTemplate verbatim, which makes it
a probe for the whole PodTemplateSpec tree: testdata/kitchen-sink/cronjob-zero.json sets
every field of that tree to its zero value, cronjob-absent.json leaves every scalar out
(both generated from the vendored protos); comparing what survives into kubectl's JSON
told which Go fields are pointers or lack omitempty (src/presence.rs).

Usage: python3 testdata/capture.py [kubectl-dir]   (default: the directory of the
kubectl on PATH, which on this image holds kubectl.1.27 ... kubectl.1.33)
"""
import http.server, json, os, shutil, subprocess, sys, tempfile, threading

HERE = os.path.dirname(os.path.abspath(__file__))
SINK = os.path.join(HERE, "kitchen-sink")
VERSIONS = ["1.32", "1.33"]

RESOURCES = {
    "/api/v1": [
        ("namespaces", "Namespace", False), ("pods", "Pod", True), ("nodes", "Node", False),
        ("serviceaccounts", "ServiceAccount", True), ("configmaps", "ConfigMap", True),
        ("secrets", "Secret", True), ("resourcequotas", "ResourceQuota", True),
        ("services", "Service", True), ("persistentvolumeclaims", "PersistentVolumeClaim", True),
    ],
    "/apis/batch/v1": [("jobs", "Job", True), ("cronjobs", "CronJob", True)],
    "/apis/authorization.k8s.io/v1": [
        ("selfsubjectaccessreviews", "SelfSubjectAccessReview", False),
        ("selfsubjectrulesreviews", "SelfSubjectRulesReview", False),
    ],
    "/apis/authentication.k8s.io/v1": [("selfsubjectreviews", "SelfSubjectReview", False)],
    "/apis/policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
}
SUBRESOURCES = [
    {"name": "pods/eviction", "namespaced": True, "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]},
    {"name": "serviceaccounts/token", "namespaced": True, "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest", "verbs": ["create"]},
]
NODE = {"kind": "Node", "apiVersion": "v1", "metadata": {"name": "n1", "uid": "11111111-1111-1111-1111-111111111111", "resourceVersion": "5"}, "spec": {}, "status": {}}
POD = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p1", "namespace": "default", "uid": "22222222-2222-2222-2222-222222222222", "resourceVersion": "7"},
       "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}, "status": {"phase": "Running"}}


class State:
    cronjob_file = os.path.join(SINK, "cronjob-typical.json")
    bodies = []
    pod_deleted = False


def resource_list(path):
    group_version = path[len("/apis/"):] if path.startswith("/apis/") else "v1"
    resources = [{"name": n, "singularName": n[:-1], "namespaced": ns, "kind": k, "verbs": ["create", "delete", "get", "list", "patch"]}
                 for n, k, ns in RESOURCES[path]]
    if path == "/api/v1":
        resources += SUBRESOURCES
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?")[0]
        if body and "protobuf" in (self.headers.get("Content-Type") or ""):
            State.bodies.append(body)
        if path == "/version":
            return self.reply(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.1"})
        if path == "/api":
            return self.reply(200, {"kind": "APIVersions", "versions": ["v1"]})
        if path == "/apis":
            groups = [p[len("/apis/"):].split("/")[0] for p in RESOURCES if p.startswith("/apis/")]
            return self.reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": g + "/v1", "version": "v1"}],
                 "preferredVersion": {"groupVersion": g + "/v1", "version": "v1"}} for g in groups]})
        if path in RESOURCES and self.command == "GET":
            return self.reply(200, resource_list(path))
        if self.command == "GET" and path.endswith("/cronjobs/cj"):
            with open(State.cronjob_file) as f:
                return self.reply(200, json.load(f))
        if path == "/api/v1/nodes/n1" and self.command in ("GET", "PATCH"):
            return self.reply(200, NODE)
        if self.command == "GET" and path == "/api/v1/pods":
            return self.reply(200, {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "9"}, "items": [POD]})
        if self.command == "GET" and path == "/api/v1/namespaces/default/pods/p1" and not State.pod_deleted:
            return self.reply(200, POD)
        if self.command == "DELETE":
            State.pod_deleted = True
            return self.reply(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})
        if self.command == "POST":
            if path.endswith("selfsubjectaccessreviews"):
                return self.reply(201, {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "spec": {}, "status": {"allowed": True}})
            if path.endswith("selfsubjectrulesreviews"):
                return self.reply(201, {"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1", "spec": {},
                                        "status": {"resourceRules": [], "nonResourceRules": [], "incomplete": False}})
            if path.endswith("selfsubjectreviews"):
                return self.reply(201, {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1", "status": {"userInfo": {"username": "admin"}}})
            if path.endswith("/token"):
                return self.reply(201, {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "spec": {"audiences": None},
                                        "status": {"token": "t", "expirationTimestamp": "2030-01-01T00:00:00Z"}})
            return self.reply(201, {"metadata": {"name": "x", "namespace": "default"}})
        return self.reply(404, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": "not found", "reason": "NotFound", "code": 404})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any


# (name, cronjob served, args, also ask for --dry-run=client -o json)
COMMANDS = [
    ("create_job", None, ["create", "job", "hello", "--image=busybox"], True),
    ("create_job_command", None, ["create", "job", "hello", "--image=busybox:1.36", "--", "sh", "-c", "echo hi"], True),
    ("create_job_from_cronjob", "cronjob-typical.json", ["create", "job", "manual-1", "--from=cronjob/cj"], True),
    ("create_job_from_zero_cronjob", "cronjob-zero.json", ["create", "job", "zero", "--from=cronjob/cj"], True),
    ("create_job_from_absent_cronjob", "cronjob-absent.json", ["create", "job", "absent", "--from=cronjob/cj"], True),
    ("create_cronjob", None, ["create", "cronjob", "cj", "--image=busybox", "--schedule=*/1 * * * *", "--restart=OnFailure", "--", "date"], True),
    ("create_namespace", None, ["create", "namespace", "ns1"], True),
    ("create_serviceaccount", None, ["create", "serviceaccount", "sa1"], True),
    ("create_quota", None, ["create", "quota", "q", "--hard=cpu=1,memory=1G,pods=2,count/jobs.batch=5", "--scopes=NotTerminating"], True),
    ("create_configmap", None, ["create", "configmap", "cm", "--from-literal=a=b", "--from-literal=c=d"], True),
    ("create_secret_generic", None, ["create", "secret", "generic", "s", "--from-literal=a=b", "--from-literal=empty=", "--type=Opaque"], True),
    ("create_secret_docker_registry", None, ["create", "secret", "docker-registry", "reg", "--docker-server=r.example", "--docker-username=u", "--docker-password=p"], True),
    ("create_service_clusterip", None, ["create", "service", "clusterip", "svc", "--tcp=80:8080"], True),
    ("create_service_nodeport", None, ["create", "service", "nodeport", "np", "--tcp=80:8080", "--node-port=30080"], True),
    ("create_pdb", None, ["create", "pdb", "pdb1", "--selector=app=x", "--min-available=1"], True),
    ("create_token", None, ["create", "token", "sa1"], False),
    ("create_token_audiences", None, ["create", "token", "sa1", "--duration=10m", "--audience=aud1", "--audience=aud2"], False),
    ("auth_can_i_create_jobs", None, ["auth", "can-i", "create", "jobs"], False),
    ("auth_can_i_subresource", None, ["auth", "can-i", "get", "pods", "--subresource=log", "-n", "kube-system"], False),
    ("auth_can_i_non_resource", None, ["auth", "can-i", "get", "/logs"], False),
    ("auth_can_i_list", None, ["auth", "can-i", "--list", "-n", "default"], False),
    ("auth_whoami", None, ["auth", "whoami"], False),
    ("drain_delete_options", None, ["drain", "n1", "--disable-eviction", "--force", "--grace-period=0", "--timeout=5s"], False),
    ("debug_node", None, ["debug", "node/n1", "--image=busybox", "--profile=general"], False),
]


def run(kubectl, env, args):
    return subprocess.run([kubectl, *args], env=env, capture_output=True, text=True, timeout=60)


def main():
    kubectl_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.realpath(shutil.which("kubectl")))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    tmp = tempfile.mkdtemp()
    kubeconfig = os.path.join(tmp, "kubeconfig")
    with open(kubeconfig, "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
clusters:
- cluster: {{server: "http://127.0.0.1:{port}"}}
  name: c
contexts:
- context: {{cluster: c, user: u, namespace: default}}
  name: c
current-context: c
users:
- name: u
  user: {{token: t}}
""")
    env = dict(os.environ, KUBECONFIG=kubeconfig, HOME=tmp, KUBECACHEDIR=os.path.join(tmp, "cache"))
    for version in VERSIONS:
        kubectl = os.path.join(kubectl_dir, f"kubectl.{version}")
        out_dir = os.path.join(HERE, f"kubectl-{version}")
        os.makedirs(out_dir, exist_ok=True)
        for name, cronjob, args, dry_run_json in COMMANDS:
            State.cronjob_file = os.path.join(SINK, cronjob or "cronjob-typical.json")
            State.bodies = []
            State.pod_deleted = False
            result = run(kubectl, env, args)
            if not State.bodies:
                print(f"{version} {name}: no protobuf body (rc={result.returncode}) {result.stderr.strip()[:200]}")
                continue
            with open(os.path.join(out_dir, name + ".pb"), "wb") as f:
                f.write(State.bodies[-1])
            line = f"{version} {name}: {len(State.bodies[-1])} bytes"
            if dry_run_json:
                # The flags must precede a `--` that starts the container command.
                split = args.index("--") if "--" in args else len(args)
                printed = run(kubectl, env, [*args[:split], "--dry-run=client", "-o", "json", *args[split:]])
                if printed.returncode == 0:
                    with open(os.path.join(out_dir, name + ".json"), "w") as f:
                        f.write(printed.stdout)
                    line += " + json"
                else:
                    line += f" (no json: {printed.stderr.strip()[:120]})"
            print(line)
    server.shutdown()


if __name__ == "__main__":
    main()
