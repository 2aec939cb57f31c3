//! One simulated node: the kubelet core ([`NodeAgentCore`]) and the simulated container
//! runtime that answers its [`RuntimeCommand`]s in virtual time from the scenario's
//! behaviour models (image pulls that succeed or fail, containers that exit after a
//! modelled run time with a modelled exit code, OOM kills, containers that never end).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use corral_api::Uid;
use corral_core::SimRng;
use corral_node::runtime::{PulledImage, fnv1a};
use corral_node::{
    ImageAvailability, ImageCatalog, NodeAgentCore, RuntimeCommand, RuntimeEvent, Signal,
};
use k8s_openapi::api::core::v1::Pod;

use crate::api::ClientId;
use crate::scenario::{Behaviour, NodeModel};
use crate::time::SimTime;

/// The behaviour of a container: the first model that matches, else the default.
pub fn behaviour_for<'a>(
    behaviours: &'a [Behaviour],
    default: &'a Behaviour,
    image: &str,
    pod: Option<&Pod>,
) -> &'a Behaviour {
    let namespace = pod
        .and_then(|p| p.metadata.namespace.as_deref())
        .unwrap_or("");
    let labels = pod.and_then(|p| p.metadata.labels.as_ref());
    behaviours
        .iter()
        .find(|b| b.matches(image, namespace, labels))
        .unwrap_or(default)
}

/// What the node knows about images: modelled pull failures are unknown images, modelled
/// pulls with a duration are pullable, everything else is present.
#[derive(Debug)]
pub struct SimCatalog {
    behaviours: Arc<Vec<Behaviour>>,
}

impl SimCatalog {
    pub fn new(behaviours: Arc<Vec<Behaviour>>) -> Self {
        SimCatalog { behaviours }
    }
}

impl ImageCatalog for SimCatalog {
    fn resolve(&self, image: &str) -> ImageAvailability {
        let model = self.behaviours.iter().find(|b| {
            b.image
                .as_deref()
                .is_some_and(|g| crate::scenario::glob_match(g, image))
        });
        match model {
            Some(b) if b.image_pull_fails => ImageAvailability::Unknown,
            Some(b) if !b.pull_time.is_zero() => ImageAvailability::Pullable,
            _ => ImageAvailability::Present {
                image_id: image_id(image),
            },
        }
    }
}

fn image_id(image: &str) -> String {
    format!("sha256:{:016x}", fnv1a(image.as_bytes()))
}

/// The simulated container runtime of one node.
#[derive(Debug)]
pub struct SimRuntime {
    behaviours: Arc<Vec<Behaviour>>,
    default: Behaviour,
    rng: SimRng,
    running: BTreeSet<String>,
    next_id: u64,
    node: String,
}

impl SimRuntime {
    pub fn new(node: &str, behaviours: Arc<Vec<Behaviour>>, rng: SimRng) -> Self {
        SimRuntime {
            behaviours,
            default: Behaviour::default(),
            rng,
            running: BTreeSet::new(),
            next_id: 0,
            node: node.to_string(),
        }
    }

    /// Containers running now.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Forgets every container (the node went away).
    pub fn reset(&mut self) {
        self.running.clear();
    }

    /// Executes a command; returns the runtime events it causes, each after a delay.
    pub fn handle(
        &mut self,
        command: RuntimeCommand,
        pod: Option<&Pod>,
    ) -> Vec<(Duration, RuntimeEvent)> {
        match command {
            RuntimeCommand::PullImage { pod_uid, image } => {
                let model = behaviour_for(&self.behaviours, &self.default, &image, pod);
                let delay = model.pull_time.sample(&mut self.rng).unwrap_or_default();
                let result = if model.image_pull_fails {
                    Err(format!(
                        "rpc error: code = NotFound desc = failed to pull and unpack image {image:?}: failed to resolve reference {image:?}: not found"
                    ))
                } else {
                    Ok(PulledImage {
                        image_id: image_id(&image),
                        size_bytes: 10 << 20,
                    })
                };
                vec![(
                    delay,
                    RuntimeEvent::ImagePulled {
                        pod_uid,
                        image,
                        result,
                    },
                )]
            }
            RuntimeCommand::StartContainer {
                pod_uid, container, ..
            } => self.start(
                pod_uid,
                &container.name,
                container.image.as_deref().unwrap_or(""),
                pod,
            ),
            RuntimeCommand::KillContainer {
                pod_uid,
                container,
                container_id,
                signal,
                ..
            } => {
                if !self.running.remove(&container_id) {
                    return Vec::new();
                }
                let (exit_code, number) = match signal {
                    Signal::Term => (143, 15),
                    Signal::Kill => (137, 9),
                };
                vec![(
                    Duration::ZERO,
                    RuntimeEvent::ContainerExited {
                        pod_uid,
                        container,
                        container_id,
                        exit_code,
                        signal: Some(number),
                        oom_killed: false,
                    },
                )]
            }
            RuntimeCommand::RunProbe {
                pod_uid,
                container,
                container_id,
                kind,
                ..
            } => vec![(
                Duration::ZERO,
                RuntimeEvent::ProbeResult {
                    pod_uid,
                    container,
                    container_id,
                    kind,
                    success: true,
                    output: String::new(),
                },
            )],
        }
    }

    fn start(
        &mut self,
        pod_uid: Uid,
        container: &str,
        image: &str,
        pod: Option<&Pod>,
    ) -> Vec<(Duration, RuntimeEvent)> {
        self.next_id += 1;
        let container_id = format!("sim://{}/{}", self.node, self.next_id);
        self.running.insert(container_id.clone());
        let model = behaviour_for(&self.behaviours, &self.default, image, pod).clone();
        let mut events = vec![(
            Duration::ZERO,
            RuntimeEvent::ContainerStarted {
                pod_uid: pod_uid.clone(),
                container: container.to_string(),
                container_id: container_id.clone(),
                image_id: image_id(image),
            },
        )];
        let Some(run_time) = model.run_time.sample(&mut self.rng) else {
            return events; // never ends
        };
        let failed = model.failure_probability > 0.0 && self.rng.chance(model.failure_probability);
        let (exit_code, oom_killed) = if model.oom_killed {
            (137, true)
        } else if failed {
            (model.failure_exit_code, false)
        } else {
            (model.exit_code, false)
        };
        events.push((
            run_time,
            RuntimeEvent::ContainerExited {
                pod_uid,
                container: container.to_string(),
                container_id,
                exit_code,
                signal: None,
                oom_killed,
            },
        ));
        events
    }

    /// Whether a runtime event is still current (an exit of a container that was killed
    /// meanwhile is dropped).
    pub fn accept(&mut self, event: &RuntimeEvent) -> bool {
        match event {
            RuntimeEvent::ContainerExited {
                container_id,
                signal: None,
                ..
            } => self.running.remove(container_id),
            _ => true,
        }
    }
}

/// A simulated node.
pub struct NodeDriver {
    pub model: NodeModel,
    /// `None` while the node is down.
    pub agent: Option<NodeAgentCore>,
    pub runtime: SimRuntime,
    pub client: ClientId,
    /// Bumped when the node goes down, so events of the old incarnation are dropped.
    pub incarnation: u64,
    pub wake_at: Option<SimTime>,
    pub host_ip: String,
    pub pod_ip_prefix: String,
}
