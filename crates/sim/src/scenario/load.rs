//! Parsing and validation: [`load`] reads a scenario file and every manifest it names,
//! resolves times, distributions and references, and checks that assertions, timeline
//! actions and webhook models refer to things the scenario defines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, Quantity, ResourceKind};
use corral_core::{Timestamp, clock};
use k8s_openapi::api::core::v1::Taint;
use serde_saphyr::Spanned;

use super::manifests::{decode_manifest, manifest_paths, read_manifest_file, substitute_index};
use super::model::*;
use super::*;
use crate::time::{nanos, parse_duration, parse_instant};

/// The most objects `generate` may produce, so a typo cannot exhaust memory.
const GENERATED_OBJECTS_MAX: u32 = 1_000_000;

/// Formats a YAML error as `file:line: message`.
pub(crate) fn yaml_error(file: &str, error: &serde_saphyr::Error) -> ScenarioError {
    let line = error.location().map(|l| l.line()).unwrap_or(0);
    let rendered = error.without_snippet().to_string();
    let message = rendered
        .lines()
        .next()
        .unwrap_or("invalid YAML")
        .trim()
        .to_string();
    ScenarioError {
        origin: Origin {
            file: file.to_string(),
            line,
        },
        message,
    }
}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        origin: Origin {
            file: shown.clone(),
            line: 0,
        },
        message: format!("cannot read: {e}"),
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut scenario = load_str(&text, &shown, base)?;
    scenario.path = path.to_path_buf();
    Ok(scenario)
}

/// Parses scenario text; `file` names it in errors and `base` resolves relative paths.
pub fn load_str(text: &str, file: &str, base: &Path) -> Result<Scenario, ScenarioError> {
    let parsed: ScenarioFile = serde_saphyr::from_str(text).map_err(|e| yaml_error(file, &e))?;
    Resolver { file }.resolve(parsed, base)
}

struct Resolver<'a> {
    file: &'a str,
}

