//! What a container's child process does between `fork` and `exec` (the only unsafe
//! code of the crate, hence the module-level allow): join its cgroups, ask for SIGKILL
//! if the agent dies, enter or create a private mount namespace with the pod's bind
//! mounts, change directory, and drop to the pod's user and group.
//!
//! The order matters and is why std's `uid`/`gid`/`current_dir` are not used: std applies
//! them *before* `pre_exec` closures, but mounts need root and must come before the user
//! switch, and a working directory inside a volume exists only after the mounts.
//!
//! Everything the closure touches is prepared in the parent ([`ChildSetup`]: C strings,
//! open files); the closure itself only makes system calls and never allocates, as a
//! post-fork child of a multi-threaded process must.

#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;

use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::signal::Signal;
use nix::unistd::{Gid, Uid, chdir, getpid, setgid, setgroups, setuid, write};

/// One bind mount in the container's mount namespace.
#[derive(Debug)]
pub struct BindMount {
    pub source: CString,
    pub target: CString,
    pub read_only: bool,
}

/// Everything the child does before `exec`.
#[derive(Debug, Default)]
pub struct ChildSetup {
    /// Open `cgroup.procs` files; the child writes its pid into each.
    pub cgroup_procs: Vec<File>,
    /// SIGKILL when the spawning thread of the agent goes away.
    pub parent_death_signal: bool,
    /// Join this mount namespace (`/proc/<pid>/ns/mnt` of a container), for probes.
    pub join_mount_namespace: Option<File>,
    /// Create a private mount namespace with these bind mounts.
    pub mounts: Option<Vec<BindMount>>,
    pub cwd: Option<CString>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// The fast path's way into the cgroups (v1), instead of `cgroup_procs`.
    pub thread_move: Option<ThreadMove>,
}

/// The fast path's cgroup join (cgroup v1): the spawning *thread* moves into the
/// container's cgroups, `posix_spawn` creates the child there (a child is born in its
/// parent thread's cgroups, so nothing it forks can escape), and the thread moves back.
/// Memory is charged per address space owner in v1, so the thread's short stay charges
/// nothing to the container.
#[derive(Debug, Default)]
pub struct ThreadMove {
    /// `tasks` files of the container's cgroups.
    pub enter: Vec<File>,
    /// `tasks` files of the agent's own cgroups.
    pub leave: Vec<File>,
}

fn write_tid(files: &[File]) -> io::Result<()> {
    let tid = nix::unistd::gettid().as_raw().to_string();
    for file in files {
        write(file, tid.as_bytes()).map_err(errno)?;
    }
    Ok(())
}

impl ChildSetup {
    /// Whether the child must run code before `exec` (mounts, namespaces, users, or a
    /// cgroup join without a [`ThreadMove`]). Without it the spawn takes std's
    /// `posix_spawn` path (`vfork`), which does not copy the agent's page tables: an order
    /// of magnitude cheaper in a large process.
    pub fn needs_pre_exec(&self) -> bool {
        self.mounts.is_some()
            || self.join_mount_namespace.is_some()
            || self.uid.is_some()
            || self.gid.is_some()
            || (self.thread_move.is_none() && !self.cgroup_procs.is_empty())
    }

    /// Spawns `command` with this setup: in the child before `exec` when
    /// [`needs_pre_exec`](Self::needs_pre_exec), else with `posix_spawn` (working directory
    /// as a spawn option, cgroups through the [`ThreadMove`]). The fast path has no
    /// parent-death signal; the runtime's shutdown, its `Drop` and the cgroup clean-up at
    /// the next start cover what it would.
    pub fn spawn(
        mut self,
        command: &mut tokio::process::Command,
    ) -> io::Result<tokio::process::Child> {
        if self.needs_pre_exec() {
            self.thread_move = None;
            self.install_pre_exec(command);
            return command.spawn();
        }
        if let Some(cwd) = &self.cwd {
            command.current_dir(std::ffi::OsStr::from_bytes(cwd.as_bytes()));
        }
        let Some(moves) = self.thread_move.take() else {
            return command.spawn();
        };
        write_tid(&moves.enter)?;
        let spawned = command.spawn();
        if let Err(e) = write_tid(&moves.leave) {
            // Never stay in a container's cgroup: its kill-all would reach the agent.
            tracing::error!(error = %e, "cannot move the spawning thread back to the agent's cgroup");
            std::process::abort();
        }
        spawned
    }

