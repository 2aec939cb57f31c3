//! Goal: an invalid scenario fails before the run with file, line and reason. Method:
//! small scenarios with one mistake each, parsed with `load_str`.

use std::path::Path;

use corral_sim::scenario::load_str;

fn error(text: &str) -> String {
    match load_str(text, "bad.yaml", Path::new(".")) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const JOB: &str = r#"
workloads:
  manifests:
    - apiVersion: batch/v1
      kind: Job
      metadata: {name: j}
      spec:
        template:
          spec:
            restartPolicy: Never
            containers: [{name: c, image: busybox}]
"#;

#[test]
fn an_unknown_field_names_its_line() {
    let e = error("name: x\ndurashun: 1h\n");
    assert!(e.starts_with("bad.yaml:2:"), "{e}");
    assert!(e.contains("durashun"), "{e}");
}

#[test]
fn a_bad_duration_names_its_line() {
    let e = error("name: x\nduration: 6 hours\n");
    assert!(e.starts_with("bad.yaml:2:"), "{e}");
    assert!(e.contains("invalid duration"), "{e}");
}

#[test]
fn a_manifest_admission_would_reject_names_its_line() {
    let text = JOB.replace("restartPolicy: Never", "restartPolicy: Always");
    let e = error(&text);
    assert!(e.starts_with("bad.yaml:4:"), "{e}");
    assert!(
        e.contains("restartPolicy") || e.contains("Unsupported value"),
        "{e}"
    );
}

#[test]
fn an_unknown_manifest_field_names_its_line() {
    let text = JOB.replace(
        "restartPolicy: Never",
        "restartPolicy: Never\n            bogusField: 1",
    );
    let e = error(&text);
    assert!(e.starts_with("bad.yaml:4:"), "{e}");
    assert!(e.contains("bogusField"), "{e}");
}

#[test]
fn an_assertion_on_an_unknown_object_names_its_line() {
    let text = format!(
        "{JOB}assertions:\n  - metric: unfinishedJobs\n    of: cronjob/default/nope\n    max: 1\n"
    );
    let e = error(&text);
    assert!(e.starts_with("bad.yaml:14:"), "the line of `of:`: {e}");
    assert!(e.contains("unknown object"), "{e}");
}

#[test]
fn an_unknown_metric_and_a_bad_reference_are_reported() {
    let e = error("assertions:\n  - metric: happiness\n    max: 1\n");
    assert!(
        e.starts_with("bad.yaml:2:") && e.contains("unknown metric"),
        "{e}"
    );
    let e = error("timeline:\n  - at: 1h\n    suspend: cronjob/x\n");
    assert!(
        e.starts_with("bad.yaml:3:") && e.contains("invalid reference"),
        "{e}"
    );
}

#[test]
fn the_examples_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            corral_sim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
