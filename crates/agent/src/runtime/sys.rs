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
use std::os::unix::ffi::OsStrExt;
use std::fs::File;
use std::io;

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
}

/// What must be done in the parent after spawning (the fast path's cgroup join).
#[derive(Debug, Default)]
pub struct AfterSpawn {
    cgroup_procs: Vec<File>,
}

impl AfterSpawn {
    /// Moves the new process into its cgroups. With `posix_spawn` the child has just
    /// called `exec` when this runs, before the program can have forked in practice.
    pub fn run(&self, pid: u32) {
        let text = pid.to_string();
        for file in &self.cgroup_procs {
            if let Err(e) = write(file, text.as_bytes()) {
                tracing::warn!(pid, error = %e, "cannot move the container into its cgroup");
            }
        }
    }
}

impl ChildSetup {
    /// Whether the child must run code before `exec` (mounts, namespaces, users). Without
    /// it the spawn takes std's `posix_spawn` path (`vfork`), which does not copy the
    /// agent's page tables: an order of magnitude cheaper in a large process.
    pub fn needs_pre_exec(&self) -> bool {
        self.mounts.is_some() || self.join_mount_namespace.is_some() || self.uid.is_some() || self.gid.is_some()
    }

    /// Installs the setup on a command: in the child before `exec` when
    /// [`needs_pre_exec`](Self::needs_pre_exec), else as `posix_spawn` options (working
    /// directory) plus an [`AfterSpawn`] for the parent. The fast path has no parent-death
    /// signal; the runtime's shutdown, its `Drop` and the cgroup clean-up at the next start
    /// cover what it would.
    pub fn install(self, command: &mut tokio::process::Command) -> AfterSpawn {
        if !self.needs_pre_exec() {
            if let Some(cwd) = &self.cwd {
                command.current_dir(std::ffi::OsStr::from_bytes(cwd.as_bytes()));
            }
            return AfterSpawn {
                cgroup_procs: self.cgroup_procs,
            };
        }
        self.install_pre_exec(command);
        AfterSpawn::default()
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
                mount(Some(bind.source.as_c_str()), bind.target.as_c_str(), none, flags, none)
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
    setup.install(&mut command);
    match command.status().await {
        Ok(status) => status.success(),
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
