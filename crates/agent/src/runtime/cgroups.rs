//! Resource limits and process tracking through cgroups, where the host allows them.
//!
//! Each container instance gets its own cgroup (`corral-<node>/<pod uid>-<container>-<n>`)
//! under the agent's own cgroup (v1: per controller; v2: a sibling of the agent's leaf).
//! It carries `limits.memory` (v1 `memory.limit_in_bytes`, v2 `memory.max`) and
//! `limits.cpu` (CFS quota over a 100 ms period), tells whether the OOM killer struck
//! (v1 `memory.oom_control` `oom_kill`, v2 `memory.events` `oom_kill`), and lists every
//! process of the container, including ones that left its process group, so a stop
//! kills them all.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const CFS_PERIOD_US: i64 = 100_000;

/// How cgroups are used on this host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CgroupDriver {
    /// cgroup v1: the node's directory in each usable controller hierarchy.
    V1 {
        memory: Option<PathBuf>,
        cpu: Option<PathBuf>,
        pids: Option<PathBuf>,
    },
    /// cgroup v2: the node's directory (memory and cpu enabled in its subtree).
    V2 { base: PathBuf },
}

/// The cgroup(s) of one container instance.
#[derive(Clone, Debug)]
pub struct ContainerCgroup {
    /// Every directory created, one per controller (v1) or one (v2).
    dirs: Vec<PathBuf>,
    /// v1: the agent's own cgroup in each of those hierarchies (where a spawning thread
    /// returns to).
    home: Vec<PathBuf>,
    memory: Option<PathBuf>,
    v2: bool,
}

/// The agent's own path in a v1 controller hierarchy, from `/proc/self/cgroup`.
fn own_path(controller: &str) -> Option<String> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let _id = parts.next()?;
        let controllers = parts.next()?;
        let path = parts.next()?;
        let matches = if controller.is_empty() {
            controllers.is_empty()
        } else {
            controllers.split(',').any(|c| c == controller)
        };
        matches.then(|| path.to_string())
    })
}

fn writable_dir(dir: &Path) -> bool {
    match fs::create_dir_all(dir) {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!(dir = %dir.display(), error = %e, "cgroup directory not usable");
            false
        }
    }
}

impl CgroupDriver {
    /// Finds usable cgroups for node `node`, creating the node's directories. `None` when
    /// the host gives none (no permission, no controllers).
    pub fn detect(node: &str) -> Option<CgroupDriver> {
        let v1 = |controller: &str| -> Option<PathBuf> {
            let mount = Path::new("/sys/fs/cgroup").join(controller);
            if !mount.join("cgroup.procs").exists() {
                return None;
            }
            let own = own_path(controller)?;
            let dir = mount
                .join(own.trim_start_matches('/'))
                .join(format!("corral-{node}"));
            writable_dir(&dir).then_some(dir)
        };
        let memory = v1("memory");
        if memory.is_some() {
            return Some(CgroupDriver::V1 {
                memory,
                cpu: v1("cpu"),
                pids: None,
            });
        }
        Self::detect_v2(node)
    }

    fn detect_v2(node: &str) -> Option<CgroupDriver> {
        let root = Path::new("/sys/fs/cgroup");
        if !root.join("cgroup.controllers").exists() {
            return None;
        }
        let own = own_path("")?;
        let own_dir = root.join(own.trim_start_matches('/'));
        // The agent's own cgroup holds processes, so containers go into a sibling.
        let parent = own_dir.parent()?.to_path_buf();
        let controllers = fs::read_to_string(parent.join("cgroup.controllers")).ok()?;
        if !controllers.split_whitespace().any(|c| c == "memory") {
            return None;
        }
        let base = parent.join(format!("corral-{node}"));
        if !writable_dir(&base) {
            return None;
        }
        let enable = if controllers.split_whitespace().any(|c| c == "cpu") {
            "+memory +cpu"
        } else {
            "+memory"
        };
        fs::write(base.join("cgroup.subtree_control"), enable).ok()?;
        Some(CgroupDriver::V2 { base })
    }

    fn bases(&self) -> Vec<&PathBuf> {
        match self {
            CgroupDriver::V1 { memory, cpu, pids } => {
                [memory, cpu, pids].into_iter().flatten().collect()
            }
            CgroupDriver::V2 { base } => vec![base],
        }
    }