impl Resolver<'_> {
    fn origin<T>(&self, spanned: &Spanned<T>) -> Origin {
        Origin {
            file: self.file.to_string(),
            line: spanned.referenced.line(),
        }
    }

    fn fail<T, U>(&self, at: &Spanned<T>, message: impl Into<String>) -> Result<U, ScenarioError> {
        Err(ScenarioError::at(&self.origin(at), message))
    }

    fn duration(&self, text: &Spanned<String>) -> Result<Duration, ScenarioError> {
        parse_duration(&text.value).or_else(|e| self.fail(text, e))
    }

    fn instant(&self, text: &Spanned<String>, start: Timestamp) -> Result<SimTime, ScenarioError> {
        parse_instant(&text.value, start).or_else(|e| self.fail(text, e))
    }

    fn dist(&self, text: &Spanned<String>) -> Result<Dist, ScenarioError> {
        Dist::parse(&text.value).or_else(|e| self.fail(text, e))
    }

    fn reference(&self, text: &Spanned<String>) -> Result<ObjectRef, ScenarioError> {
        ObjectRef::parse(&text.value).or_else(|e| self.fail(text, e))
    }

    fn resolve(&self, file: ScenarioFile, base: &Path) -> Result<Scenario, ScenarioError> {
        let start = match &file.start {
            Some(text) => text
                .value
                .parse::<Timestamp>()
                .or_else(|e| self.fail(text, format!("invalid start {:?}: {e}", text.value)))?,
            None => clock::epoch(),
        };
        let duration = file
            .duration
            .as_ref()
            .map(|d| self.duration(d).map(nanos))
            .transpose()?;
        let profile = match &file.profile {
            Some(p) if crate::profiles::Profile::parse(&p.value).is_none() => {
                return self.fail(
                    p,
                    format!(
                        "unknown profile {:?}: expected {}",
                        p.value,
                        crate::profiles::Profile::NAMES.join(", ")
                    ),
                );
            }
            Some(p) => Some(p.value.clone()),
            None => None,
        };
        let nodes = self.nodes(&file.cluster)?;
        let manifests = self.manifests(&file.workloads, base)?;
        let known = Known::new(&manifests, &nodes);
        let options = &file.options;
        Ok(Scenario {
            name: file.name.clone().unwrap_or_else(|| "scenario".to_string()),
            description: file.description.clone().unwrap_or_default(),
            path: base.join(self.file),
            start,
            duration,
            seed: file.seed,
            profile,
            control_plane: self.control_plane(&file.control_plane)?,
            behaviours: file
                .behaviours
                .iter()
                .map(|b| self.behaviour(b))
                .collect::<Result<_, _>>()?,
            webhooks: file
                .webhooks
                .iter()
                .map(|w| self.webhook(w, start, &known))
                .collect::<Result<_, _>>()?,
            timeline: self.timeline(&file.timeline, start, &known)?,
            faults: file
                .faults
                .iter()
                .map(|f| self.fault(f, start))
                .collect::<Result<_, _>>()?,
            assertions: file
                .assertions
                .iter()
                .map(|a| self.assertion(a, &known))
                .collect::<Result<_, _>>()?,
            invariants: self.invariants(&file.invariants)?,
            store_events: options.store_events,
            sample_every: match &options.sample_every {
                Some(d) => nanos(self.duration(d)?).max(crate::time::NANOS_PER_SECOND),
                None => 60 * crate::time::NANOS_PER_SECOND,
            },
            nodes,
            manifests,
        })
    }

    fn nodes(&self, cluster: &ClusterFile) -> Result<Vec<NodeModel>, ScenarioError> {
        let mut out: Vec<NodeModel> = Vec::new();
        for spec in &cluster.nodes {
            let node = &spec.value;
            let quantity = |text: &Spanned<String>| {
                Quantity::parse(&text.value)
                    .or_else(|e| self.fail(text, format!("invalid quantity {:?}: {e}", text.value)))
            };
            let milli_cpu = quantity(&node.cpu)?.milli_value();
            let memory_bytes = quantity(&node.memory)?.value();
            let taints = node
                .taints
                .iter()
                .map(|t| {
                    if !matches!(
                        t.effect.as_str(),
                        "NoSchedule" | "PreferNoSchedule" | "NoExecute"
                    ) {
                        return self.fail(spec, format!("invalid taint effect {:?}", t.effect));
                    }
                    Ok(Taint {
                        key: t.key.clone(),
                        value: t.value.clone(),
                        effect: t.effect.clone(),
                        time_added: None,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let names: Vec<String> = match node.count {
                Some(n) => (0..n).map(|i| format!("{}-{i}", node.name)).collect(),
                None => vec![node.name.clone()],
            };
            for name in names {
                if !corral_api::selector::is_dns_subdomain(&name) {
                    return self.fail(spec, format!("invalid node name {name:?}"));
                }
                if out.iter().any(|n| n.name == name) {
                    return self.fail(spec, format!("node {name:?} is defined twice"));
                }
                out.push(NodeModel {
                    name,
                    milli_cpu,
                    memory_bytes,
                    pods: node.pods,
                    labels: node.labels.clone(),
                    taints: taints.clone(),
                });
            }
        }
        Ok(out)
    }

    fn control_plane(&self, cp: &ControlPlaneFile) -> Result<ControlPlaneOverrides, ScenarioError> {
        Ok(ControlPlaneOverrides {
            job_workers: cp.job_workers.map(|w| w.max(1) as usize),
            cronjob_workers: cp.cron_job_workers.map(|w| w.max(1) as usize),
            client_qps: cp.client_qps,
            client_burst: cp.client_burst,
            api_latency: cp.api_latency.as_ref().map(|d| self.dist(d)).transpose()?,
            request_timeout: cp
                .request_timeout
                .as_ref()
                .map(|d| self.duration(d))
                .transpose()?,
            cronjob_v1_pager_abort: cp.cron_job_v1_pager_abort,
        })
    }

    fn manifests(
        &self,
        workloads: &WorkloadsFile,
        base: &Path,
    ) -> Result<Vec<Manifest>, ScenarioError> {
        let mut out = Vec::new();
        for spanned in &workloads.manifests {
            let origin = self.origin(spanned);
            out.push(Manifest {
                object: decode_manifest(spanned.value.clone(), &origin)?,
                origin,
            });
        }
        for path in &workloads.files {
            let full = base.join(&path.value);
            let paths = manifest_paths(&full)
                .or_else(|e| self.fail(path, format!("cannot read {}: {e}", full.display())))?;
            if paths.is_empty() {
                return self.fail(path, format!("no manifests in {}", full.display()));
            }
            for file in paths {
                out.extend(read_manifest_file(&file, &file.display().to_string())?);
            }
        }
        for generate in &workloads.generate {
            let origin = self.origin(generate);
            if generate.value.count > GENERATED_OBJECTS_MAX {
                return self.fail(generate, format!("count above {GENERATED_OBJECTS_MAX}"));
            }
            for i in 0..generate.value.count {
                let value = substitute_index(&generate.value.manifest, i);
                out.push(Manifest {
                    object: decode_manifest(value, &origin)?,
                    origin: origin.clone(),
                });
            }
        }
        let mut seen = BTreeMap::new();
        for manifest in &out {
            let key = manifest.object.key();
            if manifest.object.name().is_empty() {
                continue; // generateName
            }
            if let Some(first) = seen.insert(key.clone(), manifest.origin.clone()) {
                return Err(ScenarioError::at(
                    &manifest.origin,
                    format!("{key} is defined twice (first at {first})"),
                ));
            }
        }
        Ok(out)
    }

    fn behaviour(&self, spanned: &Spanned<BehaviourFile>) -> Result<Behaviour, ScenarioError> {
        let b = &spanned.value;
        let defaults = Behaviour::default();
        let probability = b.failure_probability.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&probability) {
            return self.fail(spanned, "failureProbability must be within 0..1");
        }
        Ok(Behaviour {
            image: b.matcher.image.clone(),
            labels: b.matcher.labels.clone(),
            namespace: b.matcher.namespace.clone(),
            run_time: b
                .run_time
                .as_ref()
                .map(|d| self.dist(d))
                .transpose()?
                .unwrap_or(defaults.run_time),
            exit_code: b.exit_code.unwrap_or(if b.crash_loop { 1 } else { 0 }),
            failure_probability: probability,
            failure_exit_code: b.failure_exit_code.unwrap_or(1),
            image_pull_fails: b.image_pull_fails,
            pull_time: b
                .pull_time
                .as_ref()
                .map(|d| self.dist(d))
                .transpose()?
                .unwrap_or(defaults.pull_time),
            crash_loop: b.crash_loop,
            oom_killed: b.oom_killed,
        })
    }

    fn outcome(&self, text: &Spanned<String>) -> Result<WebhookOutcome, ScenarioError> {
        match text.value.as_str() {
            "allow" => Ok(WebhookOutcome::Allow),
            "deny" => Ok(WebhookOutcome::Deny),
            "error" => Ok(WebhookOutcome::Error),
            other => self.fail(
                text,
                format!("unknown webhook outcome {other:?}: expected allow, deny or error"),
            ),
        }
    }

    fn webhook(
        &self,
        spanned: &Spanned<WebhookFile>,
        start: Timestamp,
        known: &Known,
    ) -> Result<WebhookModel, ScenarioError> {
        let w = &spanned.value;
        if !known.webhooks.contains(&w.name.value) {
            return self.fail(
                &w.name,
                format!(
                    "no webhook named {:?} in the scenario's webhook configurations",
                    w.name.value
                ),
            );
        }
        let mut phases = Vec::new();
        for phase in &w.phases {
            let p = &phase.value;
            let from = self.instant(&p.from, start)?;
            let until = match &p.until {
                Some(u) => self.instant(u, start)?,
                None => u64::MAX,
            };
            if until <= from {
                return self.fail(phase, "a phase must end after it starts");
            }
            phases.push(WebhookPhase {
                from,
                until,
                latency: p.latency.as_ref().map(|d| self.dist(d)).transpose()?,
                outcome: p.outcome.as_ref().map(|o| self.outcome(o)).transpose()?,
            });
        }
        Ok(WebhookModel {
            name: w.name.value.clone(),
            latency: self.dist(&w.latency)?,
            outcome: self.outcome(&w.outcome)?,
            phases,
        })
    }

    fn timeline(
        &self,
        items: &[Spanned<TimelineFile>],
        start: Timestamp,
        known: &Known,
    ) -> Result<Vec<TimedAction>, ScenarioError> {
        let mut known = known.clone();
        let mut out = Vec::new();
        for spanned in items {
            let at = self.instant(&spanned.value.at, start)?;
            let action = self.action(spanned, &mut known)?;
            out.push(TimedAction {
                at,
                action,
                origin: self.origin(spanned),
            });
        }
        out.sort_by_key(|a| a.at);
        Ok(out)
    }

    fn object_key(
        &self,
        text: &Spanned<String>,
        kind: ResourceKind,
        known: &Known,
    ) -> Result<ObjectKey, ScenarioError> {
        let reference = self.reference(text)?;
        match reference.key() {
            Some(key) if key.kind == kind => {
                if !known.has(key) {
                    return self.fail(text, format!("{reference} is not defined by the scenario"));
                }
                Ok(key.clone())
            }
            _ => self.fail(
                text,
                format!(
                    "expected a {} reference",
                    kind.kind_name().to_ascii_lowercase()
                ),
            ),
        }
    }

    fn action(
        &self,
        spanned: &Spanned<TimelineFile>,
        known: &mut Known,
    ) -> Result<ScenarioAction, ScenarioError> {
        let t = &spanned.value;
        let mut actions = Vec::new();
        if let Some(x) = &t.suspend {
            actions.push(ScenarioAction::Suspend(self.object_key(
                x,
                ResourceKind::CronJob,
                known,
            )?));
        }
        if let Some(x) = &t.resume {
            actions.push(ScenarioAction::Resume(self.object_key(
                x,
                ResourceKind::CronJob,
                known,
            )?));
        }
        if let Some(x) = &t.delete_jobs {
            let of = self.reference(&x.of)?;
            let ok = match &of {
                ObjectRef::Namespace(ns) => known.namespaces.contains(ns),
                ObjectRef::Object(key) => key.kind == ResourceKind::CronJob && known.has(key),
            };
            if !ok {
                return self.fail(
                    &x.of,
                    format!("{of} is not a cronjob or namespace defined by the scenario"),
                );
            }
            actions.push(ScenarioAction::DeleteJobs {
                of,
                unfinished_only: x.unfinished_only,
            });
        }
        if let Some(x) = &t.delete {
            let reference = self.reference(x)?;
            let Some(key) = reference.key().filter(|k| known.has(k)) else {
                return self.fail(x, format!("{reference} is not defined by the scenario"));
            };
            actions.push(ScenarioAction::Delete(key.clone()));
        }
        for (text, up) in [(&t.node_down, false), (&t.node_up, true)] {
            if let Some(x) = text {
                if !known.nodes.contains(&x.value) {
                    return self.fail(x, format!("no node named {:?}", x.value));
                }
                actions.push(if up {
                    ScenarioAction::NodeUp(x.value.clone())
                } else {
                    ScenarioAction::NodeDown(x.value.clone())
                });
            }
        }
        if let Some(x) = &t.scale_job {
            if x.parallelism < 0 {
                return self.fail(spanned, "parallelism must be ≥ 0");
            }
            actions.push(ScenarioAction::ScaleJob {
                job: self.object_key(&x.job, ResourceKind::Job, known)?,
                parallelism: x.parallelism,
            });
        }
        if let Some(value) = &t.apply {
            let object = decode_manifest(value.clone(), &self.origin(spanned))?;
            known.add(&object);
            actions.push(ScenarioAction::Apply(Box::new(object)));
        }
        if actions.len() != 1 {
            return self.fail(spanned, format!(
                "a timeline entry needs exactly one action (suspend, resume, deleteJobs, delete, nodeDown, nodeUp, scaleJob, apply); found {}",
                actions.len()
            ));
        }
        Ok(actions.remove(0))
    }

    fn fault(
        &self,
        spanned: &Spanned<FaultFile>,
        start: Timestamp,
    ) -> Result<Fault, ScenarioError> {
        let f = &spanned.value;
        let status_only = match f.kind.value.as_str() {
            "apiError" => false,
            "statusWriteFailure" => true,
            other => {
                return self.fail(
                    &f.kind,
                    format!(
                        "unknown fault kind {other:?}: expected apiError or statusWriteFailure"
                    ),
                );
            }
        };
        if !(0.0..=1.0).contains(&f.probability) {
            return self.fail(spanned, "probability must be within 0..1");
        }
        for verb in &f.verbs {
            if !matches!(verb.as_str(), "create" | "update" | "patch" | "delete") {
                return self.fail(
                    spanned,
                    format!("unknown verb {verb:?}: expected create, update, patch or delete"),
                );
            }
        }
        for resource in &f.resources {
            if !ResourceKind::ALL.iter().any(|k| k.plural() == resource) {
                return self.fail(spanned, format!("unknown resource {resource:?}"));
            }
        }
        let error = match f.error.as_ref().map(|e| e.value.as_str()) {
            None | Some("internal") => FaultError::Internal,
            Some("timeout") => FaultError::Timeout,
            Some("conflict") => FaultError::Conflict,
            Some("tooManyRequests") => FaultError::TooManyRequests,
            Some(other) => {
                let at = f
                    .error
                    .as_ref()
                    .map_or_else(|| self.origin(spanned), |e| self.origin(e));
                return Err(ScenarioError::at(
                    &at,
                    format!(
                        "unknown error {other:?}: expected internal, timeout, conflict or tooManyRequests"
                    ),
                ));
            }
        };
        Ok(Fault {
            from: f
                .from
                .as_ref()
                .map(|t| self.instant(t, start))
                .transpose()?
                .unwrap_or(0),
            until: f
                .until
                .as_ref()
                .map(|t| self.instant(t, start))
                .transpose()?
                .unwrap_or(u64::MAX),
            probability: f.probability,
            clients: f.clients.clone(),
            verbs: f.verbs.clone(),
            resources: f.resources.clone(),
            status_only,
            error,
            persisted: f.persisted,
            origin: self.origin(spanned),
        })
    }

    fn bound(&self, text: &Spanned<String>, metric: Metric) -> Result<f64, ScenarioError> {
        if metric.is_time()
            && let Ok(d) = parse_duration(&text.value)
        {
            return Ok(d.as_secs_f64());
        }
        text.value.trim().parse::<f64>().or_else(|_| {
            self.fail(
                text,
                format!(
                    "invalid bound {:?} for {}: expected a number{}",
                    text.value,
                    metric.name(),
                    if metric.is_time() {
                        " or a duration"
                    } else {
                        ""
                    }
                ),
            )
        })
    }

    fn assertion(
        &self,
        spanned: &Spanned<AssertionFile>,
        known: &Known,
    ) -> Result<Assertion, ScenarioError> {
        let a = &spanned.value;
        let Some(metric) = Metric::NAMES
            .iter()
            .find(|(n, _)| *n == a.metric.value)
            .map(|(_, m)| *m)
        else {
            let names: Vec<&str> = Metric::NAMES.iter().map(|(n, _)| *n).collect();
            return self.fail(
                &a.metric,
                format!(
                    "unknown metric {:?}: expected one of {}",
                    a.metric.value,
                    names.join(", ")
                ),
            );
        };
        let of = match &a.of {
            Some(text) => {
                let reference = self.reference(text)?;
                let exists = match &reference {
                    ObjectRef::Namespace(ns) => known.namespaces.contains(ns),
                    ObjectRef::Object(key) => known.has(key),
                };
                if !exists {
                    return self.fail(text, format!("assertion on an unknown object: {reference} is not defined by the scenario"));
                }
                Some(reference)
            }
            None => None,
        };
        let max = a.max.as_ref().map(|t| self.bound(t, metric)).transpose()?;
        let min = a.min.as_ref().map(|t| self.bound(t, metric)).transpose()?;
        if max.is_none() && min.is_none() {
            return self.fail(spanned, "an assertion needs max or min");
        }
        let when = match a.when.as_ref().map(|w| w.value.as_str()) {
            None | Some("always") => When::Always,
            Some("end") => When::End,
            Some(other) => {
                let at = a
                    .when
                    .as_ref()
                    .map_or_else(|| self.origin(spanned), |w| self.origin(w));
                return Err(ScenarioError::at(
                    &at,
                    format!("unknown when {other:?}: expected always or end"),
                ));
            }
        };
        Ok(Assertion {
            name: a.name.clone().unwrap_or_else(|| {
                let target = of.as_ref().map(|o| format!("({o})")).unwrap_or_default();
                let bounds = match (min, max) {
                    (Some(lo), Some(hi)) => format!(" in [{lo}, {hi}]"),
                    (None, Some(hi)) => format!(" <= {hi}"),
                    (Some(lo), None) => format!(" >= {lo}"),
                    (None, None) => String::new(),
                };
                format!("{}{target}{bounds}", metric.name())
            }),
            metric,
            of,
            reason: a.reason.clone(),
            max,
            min,
            when,
            origin: self.origin(spanned),
        })
    }

    fn invariants(&self, file: &InvariantsFile) -> Result<InvariantModes, ScenarioError> {
        let mode = |text: &Option<Spanned<String>>| -> Result<Mode, ScenarioError> {
            match text.as_ref().map(|t| (t, t.value.as_str())) {
                None | Some((_, "fail")) => Ok(Mode::Fail),
                Some((_, "warn")) => Ok(Mode::Warn),
                Some((_, "off")) => Ok(Mode::Off),
                Some((t, other)) => self.fail(
                    t,
                    format!("unknown mode {other:?}: expected fail, warn or off"),
                ),
            }
        };
        Ok(InvariantModes {
            job_parallelism: mode(&file.job_parallelism)?,
            success_counted_once: mode(&file.success_counted_once)?,
            node_overcommit: mode(&file.node_overcommit)?,
            gc_live_owner: mode(&file.gc_live_owner)?,
            ttl_early: mode(&file.ttl_early)?,
        })
    }
}

/// What the scenario defines, for reference checks.
#[derive(Clone, Debug, Default)]
struct Known {
    objects: BTreeSet<ObjectKey>,
    namespaces: BTreeSet<String>,
    nodes: BTreeSet<String>,
    webhooks: BTreeSet<String>,
}

impl Known {
    fn new(manifests: &[Manifest], nodes: &[NodeModel]) -> Self {
        let mut known = Known::default();
        known.namespaces.insert("default".to_string());
        for node in nodes {
            known.nodes.insert(node.name.clone());
            known
                .objects
                .insert(ObjectKey::cluster(ResourceKind::Node, &node.name));
        }
        for manifest in manifests {
            known.add(&manifest.object);
        }
        known
    }

    fn add(&mut self, object: &KubeObject) {
        self.objects.insert(object.key());
        if !object.namespace().is_empty() {
            self.namespaces.insert(object.namespace().to_string());
        }
        if object.kind() == ResourceKind::Namespace {
            self.namespaces.insert(object.name().to_string());
        }
        match object {
            KubeObject::MutatingWebhookConfiguration(c) => {
                self.webhooks
                    .extend(c.webhooks.iter().flatten().map(|w| w.name.clone()));
            }
            KubeObject::ValidatingWebhookConfiguration(c) => {
                self.webhooks
                    .extend(c.webhooks.iter().flatten().map(|w| w.name.clone()));
            }
            _ => {}
        }
    }

    fn has(&self, key: &ObjectKey) -> bool {
        self.objects.contains(key)
    }
}
