//! Goal: kubectl's wider surface (beyond the shared smoke script) works against the real
//! `corral up` with its local node: describe with events for job, cronjob, pod, node and
//! namespace; watches; the three patch types; label/annotate; edit and replace; explain;
//! `auth can-i` (also `--list` and for a ServiceAccount's token under RBAC); the typed-client
//! generators that kubectl ≥ 1.32 sends in protobuf (`create cronjob`, `create job
//! --from=cronjob/…`, `create role`/`rolebinding`, `create token`); and deletion with every
//! cascade mode plus `wait --for=delete`.
//!
//! Method: one `corral up --port 0 --data-dir <tmp>` (one server, one local node agent),
//! the machine's kubectl; the checks run in order in one test because they share the
//! server's single node. Every wait is bounded (kubectl `--timeout`, or polling with a
//! deadline). Skips (with a message) when kubectl is not installed, unless
//! `CORRAL_REQUIRE_KUBECTL` is set.

mod common;
mod e2e;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::{Corral, bundled, kubectl};
use e2e::{fails, log_tail, poll, wait_ready_node, write};

const NS: &str = "surface";

/// A Job that prints a line and succeeds.
fn job(name: &str) -> String {
    format!(
        "apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  namespace: {NS}
  labels: {{app: surface}}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox:1.36
        command: [\"sh\", \"-c\", \"echo {name}-ran\"]
"
    )
}

const CRONJOB: &str = "apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
  namespace: surface
spec:
  schedule: \"0 3 * * *\"
  suspend: true
  jobTemplate:
    spec:
      backoffLimit: 1
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: busybox:1.36
            command: [\"sh\", \"-c\", \"echo nightly-ran\"]
            env:
            - {name: A, value: \"1\"}
            - {name: B, value: \"2\"}
";

fn wait_complete(corral: &Corral, job: &str) {
    corral.ok(&[
        "wait",
        "--for=condition=complete",
        &format!("job/{job}"),
        "-n",
        NS,
        "--timeout=90s",
    ]);
}

fn jsonpath(corral: &Corral, object: &str, path: &str) -> String {
    corral.ok(&["get", object, "-n", NS, "-o", &format!("jsonpath={path}")])
}

fn pods_of(corral: &Corral, job: &str) -> Vec<String> {
    corral
        .ok(&[
            "get",
            "pods",
            "-n",
            NS,
            "-l",
            &format!("batch.kubernetes.io/job-name={job}"),
            "-o",
            "name",
        ])
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn kubectl_surface_beyond_the_smoke_script() {
    if !common::have_kubectl() {
        return;
    }
    let started = std::time::Instant::now();
    let corral = Corral::start(&[]);
    assert!(
        wait_ready_node(&corral, Duration::from_secs(60)),
        "`corral up` brought no Ready node within 60 s\n{}",
        log_tail(&corral, 40)
    );
    corral.ok(&["create", "namespace", NS]);
    poll(
        &corral,
        Duration::from_secs(30),
        "the default ServiceAccount",
        || corral.run(&["get", "sa", "default", "-n", NS]).0,
    );

    describe_with_events(&corral);
    watches(&corral);
    patches_labels_and_annotations(&corral);
    edit_and_replace(&corral);
    explain(&corral);
    generators_sent_as_protobuf(&corral);
    generators_with_kubectl_1_27_and_1_33(&corral);
    auth_and_tokens(&corral);
    deletion_cascades(&corral);
    eprintln!("kubectl surface test took {:.0?}", started.elapsed());
}

fn describe_with_events(corral: &Corral) {
    corral.apply(&job("described"));
    wait_complete(corral, "described");
    let describe = corral.ok(&["describe", "job", "described", "-n", NS]);
    for needle in [
        "Name:             described",
        "Pods Statuses:    0 Active (0 Ready) / 1 Succeeded / 0 Failed",
        "Events:",
        "SuccessfulCreate",
        "job-controller",
        "Completed",
    ] {
        assert!(
            describe.contains(needle),
            "describe job lacks {needle:?}:\n{describe}"
        );
    }

    let pod = pods_of(corral, "described")
        .pop()
        .expect("a pod of job described");
    let describe = corral.ok(&["describe", &pod, "-n", NS]);
    for needle in [
        "Status:           Succeeded",
        "Controlled By:  Job/described",
        "Reason:       Completed",
        "Exit Code:    0",
        "Scheduled",
        "default-scheduler",
        "Started",
        "kubelet",
    ] {
        assert!(
            describe.contains(needle),
            "describe pod lacks {needle:?}:\n{describe}"
        );
    }

    corral.apply(CRONJOB);
    let describe = corral.ok(&["describe", "cronjob", "nightly", "-n", NS]);
    for needle in [
        "Schedule:",
        "0 3 * * *",
        "Suspend:                       True",
        "Events:",
    ] {
        assert!(
            describe.contains(needle),
            "describe cronjob lacks {needle:?}:\n{describe}"
        );
    }

    let node = corral.ok(&["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"]);
    let describe = corral.ok(&["describe", "node", &node]);
    for needle in [
        "Conditions:",
        "KubeletReady",
        "Capacity:",
        "Allocatable:",
        "Non-terminated Pods:",
        "Events:",
        "NodeReady",
    ] {
        assert!(
            describe.contains(needle),
            "describe node lacks {needle:?}:\n{describe}"
        );
    }

    let describe = corral.ok(&["describe", "namespace", NS]);
    for needle in [
        "Name:         surface",
        "Status:       Active",
        "No LimitRange resource.",
    ] {
        assert!(
            describe.contains(needle),
            "describe namespace lacks {needle:?}:\n{describe}"
        );
    }

    let events = corral.ok(&[
        "get",
        "events",
        "-n",
        NS,
        "--field-selector",
        "involvedObject.kind=Job,involvedObject.name=described",
    ]);
    assert!(events.contains("SuccessfulCreate"), "{events}");
}

/// Reads lines of a running `kubectl get -w` with a deadline per line.
struct WatchLines {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl WatchLines {
    fn start(corral: &Corral, args: &[&str]) -> WatchLines {
        let mut child = corral
            .command(&kubectl().unwrap(), args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl get -w");
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        WatchLines { child, lines }
    }

    fn next(&self, what: &str) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no watch line for {what} within 20 s"))
    }
}

impl Drop for WatchLines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn watches(corral: &Corral) {
    let list = WatchLines::start(
        corral,
        &["get", "jobs", "-n", NS, "-w", "--request-timeout=60s"],
    );
    assert!(list.next("the header").starts_with("NAME"));
    assert!(list.next("the listed job").starts_with("described "));
    let single = WatchLines::start(
        corral,
        &[
            "get",
            "job",
            "described",
            "-n",
            NS,
            "-w",
            "--request-timeout=60s",
        ],
    );
    assert!(single.next("the header").starts_with("NAME"));
    assert!(single.next("the current state").starts_with("described "));
    let names = WatchLines::start(
        corral,
        &[
            "get",
            "jobs",
            "-n",
            NS,
            "--watch-only",
            "-o",
            "name",
            "--request-timeout=60s",
        ],
    );
    // Let the watches establish before the change they must see.
    std::thread::sleep(Duration::from_millis(700));
    corral.ok(&["label", "job", "described", "-n", NS, "watched=yes"]);
    assert!(list.next("the label change").starts_with("described "));
    assert!(single.next("the label change").starts_with("described "));
    assert_eq!(names.next("the label change"), "job.batch/described");
    corral.apply(&job("watched"));
    let line = list.next("the new job");
    assert!(line.starts_with("watched "), "{line}");
}

fn patches_labels_and_annotations(corral: &Corral) {
    // Strategic merge: the env list merges by name (B kept, C added before the rest).
    corral.ok(&[
        "patch",
        "cronjob",
        "nightly",
        "-n",
        NS,
        "-p",
        r#"{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"main","env":[{"name":"C","value":"3"}]}]}}}}}}"#,
    ]);
    let env = jsonpath(
        corral,
        "cronjob/nightly",
        "{.spec.jobTemplate.spec.template.spec.containers[0].env[*].name}",
    );
    assert_eq!(env, "C A B");
    // Merge patch replaces the list wholesale.
    corral.ok(&[
        "patch",
        "cronjob",
        "nightly",
        "-n",
        NS,
        "--type=merge",
        "-p",
        r#"{"spec":{"schedule":"30 4 * * *","jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"main","image":"busybox:1.36","env":[{"name":"Z","value":"9"}]}]}}}}}}"#,
    ]);
    assert_eq!(
        jsonpath(
            corral,
            "cronjob/nightly",
            "{.spec.schedule} {.spec.jobTemplate.spec.template.spec.containers[0].env[*].name}"
        ),
        "30 4 * * * Z"
    );
    corral.ok(&[
        "patch",
        "cronjob",
        "nightly",
        "-n",
        NS,
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/schedule","value":"45 5 * * *"},{"op":"test","path":"/spec/suspend","value":true}]"#,
    ]);
    assert_eq!(
        jsonpath(corral, "cronjob/nightly", "{.spec.schedule}"),
        "45 5 * * *"
    );
    let err = fails(
        corral,
        &[
            "patch",
            "cronjob",
            "nightly",
            "-n",
            NS,
            "--type=json",
            "-p",
            r#"[{"op":"test","path":"/spec/suspend","value":false}]"#,
        ],
    );
    assert!(err.contains("test"), "{err}");
    // Status subresource patches leave the spec alone and need --subresource.
    corral.ok(&[
        "patch",
        "cronjob",
        "nightly",
        "-n",
        NS,
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"spec":{"schedule":"1 1 * * *"}}"#,
    ]);
    assert_eq!(
        jsonpath(corral, "cronjob/nightly", "{.spec.schedule}"),
        "45 5 * * *"
    );

    assert!(
        corral
            .ok(&["label", "cronjob", "nightly", "-n", NS, "tier=gold"])
            .contains("cronjob.batch/nightly labeled")
    );
    let err = fails(
        corral,
        &["label", "cronjob", "nightly", "-n", NS, "tier=silver"],
    );
    assert!(err.contains("already has a value (gold)"), "{err}");
    corral.ok(&[
        "label",
        "cronjob",
        "nightly",
        "-n",
        NS,
        "tier=silver",
        "--overwrite",
    ]);
    assert!(
        corral
            .ok(&["label", "cronjob", "nightly", "-n", NS, "tier-"])
            .contains("cronjob.batch/nightly unlabeled")
    );
    assert_eq!(
        jsonpath(corral, "cronjob/nightly", "{.metadata.labels.tier}"),
        ""
    );
    assert!(
        corral
            .ok(&["annotate", "cronjob", "nightly", "-n", NS, "owner=team-a"])
            .contains("cronjob.batch/nightly annotated")
    );
    corral.ok(&[
        "annotate",
        "cronjob",
        "nightly",
        "-n",
        NS,
        "owner=team-b",
        "--overwrite",
    ]);
    assert_eq!(
        jsonpath(corral, "cronjob/nightly", "{.metadata.annotations.owner}"),
        "team-b"
    );
    corral.ok(&["annotate", "cronjob", "nightly", "-n", NS, "owner-"]);
    // Selector-based labelling touches every matching object.
    let out = corral.ok(&["label", "jobs", "-n", NS, "-l", "app=surface", "bulk=1"]);
    assert!(
        out.contains("job.batch/described labeled") && out.contains("job.batch/watched labeled"),
        "{out}"
    );
}

fn edit_and_replace(corral: &Corral) {
    let edit = |args: &[&str], script: &str| {
        let mut command = corral.command(&kubectl().unwrap(), args);
        command.env("KUBE_EDITOR", format!("sed -i -e '{script}'"));
        let out = command.output().expect("kubectl edit runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = edit(
        &["edit", "cronjob", "nightly", "-n", NS],
        "s/schedule: 45 5 \\* \\* \\*/schedule: 15 2 * * */",
    );
    assert!(
        ok && out.contains("cronjob.batch/nightly edited"),
        "{out}{err}"
    );
    assert_eq!(
        jsonpath(corral, "cronjob/nightly", "{.spec.schedule}"),
        "15 2 * * *"
    );
    let (ok, _, err) = edit(&["edit", "cronjob", "nightly", "-n", NS], "s/^nothing$//");
    assert!(
        ok && err.contains("Edit cancelled, no changes made."),
        "{err}"
    );
    // An invalid edit is refused with the server's message, and nothing changes.
    let (ok, _, err) = edit(
        &["edit", "cronjob", "nightly", "-n", NS],
        "s/schedule: 15 2 \\* \\* \\*/schedule: not-a-schedule/",
    );
    assert!(
        !ok && err.contains("cronjobs.batch \"nightly\" is invalid"),
        "{err}"
    );
    assert_eq!(
        jsonpath(corral, "cronjob/nightly", "{.spec.schedule}"),
        "15 2 * * *"
    );

    let current = corral.ok(&["get", "cronjob", "nightly", "-n", NS, "-o", "yaml"]);
    let path = write(
        corral,
        "replace.yaml",
        &current.replace("schedule: 15 2 * * *", "schedule: 20 2 * * *"),
    );
    assert!(
        corral
            .ok(&["replace", "-f", &path])
            .contains("cronjob.batch/nightly replaced")
    );
    // The file's resourceVersion is stale now: a plain replace conflicts.
    let err = fails(corral, &["replace", "-f", &path]);
    assert!(
        err.contains("the object has been modified; please apply your changes to the latest version and try again"),
        "{err}"
    );
    let uid = jsonpath(corral, "cronjob/nightly", "{.metadata.uid}");
    let out = corral.ok(&["replace", "--force", "-f", &path]);
    assert!(
        out.contains("cronjob.batch \"nightly\" deleted")
            && out.contains("cronjob.batch/nightly replaced"),
        "{out}"
    );
    assert_ne!(jsonpath(corral, "cronjob/nightly", "{.metadata.uid}"), uid);
}

fn explain(corral: &Corral) {
    let out = corral.ok(&["explain", "job.spec.template"]);
    assert!(
        out.contains("FIELD: template <PodTemplateSpec>") && out.contains("FIELDS:"),
        "{out}"
    );
    let out = corral.ok(&["explain", "cronjob"]);
    assert!(
        out.contains("KIND:       CronJob") && out.contains("spec\t<CronJobSpec>"),
        "{out}"
    );
    let out = corral.ok(&["explain", "cronjob.spec.schedule"]);
    assert!(out.contains("FIELD: schedule <string>"), "{out}");
    let out = corral.ok(&["explain", "jobs", "--recursive"]);
    assert!(out.contains("backoffLimit\t<integer>"), "{out}");
}

fn generators_sent_as_protobuf(corral: &Corral) {
    assert!(
        corral
            .ok(&[
                "create",
                "cronjob",
                "hourly",
                "-n",
                NS,
                "--image=busybox:1.36",
                "--schedule=0 * * * *",
                "--",
                "sh",
                "-c",
                "echo hourly-ran",
            ])
            .contains("cronjob.batch/hourly created")
    );
    assert!(
        corral
            .ok(&["create", "job", "manual", "-n", NS, "--from=cronjob/hourly"])
            .contains("job.batch/manual created")
    );
    assert_eq!(
        jsonpath(
            corral,
            "job/manual",
            "{.metadata.annotations.cronjob\\.kubernetes\\.io/instantiate} {.metadata.ownerReferences[0].name}"
        ),
        "manual hourly"
    );
    wait_complete(corral, "manual");
    assert_eq!(
        corral.ok(&["logs", "job/manual", "-n", NS]).trim(),
        "hourly-ran"
    );
    let err = fails(
        corral,
        &["create", "job", "x", "-n", NS, "--from=cronjob/absent"],
    );
    assert!(err.contains("cronjobs.batch \"absent\" not found"), "{err}");
    assert!(
        corral
            .ok(&[
                "create",
                "job",
                "imperative",
                "-n",
                NS,
                "--image=busybox:1.36",
                "--",
                "sh",
                "-c",
                "echo imperative-ran",
            ])
            .contains("job.batch/imperative created")
    );
    for (args, expected) in [
        (
            vec!["create", "configmap", "settings", "--from-literal=a=1"],
            "configmap/settings created",
        ),
        (
            vec!["create", "secret", "generic", "creds", "--from-literal=p=q"],
            "secret/creds created",
        ),
        (
            vec!["create", "quota", "small", "--hard=pods=50"],
            "resourcequota/small created",
        ),
        (
            vec!["create", "serviceaccount", "bot"],
            "serviceaccount/bot created",
        ),
        (
            vec![
                "create",
                "role",
                "pod-reader",
                "--verb=get,list",
                "--resource=pods",
            ],
            "role.rbac.authorization.k8s.io/pod-reader created",
        ),
        (
            vec![
                "create",
                "rolebinding",
                "bot-reads-pods",
                "--role=pod-reader",
                "--serviceaccount=surface:bot",
            ],
            "rolebinding.rbac.authorization.k8s.io/bot-reads-pods created",
        ),
    ] {
        let mut full = vec!["-n", NS];
        full.extend(args.iter().copied());
        let out = corral.ok(&full);
        assert!(out.contains(expected), "{args:?}: {out}");
    }
    wait_complete(corral, "imperative");
}

/// 1.33 sends the generators' bodies in protobuf as 1.32 does; 1.27 sends JSON.
fn generators_with_kubectl_1_27_and_1_33(corral: &Corral) {
    for minor in ["27", "33"] {
        let Some(binary) = bundled(minor) else {
            eprintln!("note: kubectl.1.{minor} is not bundled; its generator checks are skipped");
            continue;
        };
        let cron = format!("cron{minor}");
        let checks: [(Vec<String>, String); 6] = [
            (
                vec![
                    "create".into(),
                    "cronjob".into(),
                    cron.clone(),
                    "--image=busybox:1.36".into(),
                    "--schedule=0 1 * * *".into(),
                    "--".into(),
                    "true".into(),
                ],
                format!("cronjob.batch/{cron} created"),
            ),
            (
                vec![
                    "create".into(),
                    "job".into(),
                    format!("from{minor}"),
                    format!("--from=cronjob/{cron}"),
                ],
                format!("job.batch/from{minor} created"),
            ),
            (
                vec![
                    "create".into(),
                    "role".into(),
                    format!("role{minor}"),
                    "--verb=get".into(),
                    "--resource=pods".into(),
                ],
                format!("role.rbac.authorization.k8s.io/role{minor} created"),
            ),
            (
                vec![
                    "auth".into(),
                    "can-i".into(),
                    "create".into(),
                    "cronjobs".into(),
                ],
                "yes".into(),
            ),
            (
                vec![
                    "delete".into(),
                    "job".into(),
                    format!("from{minor}"),
                    "--cascade=foreground".into(),
                    "--timeout=60s".into(),
                ],
                format!("job.batch \"from{minor}\" deleted"),
            ),
            (
                vec!["delete".into(), "cronjob".into(), cron.clone()],
                format!("cronjob.batch \"{cron}\" deleted"),
            ),
        ];
        for (args, expected) in checks {
            // `-n` first: after `--` it would become part of the container's command.
            let mut full = vec!["-n", NS];
            full.extend(args.iter().map(String::as_str));
            let (ok, out, err) = corral.run_with(&binary, &full);
            assert!(
                ok && out.contains(&expected),
                "kubectl 1.{minor} {args:?}: expected {expected:?}\n{out}{err}"
            );
        }
        let (ok, out, err) = corral.run_with(&binary, &["create", "token", "default", "-n", NS]);
        assert!(
            ok && out.trim().split('.').count() == 3,
            "kubectl 1.{minor} create token: {out}{err}"
        );
    }
}

fn auth_and_tokens(corral: &Corral) {
    assert_eq!(
        corral
            .ok(&["auth", "can-i", "create", "jobs", "-n", NS])
            .trim(),
        "yes"
    );
    let list = corral.ok(&["auth", "can-i", "--list", "-n", NS]);
    assert!(list.starts_with("Resources"), "{list}");
    assert!(list.lines().any(|l| l.starts_with("*.*")), "{list}");

    let token = corral.ok(&["create", "token", "bot", "-n", NS, "--duration=10m"]);
    let token = token.trim();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    // A kubeconfig-free kubectl that presents only the token: the ServiceAccount's RBAC
    // (pod-reader via the RoleBinding created above) decides.
    let server = corral.ok(&[
        "config",
        "view",
        "--raw",
        "-o",
        "jsonpath={.clusters[0].cluster.server}",
    ]);
    let ca = corral
        .kubeconfig
        .parent()
        .unwrap()
        .join("pki/ca.crt")
        .to_string_lossy()
        .into_owned();
    let empty = write(corral, "empty-kubeconfig", "");
    let as_bot = |args: &[&str]| {
        let mut command = corral.command(&kubectl().unwrap(), args);
        command.env("KUBECONFIG", &empty).args([
            "--server",
            &server,
            "--certificate-authority",
            &ca,
            "--token",
            token,
        ]);
        let out = command.output().expect("kubectl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = as_bot(&[
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ]);
    assert!(
        ok && out == "system:serviceaccount:surface:bot",
        "{out}{err}"
    );
    let (ok, out, _) = as_bot(&["auth", "can-i", "list", "pods", "-n", NS]);
    assert!(ok && out.trim() == "yes", "{out}");
    let (ok, out, _) = as_bot(&["auth", "can-i", "create", "jobs", "-n", NS]);
    assert!(!ok && out.trim() == "no", "{out}");
    let (ok, out, err) = as_bot(&["get", "pods", "-n", NS, "-o", "name"]);
    assert!(ok && out.contains("pod/"), "{out}{err}");
    let (ok, _, err) = as_bot(&["get", "jobs", "-n", NS]);
    assert!(
        !ok && err.contains(
            "jobs.batch is forbidden: User \"system:serviceaccount:surface:bot\" cannot list resource \"jobs\" in API group \"batch\" in the namespace \"surface\""
        ),
        "{err}"
    );
}

fn deletion_cascades(corral: &Corral) {
    for name in ["bg", "fg", "orphan", "waited"] {
        corral.apply(&job(name));
    }
    for name in ["bg", "fg", "orphan", "waited"] {
        wait_complete(corral, name);
    }
    assert!(
        corral
            .ok(&["delete", "job", "bg", "-n", NS, "--cascade=background"])
            .contains("job.batch \"bg\" deleted")
    );
    poll(
        corral,
        Duration::from_secs(30),
        "the garbage collector to delete the pods of job bg",
        || pods_of(corral, "bg").is_empty(),
    );

    assert_eq!(pods_of(corral, "fg").len(), 1);
    assert!(
        corral
            .ok(&[
                "delete",
                "job",
                "fg",
                "-n",
                NS,
                "--cascade=foreground",
                "--timeout=60s"
            ])
            .contains("job.batch \"fg\" deleted")
    );
    assert!(
        pods_of(corral, "fg").is_empty(),
        "foreground deletion returns after the dependents are gone"
    );

    assert!(
        corral
            .ok(&["delete", "job", "orphan", "-n", NS, "--cascade=orphan"])
            .contains("job.batch \"orphan\" deleted")
    );
    let pods = pods_of(corral, "orphan");
    assert_eq!(pods.len(), 1, "orphaned pods stay");
    poll(
        corral,
        Duration::from_secs(30),
        "the orphaned pod's ownerReferences to be removed",
        || {
            corral
                .ok(&[
                    "get",
                    &pods[0],
                    "-n",
                    NS,
                    "-o",
                    "jsonpath={.metadata.ownerReferences}",
                ])
                .is_empty()
        },
    );

    // wait --for=delete returns once a background delete completes.
    let waiter = corral
        .command(
            &kubectl().unwrap(),
            &[
                "wait",
                "--for=delete",
                "job/waited",
                "-n",
                NS,
                "--timeout=60s",
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl wait");
    std::thread::sleep(Duration::from_secs(1));
    corral.ok(&["delete", "job", "waited", "-n", NS, "--wait=false"]);
    let out = waiter.wait_with_output().expect("kubectl wait ends");
    assert!(
        out.status.success(),
        "wait --for=delete: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Deleting a namespace removes everything in it.
    corral.ok(&["delete", "namespace", NS, "--timeout=90s"]);
    let err = fails(corral, &["get", "namespace", NS]);
    assert!(err.contains("NotFound"), "{err}");
}
