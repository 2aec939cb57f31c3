#!/usr/bin/env python3
"""Interoperability check: the official Python `kubernetes` client against Corral.

Goal: a client that is not kubectl and not written in Go or Rust lists, watches, creates,
patches (strategic, merge, JSON patch) and deletes objects on a running `corral up`, and
reads errors as `ApiException`s with upstream's status codes; its dynamic client runs
discovery.

Usage:   KUBECONFIG=/path/to/kubeconfig python3 tests/interop/python_client.py
Prints:  one line per check, "PASS <name>" or "FAIL <name>: <why>", then
         "N passed, M failed". Exit status 0 only when nothing failed; 2 when the
         `kubernetes` package is missing (the caller decides whether that is a skip).
Every wait is bounded (watches use timeout_seconds and a deadline).
"""

import os
import sys
import threading
import time
import traceback
import uuid

try:
    from kubernetes import client, config, dynamic, watch
    from kubernetes.client.rest import ApiException
except ImportError as e:  # pragma: no cover - reported to the caller
    print(f"kubernetes python client not importable: {e}", file=sys.stderr)
    sys.exit(2)

PASSED = 0
FAILED = 0


def check(name):
    """Decorator-free check runner: call(name, fn) runs fn and records the outcome."""

    def run(fn):
        global PASSED, FAILED
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported, not raised
            FAILED += 1
            why = f"{type(e).__name__}: {e}".replace("\n", " ")[:400]
            print(f"FAIL {name}: {why}", flush=True)
            if os.environ.get("INTEROP_VERBOSE") == "1":
                traceback.print_exc()
            return
        PASSED += 1
        print(f"PASS {name}", flush=True)

    return run


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def expect_api_error(status, fn):
    try:
        fn()
    except ApiException as e:
        expect(e.status == status, f"expected HTTP {status}, got {e.status}: {e.body}")
        return e
    raise AssertionError(f"expected HTTP {status}, the call succeeded")


def job_body(name, labels):
    return client.V1Job(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1JobSpec(
            backoff_limit=1,
            template=client.V1PodTemplateSpec(
                spec=client.V1PodSpec(
                    restart_policy="Never",
                    containers=[
                        client.V1Container(
                            name="main",
                            image="busybox:1.36",
                            command=["sh", "-c", "echo from-python"],
                            env=[client.V1EnvVar(name="A", value="1")],
                        )
                    ],
                )
            ),
        ),
    )