    /// Creates a container's cgroup with its limits.
    pub fn create(
        &self,
        name: &str,
        memory_limit: Option<i64>,
        cpu_limit_milli: Option<i64>,
    ) -> io::Result<ContainerCgroup> {
        match self {
            CgroupDriver::V1 { memory, cpu, pids } => {
                let mut group = ContainerCgroup {
                    dirs: Vec::new(),
                    home: Vec::new(),
                    memory: None,
                    v2: false,
                };
                if let Some(base) = memory {
                    let dir = base.join(name);
                    fs::create_dir_all(&dir)?;
                    group.dirs.push(dir.clone());
                    group.home.extend(base.parent().map(Path::to_path_buf));
                    if let Some(limit) = memory_limit {
                        fs::write(dir.join("memory.limit_in_bytes"), limit.to_string())?;
                        // Without swap accounting the file is absent; with it, the same
                        // limit keeps the container from swapping past its limit.
                        let memsw = dir.join("memory.memsw.limit_in_bytes");
                        if memsw.exists() {
                            let _ = fs::write(memsw, limit.to_string());
                        }
                    }
                    group.memory = Some(dir);
                }
                // The cpu hierarchy only when there is a quota to set; membership (kill-all,
                // OOM) comes from the memory hierarchy, or pids where memory is missing.
                if let (Some(base), Some(milli)) = (cpu, cpu_limit_milli) {
                    let dir = base.join(name);
                    fs::create_dir_all(&dir)?;
                    group.dirs.push(dir.clone());
                    group.home.extend(base.parent().map(Path::to_path_buf));
                    let quota = (milli * CFS_PERIOD_US / 1000).max(1000);
                    fs::write(dir.join("cpu.cfs_period_us"), CFS_PERIOD_US.to_string())?;
                    fs::write(dir.join("cpu.cfs_quota_us"), quota.to_string())?;
                }
                if let (Some(base), None) = (pids, memory) {
                    let dir = base.join(name);
                    fs::create_dir_all(&dir)?;
                    group.dirs.push(dir);
                    group.home.extend(base.parent().map(Path::to_path_buf));
                }
                Ok(group)
            }
            CgroupDriver::V2 { base } => {
                let dir = base.join(name);
                fs::create_dir_all(&dir)?;
                if let Some(limit) = memory_limit {
                    fs::write(dir.join("memory.max"), limit.to_string())?;
                    let _ = fs::write(dir.join("memory.swap.max"), "0");
                }
                if let Some(milli) = cpu_limit_milli {
                    let quota = (milli * CFS_PERIOD_US / 1000).max(1000);
                    let _ = fs::write(dir.join("cpu.max"), format!("{quota} {CFS_PERIOD_US}"));
                }
                Ok(ContainerCgroup {
                    dirs: vec![dir.clone()],
                    home: Vec::new(),
                    memory: Some(dir),
                    v2: true,
                })
            }
        }
    }

    /// Kills whatever a previous run of this node left in its cgroups and removes them.
    pub fn clean_up_all(&self) {
        for base in self.bases() {
            let Ok(entries) = fs::read_dir(base) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    let group = ContainerCgroup {
                        dirs: vec![path],
                        home: Vec::new(),
                        memory: None,
                        v2: matches!(self, CgroupDriver::V2 { .. }),
                    };
                    group.kill_all();
                    group.remove();
                }
            }
        }
    }

    /// Removes the node's directories (at shutdown, once every container is gone).
    pub fn remove_node_dirs(&self) {
        self.clean_up_all();
        for base in self.bases() {
            let _ = fs::remove_dir(base);
        }
    }

    pub fn describe(&self) -> String {
        match self {
            CgroupDriver::V1 { memory, cpu, pids } => format!(
                "cgroup v1 (memory: {}, cpu: {}, pids: {})",
                memory.is_some(),
                cpu.is_some(),
                pids.is_some()
            ),
            CgroupDriver::V2 { base } => format!("cgroup v2 at {}", base.display()),
        }
    }
}

impl ContainerCgroup {
    /// Opens each `cgroup.procs` for the child to write its pid into.
    pub fn procs_files(&self) -> io::Result<Vec<File>> {
        self.dirs
            .iter()
            .map(|d| OpenOptions::new().write(true).open(d.join("cgroup.procs")))
            .collect()
    }

    /// The fast path's thread move into this cgroup and back (v1 only).
    pub fn thread_move(&self) -> Option<super::sys::ThreadMove> {
        if self.v2 || self.home.len() != self.dirs.len() {
            return None;
        }
        let open = |d: &PathBuf| OpenOptions::new().write(true).open(d.join("tasks"));
        let enter = self
            .dirs
            .iter()
            .map(open)
            .collect::<io::Result<Vec<_>>>()
            .ok()?;
        let leave = self
            .home
            .iter()
            .map(open)
            .collect::<io::Result<Vec<_>>>()
            .ok()?;
        Some(super::sys::ThreadMove { enter, leave })
    }

    /// Every process in the container's cgroups (never the agent itself).
    pub fn pids(&self) -> Vec<i32> {
        let own = std::process::id() as i32;
        let mut pids: Vec<i32> = self
            .dirs
            .iter()
            .filter_map(|d| fs::read_to_string(d.join("cgroup.procs")).ok())
            .flat_map(|text| {
                text.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect();
        pids.retain(|p| *p != own);
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Sends `signal` to every process of the container.
    pub fn signal_all(&self, signal: Signal) {
        for pid in self.pids() {
            let _ = kill(Pid::from_raw(pid), signal);
        }
    }

    /// SIGKILLs every process until the cgroup is empty (bounded).
    pub fn kill_all(&self) {
        for _ in 0..50 {
            let pids = self.pids();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pids().is_empty()
    }

    /// Whether the kernel's OOM killer killed a process of this container.
    pub fn oom_killed(&self) -> bool {
        let Some(dir) = &self.memory else {
            return false;
        };
        let file = if self.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        let Ok(text) = fs::read_to_string(dir.join(file)) else {
            return false;
        };
        text.lines().any(|line| {
            let mut parts = line.split_whitespace();
            parts.next() == Some("oom_kill")
                && parts
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .is_some_and(|n| n > 0)
        })
    }

    /// Removes the directories (they must be empty of processes).
    pub fn remove(&self) {
        for dir in &self.dirs {
            for _ in 0..20 {
                match fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        }
    }
}