    fn install_pre_exec(self, command: &mut tokio::process::Command) {
        let setup = self;
        // SAFETY: the closure runs in the forked child before exec. It only performs
        // async-signal-safe system calls on data prepared by the parent (C strings, open
        // descriptors, integers) and formats the pid into a stack buffer: no allocation,
        // no locks, no panics.
        unsafe {
            command.pre_exec(move || setup.run());
        }
    }

    fn run(&self) -> io::Result<()> {
        if !self.cgroup_procs.is_empty() {
            let mut buffer = [0u8; 24];
            let text = format_pid(getpid().as_raw(), &mut buffer);
            for file in &self.cgroup_procs {
                write(file, text).map_err(errno)?;
            }
        }
        if self.parent_death_signal {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(errno)?;
        }
        if let Some(namespace) = &self.join_mount_namespace {
            setns(namespace, CloneFlags::CLONE_NEWNS).map_err(errno)?;
        }
        if let Some(mounts) = &self.mounts {
            unshare(CloneFlags::CLONE_NEWNS).map_err(errno)?;
            let none: Option<&std::ffi::CStr> = None;
            mount(
                none,
                c"/",
                none,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                none,
            )
            .map_err(errno)?;
            for bind in mounts {
                let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
                mount(
                    Some(bind.source.as_c_str()),
                    bind.target.as_c_str(),
                    none,
                    flags,
                    none,
                )
                .map_err(errno)?;
                if bind.read_only {
                    let flags = flags | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
                    mount(none, bind.target.as_c_str(), none, flags, none).map_err(errno)?;
                }
            }
        }
        if let Some(cwd) = &self.cwd {
            chdir(cwd.as_c_str()).map_err(errno)?;
        }
        if let Some(gid) = self.gid {
            setgroups(&[]).map_err(errno)?;
            setgid(Gid::from_raw(gid)).map_err(errno)?;
        }
        if let Some(uid) = self.uid {
            if self.gid.is_none() {
                setgroups(&[]).map_err(errno)?;
            }
            setuid(Uid::from_raw(uid)).map_err(errno)?;
        }
        Ok(())
    }
}

fn errno(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Decimal digits of `pid` in `buffer`, without allocating.
fn format_pid(pid: i32, buffer: &mut [u8; 24]) -> &[u8] {
    let mut value = pid.unsigned_abs();
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    &buffer[start..]
}

/// Whether this process may create a private mount namespace with a bind mount: forks a
/// `true` with the setup and looks at the result.
pub async fn probe_mount_namespaces() -> bool {
    let Ok(dir) = std::env::temp_dir().canonicalize() else {
        return false;
    };
    let Ok(source) = CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    let setup = ChildSetup {
        mounts: Some(vec![BindMount {
            target: source.clone(),
            source,
            read_only: true,
        }]),
        ..ChildSetup::default()
    };
    let Some(program) = ["/bin/true", "/usr/bin/true"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        return false;
    };
    let mut command = tokio::process::Command::new(program);
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    match setup.spawn(&mut command) {
        Ok(mut child) => child.wait().await.is_ok_and(|s| s.success()),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_format_without_allocation() {
        let mut buffer = [0u8; 24];
        assert_eq!(format_pid(0, &mut buffer), b"0");
        assert_eq!(format_pid(4_194_304, &mut buffer), b"4194304");
    }
}
