//! What the loop does besides driving cores: the scenario's timeline actions (as a user
//! with kubectl would do them), samples and assertion checks, and the end of the run.

use corral_api::ResourceKind;
use corral_core::{Action, Preconditions, Propagation, Subresource};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;

use crate::engine::CallOrigin;
use crate::metrics::job_finished;
use crate::scenario::{ObjectRef, ScenarioAction};
use crate::sim::{RunReport, Simulation};
use crate::world::WriteOp;

impl Simulation {
    /// A scripted action, as a user with kubectl would do it.
    pub(crate) fn run_action(&mut self, action: ScenarioAction) {
        let user = self.user;
        let suspend = matches!(action, ScenarioAction::Suspend(_));
        match action {
            ScenarioAction::Suspend(key) | ScenarioAction::Resume(key) => {
                let Some(mut cronjob) = self
                    .world
                    .cache
                    .get(&key)
                    .and_then(|o| o.as_typed::<CronJob>().cloned())
                else {
                    return;
                };
                cronjob.spec.suspend = Some(suspend);
                self.issue_owned(
                    user,
                    WriteOp::Action(Action::Update {
                        object: cronjob.into(),
                        subresource: Subresource::Main,
                    }),
                    CallOrigin::User,
                );
            }
            ScenarioAction::DeleteJobs {
                of,
                unfinished_only,
            } => {
                let cronjob_uid = match &of {
                    ObjectRef::Object(key) => self.world.cache.get(key).map(|o| o.uid()),
                    ObjectRef::Namespace(_) => None,
                };
                let doomed: Vec<(corral_api::ObjectKey, corral_api::Uid)> = self
                    .world
                    .cache
                    .list(ResourceKind::Job)
                    .filter(|job| match &of {
                        ObjectRef::Namespace(ns) => job.namespace() == ns,
                        ObjectRef::Object(_) => cronjob_uid
                            .as_ref()
                            .is_some_and(|u| job.controller_ref().is_some_and(|r| r.uid == u.0)),
                    })
                    .filter(|job| {
                        !unfinished_only
                            || job
                                .as_typed::<Job>()
                                .is_some_and(|j| job_finished(j).is_none())
                    })
                    .map(|job| (job.key(), job.uid()))
                    .collect();
                for (key, uid) in doomed {
                    let delete = Action::delete(key, Some(uid), Some(Propagation::Background));
                    self.issue_owned(user, WriteOp::Action(delete), CallOrigin::User);
                }
            }
            ScenarioAction::Delete(key) => {
                let delete = Action::Delete {
                    key,
                    preconditions: Preconditions::default(),
                    propagation: Some(Propagation::Background),
                    grace_period_seconds: None,
                };
                self.issue_owned(user, WriteOp::Action(delete), CallOrigin::User);
            }
            ScenarioAction::NodeDown(name) => {
                let Some(&index) = self.node_index.get(&name) else {
                    return;
                };
                let driver = &mut self.nodes[index];
                driver.agent = None;
                driver.runtime.reset();
                driver.incarnation += 1;
                driver.wake_at = None;
            }
            ScenarioAction::NodeUp(name) => {
                let Some(&index) = self.node_index.get(&name) else {
                    return;
                };
                if self.nodes[index].agent.is_some() {
                    return;
                }
                self.start_agent(index);
                let pods: Vec<Pod> = self
                    .world
                    .cache
                    .pods_on_node(&name)
                    .filter_map(|o| o.as_typed::<Pod>().cloned())
                    .collect();
                if let Some(agent) = self.nodes[index].agent.as_mut() {
                    for pod in &pods {
                        agent.handle_pod_update(pod, self.now_ts);
                    }
                }
            }
            ScenarioAction::ScaleJob { job, parallelism } => {
                let Some(mut object) = self
                    .world
                    .cache
                    .get(&job)
                    .and_then(|o| o.as_typed::<Job>().cloned())
                else {
                    return;
                };
                object.spec.get_or_insert_with(Default::default).parallelism = Some(parallelism);
                self.issue_owned(
                    user,
                    WriteOp::Action(Action::Update {
                        object: object.into(),
                        subresource: Subresource::Main,
                    }),
                    CallOrigin::User,
                );
            }
            ScenarioAction::Apply(object) => {
                let mut object = *object;
                let write = match self.world.cache.get(&object.key()) {
                    Some(existing) => {
                        object.meta_mut().resource_version =
                            existing.meta().resource_version.clone();
                        Action::Update {
                            object,
                            subresource: Subresource::Main,
                        }
                    }
                    None => Action::Create { object },
                };
                self.issue_owned(user, WriteOp::Action(write), CallOrigin::User);
            }
        }
    }

    pub(crate) fn assertion_context(&self) -> crate::assertions::Context<'_> {
        crate::assertions::Context {
            cache: &self.world.cache,
            metrics: &self.metrics,
            job_queue_depth: self
                .job_controller
                .map_or(0, |i| self.controllers[i].depth() as u64),
            now: self.now_ts,
        }
    }

    pub(crate) fn check_assertions(&mut self, end: bool) {
        let mut assertions = std::mem::take(&mut self.assertions);
        assertions.check(&self.assertion_context(), self.now, end);
        self.assertions = assertions;
    }

    pub(crate) fn take_sample(&mut self) {
        let (depth, busy) = self.job_controller.map_or((0, 0), |i| {
            (
                self.controllers[i].depth() as u64,
                self.controllers[i].busy_workers() as u64,
            )
        });
        self.metrics.sample(
            self.now,
            self.scenario.start,
            &self.world.cache,
            depth,
            busy,
        );
    }

    pub(crate) fn finish_run(mut self) -> RunReport {
        let last = self.metrics.samples.last().map_or(0, |s| s.t);
        if self.now > last || self.metrics.samples.is_empty() {
            self.check_assertions(false);
            self.take_sample();
        }
        self.check_assertions(true);
        self.trace.flush();
        crate::report::build(self)
    }
}
