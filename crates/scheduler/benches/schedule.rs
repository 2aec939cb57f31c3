//! Scheduling throughput: 5,000 nodes, 100,000 pending pods, one pod per cycle through
//! the quinn-style path (`schedule_next` + `handle_bind_outcomes`), binds confirmed as
//! successful without a store round trip. Goal: ≥ 10,000 binds/s.
//!
//! Run: `cargo bench -p corral-scheduler --bench schedule` (env `NODES`, `PODS` override).
#![allow(clippy::disallowed_methods)] // the bench reads the wall clock; the core never does

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Instant;

use corral_api::{KubeObject, Revision};
use corral_core::clock::epoch;
use corral_core::{ChangeKind, ObjectCache, ObjectEvent, Outcome};
use corral_scheduler::Scheduler;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let node_count = env("NODES", 5_000);
    let pod_count = env("PODS", 100_000);
    let now = epoch();
    let mut cache = ObjectCache::new();
    let mut scheduler = Scheduler::default();
    let mut revision = 0u64;
    let mut add = |cache: &mut ObjectCache, scheduler: &mut Scheduler, object: KubeObject| {
        revision += 1;
        let event = ObjectEvent {
            change: ChangeKind::Added,
            object: Arc::new(object),
            revision: Revision(revision),
        };
        cache.apply(&event);
        let _ = scheduler.handle_event(&event, None, now);
    };
    let setup = Instant::now();
    for i in 0..node_count {
        let node = common::node(&format!("node-{i:05}"), "32", "128Gi", "110");
        add(&mut cache, &mut scheduler, node.into());
    }
    for i in 0..pod_count {
        let cpu = format!("{}m", 100 + (i % 10) * 50);
        let memory = format!("{}Mi", 128 + (i % 7) * 64);
        let pod = common::pod(&format!("pod-{i:06}"), &cpu, &memory);
        add(&mut cache, &mut scheduler, pod.into());
    }
    let setup_elapsed = setup.elapsed();

    let start = Instant::now();
    let mut bound = 0usize;
    let mut unschedulable = 0usize;
    let done = [
        Outcome::Done(None),
        Outcome::Done(None),
        Outcome::Done(None),
    ];
    while let Some((key, plan)) = scheduler.schedule_next(&cache, now) {
        let is_bind = plan.action_count() == 3;
        scheduler.handle_bind_outcomes(&key, &plan, &done, now);
        if is_bind {
            bound += 1;
        } else {
            unschedulable += 1;
        }
    }
    let elapsed = start.elapsed();
    let rate = bound as f64 / elapsed.as_secs_f64();
    println!(
        "schedule: nodes={node_count} pods={pod_count} bound={bound} unschedulable={unschedulable} \
         setup={:.2}s elapsed={:.3}s rate={rate:.0} binds/s ({:.1} µs/pod)",
        setup_elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / (bound + unschedulable).max(1) as f64
    );
}