def main():
    config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
    api = client.ApiClient()
    core = client.CoreV1Api(api)
    batch = client.BatchV1Api(api)
    ns = os.environ.get("INTEROP_NS") or f"py-{uuid.uuid4().hex[:6]}"

    @check("version")
    def _():
        info = client.VersionApi(api).get_code()
        expect(info.major == "1" and info.git_version, f"odd version {info}")

    @check("namespace.create")
    def _():
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
        got = core.read_namespace(ns)
        expect(got.status.phase == "Active", f"phase {got.status.phase}")

    @check("namespace.list")
    def _():
        names = [n.metadata.name for n in core.list_namespace().items]
        expect(ns in names and "default" in names, f"namespaces {names}")

    @check("configmap.create")
    def _():
        cm = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="one", labels={"app": "py"}),
            data={"a": "1"},
        )
        created = core.create_namespaced_config_map(ns, cm)
        expect(created.metadata.uid and created.metadata.resource_version, "no uid/rv")

    @check("configmap.already-exists-409")
    def _():
        cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="one"))
        e = expect_api_error(409, lambda: core.create_namespaced_config_map(ns, cm))
        expect("AlreadyExists" in e.body, e.body)

    @check("configmap.not-found-404")
    def _():
        expect_api_error(404, lambda: core.read_namespaced_config_map("nope", ns))

    @check("job.create")
    def _():
        created = batch.create_namespaced_job(ns, job_body("pyjob", {"app": "py"}))
        expect(created.spec.selector is not None, "selector not defaulted")
        expect(created.spec.template.spec.containers[0].image == "busybox:1.36", "image")

    @check("job.invalid-422")
    def _():
        body = job_body("bad", {})
        body.spec.template.spec.restart_policy = "Always"
        e = expect_api_error(422, lambda: batch.create_namespaced_job(ns, body))
        expect("restartPolicy" in e.body, e.body)

    @check("job.list-label-selector")
    def _():
        jobs = batch.list_namespaced_job(ns, label_selector="app=py")
        expect([j.metadata.name for j in jobs.items] == ["pyjob"], f"{jobs.items}")
        none = batch.list_namespaced_job(ns, label_selector="app=other")
        expect(none.items == [], "selector ignored")

    @check("job.list-all-namespaces")
    def _():
        jobs = batch.list_job_for_all_namespaces(field_selector=f"metadata.namespace={ns}")
        expect([j.metadata.name for j in jobs.items] == ["pyjob"], f"{jobs.items}")

    @check("list.pagination")
    def _():
        for i in range(3):
            core.create_namespaced_config_map(
                ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"page-{i}"))
            )
        first = core.list_namespaced_config_map(ns, limit=2)
        expect(len(first.items) == 2 and first.metadata._continue, "no continue token")
        rest = core.list_namespaced_config_map(ns, limit=10, _continue=first.metadata._continue)
        names = sorted(c.metadata.name for c in first.items + rest.items)
        expect(
            all(n in names for n in ["one", "page-0", "page-1", "page-2"]),
            f"pages {names}",
        )

    @check("patch.strategic")
    def _():
        # A dict body is sent as application/strategic-merge-patch+json; the env list
        # merges by name.
        patch = {
            "metadata": {"labels": {"patched": "strategic"}},
            "spec": {"template": {"spec": {"containers": [{"name": "main", "env": [{"name": "B", "value": "2"}]}]}}},
        }
        # Job templates are immutable: patch the labels and check the env via a CronJob.
        patched = batch.patch_namespaced_job("pyjob", ns, {"metadata": patch["metadata"]})
        expect(patched.metadata.labels.get("patched") == "strategic", f"{patched.metadata.labels}")
        cron = client.V1CronJob(
            metadata=client.V1ObjectMeta(name="pycron"),
            spec=client.V1CronJobSpec(
                schedule="*/5 * * * *",
                suspend=True,
                job_template=client.V1JobTemplateSpec(spec=job_body("x", {}).spec),
            ),
        )
        batch.create_namespaced_cron_job(ns, cron)
        patched = batch.patch_namespaced_cron_job(
            "pycron", ns, {"spec": {"jobTemplate": patch["spec"] and {"spec": patch["spec"]}}}
        )
        env = patched.spec.job_template.spec.template.spec.containers[0].env
        expect([e.name for e in env] == ["B", "A"], f"env {[e.name for e in env]}")

    @check("patch.merge")
    def _():
        patched = core.patch_namespaced_config_map(
            "one",
            ns,
            {"data": {"b": "2"}},
            _content_type="application/merge-patch+json",
        )
        expect(patched.data == {"a": "1", "b": "2"}, f"{patched.data}")

    @check("patch.json")
    def _():
        patched = core.patch_namespaced_config_map(
            "one", ns, [{"op": "replace", "path": "/data/a", "value": "10"}]
        )
        expect(patched.data["a"] == "10", f"{patched.data}")

    @check("replace.conflict-409")
    def _():
        current = core.read_namespaced_config_map("one", ns)
        current.data["c"] = "3"
        core.replace_namespaced_config_map("one", ns, current)
        current.data["c"] = "4"  # stale resourceVersion now
        expect_api_error(409, lambda: core.replace_namespaced_config_map("one", ns, current))

    @check("watch.list-then-watch")
    def _():
        listed = core.list_namespaced_config_map(ns)
        rv = listed.metadata.resource_version
        seen = []

        def writer():
            time.sleep(0.5)
            core.create_namespaced_config_map(
                ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="watched"))
            )
            core.patch_namespaced_config_map("watched", ns, {"data": {"x": "1"}})
            core.delete_namespaced_config_map("watched", ns)

        thread = threading.Thread(target=writer)
        thread.start()
        w = watch.Watch()
        deadline = time.time() + 20
        for event in w.stream(
            core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=20
        ):
            if event["object"].metadata.name == "watched":
                seen.append(event["type"])
            if seen[-1:] == ["DELETED"] or time.time() > deadline:
                w.stop()
        thread.join(10)
        expect(seen == ["ADDED", "MODIFIED", "DELETED"], f"events {seen}")

    @check("watch.initial-events")
    def _():
        w = watch.Watch()
        names = set()
        for event in w.stream(core.list_namespaced_config_map, ns, timeout_seconds=5):
            expect(event["type"] == "ADDED", f"first events are ADDED, got {event['type']}")
            names.add(event["object"].metadata.name)
            if "one" in names:
                w.stop()
        expect("one" in names, f"initial ADDED events {names}")

    @check("dynamic.discovery-and-get")
    def _():
        dyn = dynamic.DynamicClient(api)
        jobs = dyn.resources.get(api_version="batch/v1", kind="Job")
        got = jobs.get(name="pyjob", namespace=ns)
        expect(got.metadata.name == "pyjob", f"{got.metadata}")
        cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
        listed = cms.get(namespace=ns, label_selector="app=py")
        expect([i.metadata.name for i in listed.items] == ["one"], f"{listed.items}")

    @check("delete.propagation-background")
    def _():
        batch.delete_namespaced_job(
            "pyjob", ns, body=client.V1DeleteOptions(propagation_policy="Background")
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                batch.read_namespaced_job("pyjob", ns)
            except ApiException as e:
                if e.status == 404:
                    return
                raise
            time.sleep(0.3)
        raise AssertionError("job still present after 30 s")

    @check("namespace.delete")
    def _():
        core.delete_namespace(ns)

    print(f"{PASSED} passed, {FAILED} failed", flush=True)
    return 0 if FAILED == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
