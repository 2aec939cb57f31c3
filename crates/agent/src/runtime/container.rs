//! Starting and supervising one container instance.
//!
//! Start: resolve the command (the catalog's default command for host images), the
//! environment (image defaults, then the core's resolved `env`), volumes, working
//! directory, executable and user; create the cgroup; spawn the process group with its
//! child setup; pump stdout/stderr into the CRI log. Failures before the process runs
//! become `ContainerStartFailed` with runc's wording under reason `StartError`.
//!
//! Supervision: when the main process exits, whatever else is left of the container (its
//! process group, its cgroup) is killed, as when a container's init process dies; the log
//! is drained, the `.done` marker written, the cgroup read for an OOM kill and removed,
//! and `ContainerExited` reported.

use std::ffi::CString;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use corral_api::Uid;
use corral_node::RuntimeEvent;
use k8s_openapi::api::core::v1::{Container, Pod};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::watch;

use super::images::HostImageCatalog;
use super::sys::{BindMount, ChildSetup};
use super::volumes::{self, MountMode, PreparedMount, PreparedVolumes, VolumeContext};
use super::{PodContext, Running, RuntimeInner, new_container_id};
use crate::logs::{self, CONTAINER_ID_SCHEME, cri};

/// The default `PATH` of host images (as in most base images).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How long an exited container's output may take to drain once its processes are gone.
const LOG_DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// A mount point the runtime created or linked on the host, and who uses it.
#[derive(Debug)]
pub(crate) struct TargetUse {
    users: usize,
    /// The runtime created the mount point (else it existed already).
    created: bool,
}

/// Mount points in use, and the parent directories the runtime created for them
/// (removed when they become empty).
#[derive(Debug, Default)]
pub(crate) struct MountTable {
    targets: std::collections::HashMap<PathBuf, TargetUse>,
    parents: std::collections::HashSet<PathBuf>,
}

fn start_error(detail: impl std::fmt::Display) -> String {
    format!(
        "failed to create corral-process task: unable to start container process: {detail}: unknown"
    )
}

fn failed(pod_uid: &Uid, container: &str, message: String) -> RuntimeEvent {
    RuntimeEvent::ContainerStartFailed {
        pod_uid: pod_uid.clone(),
        container: container.to_string(),
        reason: "StartError".to_string(),
        message,
    }
}

/// `command`/`args` with image semantics: `command` replaces the entrypoint (and drops
/// the image's default arguments); `args` alone runs with the (empty) entrypoint of a
/// host image; neither runs the image's default command.
pub fn argv(container: &Container, catalog: &HostImageCatalog) -> Vec<String> {
    let command = container.command.clone().filter(|c| !c.is_empty());
    let args = container.args.clone().filter(|a| !a.is_empty());
    match (command, args) {
        (Some(mut command), args) => {
            command.extend(args.unwrap_or_default());
            command
        }
        (None, Some(args)) => args,
        (None, None) => container
            .image
            .as_deref()
            .and_then(|i| catalog.default_command(i))
            .unwrap_or_else(|| vec!["sh".to_string()]),
    }
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Finds the program as runc's `exec` would: a name with a slash is used as is, other
/// names are searched in the container's `PATH`. Paths are checked through the volume
/// mounts. Errors carry runc's wording.
pub fn resolve_executable(
    program: &str,
    path_env: &str,
    cwd: &Path,
    volumes: &PreparedVolumes,
) -> Result<PathBuf, String> {
    if program.is_empty() {
        return Err("exec: \"\": executable file not found in $PATH".to_string());
    }
    if program.contains('/') {
        let in_container = if Path::new(program).is_absolute() {
            PathBuf::from(program)
        } else {
            cwd.join(program)
        };
        let host = volumes.host_path(&in_container);
        return match fs::metadata(&host) {
            Err(e) => Err(format!(
                "exec: \"{program}\": stat {program}: {}",
                volumes::describe_io(&e)
            )),
            Ok(m) if m.is_dir() => Err(format!("exec: \"{program}\": is a directory")),
            Ok(_) if !is_executable(&host) => {
                Err(format!("exec: \"{program}\": permission denied"))
            }
            Ok(_) => Ok(host),
        };
    }
    for dir in path_env.split(':').filter(|d| !d.is_empty()) {
        let candidate = volumes.host_path(&Path::new(dir).join(program));
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err(format!(
        "exec: \"{program}\": executable file not found in $PATH"
    ))
}

fn user_and_group(pod: &Pod, container: &Container) -> (Option<u32>, Option<u32>) {
    let pod_context = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    let own = container.security_context.as_ref();
    let uid = own
        .and_then(|c| c.run_as_user)
        .or_else(|| pod_context.and_then(|c| c.run_as_user));
    let gid = own
        .and_then(|c| c.run_as_group)
        .or_else(|| pod_context.and_then(|c| c.run_as_group));
    (uid.map(|u| u as u32), gid.map(|g| g as u32))
}

fn limit(container: &Container, name: &str) -> Option<corral_api::Quantity> {
    let q = container.resources.as_ref()?.limits.as_ref()?.get(name)?;
    corral_api::Quantity::from_wire(q)
        .ok()
        .filter(|q| !q.is_zero())
}

fn c_path(path: &Path) -> Option<CString> {
    CString::new(path.as_os_str().as_encoded_bytes()).ok()
}

/// Starts one container instance; the event says whether it runs.
pub(crate) fn start(
    inner: &Arc<RuntimeInner>,
    context: PodContext<'_>,
    pod_uid: &Uid,
    container: &Container,
    resolved_env: Vec<(String, String)>,
    restart_count: i32,
) -> RuntimeEvent {
    let name = container.name.as_str();
    let config = &inner.config;
    let capabilities = &config.capabilities;
    let pod = context.pod;
    let pod_dir = logs::pod_dir(&config.data_dir, pod_uid.as_str());
    let id = new_container_id(inner, pod_uid, name, restart_count);
    let container_id = format!("{CONTAINER_ID_SCHEME}{id}");
    let log_path = logs::log_path(&config.data_dir, pod_uid.as_str(), name, &id);
    if let Some(parent) = log_path.parent()
        && let Err(e) = fs::create_dir_all(parent)
    {
        return failed(
            pod_uid,
            name,
            start_error(format!("create log directory: {e}")),
        );
    }
    let mode = capabilities.mount_mode();
    let volume_context = VolumeContext {
        pod,
        pod_dir: &pod_dir,
        data_dir: &config.data_dir,
        objects: &inner.objects,
    };
    let prepared = match volumes::prepare(&volume_context, container, mode) {
        Ok(p) => p,
        Err(e) => {
            return failed(
                pod_uid,
                name,
                start_error(format!("error during container init: {}", e.0)),
            );
        }
    };
    let env = container_env(
        pod,
        resolved_env,
        &prepared,
        user_and_group(pod, container).0,
    );
    let argv = argv(container, &config.catalog);
    let path_env = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map_or(DEFAULT_PATH, |(_, v)| v.as_str());
    let cwd = PathBuf::from(
        container
            .working_dir
            .as_deref()
            .filter(|w| !w.is_empty())
            .unwrap_or("/"),
    );
    // A working directory inside a volume only exists in the container's view.
    if !prepared.host_path(&cwd).is_dir() {
        let detail = format!(
            "error during container init: chdir to cwd ({:?}) set in config.json failed: no such file or directory",
            cwd.display().to_string()
        );
        return failed(pod_uid, name, start_error(detail));
    }
    let program = match resolve_executable(&argv[0], path_env, &cwd, &prepared) {
        Ok(p) => p,
        Err(detail) => return failed(pod_uid, name, start_error(detail)),
    };
    let (uid, gid) = user_and_group(pod, container);
    let own_uid = nix::unistd::geteuid().as_raw();
    if !capabilities.root
        && (uid.is_some_and(|u| u != own_uid)
            || gid.is_some_and(|g| g != nix::unistd::getegid().as_raw()))
    {
        let detail = format!(
            "error during container init: setuid/setgid to {}:{}: operation not permitted (the node agent does not run as root)",
            uid.unwrap_or(own_uid),
            gid.unwrap_or_else(|| nix::unistd::getegid().as_raw())
        );
        return failed(pod_uid, name, start_error(detail));
    }
    let cgroup = capabilities.cgroups.as_ref().and_then(|driver| {
        let memory = limit(container, "memory").map(|q| q.value());
        let cpu = limit(container, "cpu").map(|q| q.milli_value());
        let group_name = format!("{pod_uid}-{name}-{restart_count}");
        match driver.create(&group_name, memory, cpu) {
            Ok(group) => Some(group),
            Err(e) => {
                tracing::warn!(container = name, error = %e, "cannot create the container's cgroup; limits not enforced");
                None
            }
        }
    });
    let targets = match acquire_targets(inner, &prepared.mounts, mode) {
        Ok(t) => t,
        Err(detail) => {
            remove_cgroup(cgroup);
            return failed(
                pod_uid,
                name,
                start_error(format!("error during container init: {detail}")),
            );
        }
    };
    let log_file = match OpenOptions::new().create(true).append(true).open(&log_path) {
        Ok(f) => f,
        Err(e) => {
            release_targets(inner, &targets);
            remove_cgroup(cgroup);
            return failed(pod_uid, name, start_error(format!("open log file: {e}")));
        }
    };
    let mounts = (mode == MountMode::Namespace && !prepared.mounts.is_empty())
        .then(|| bind_mounts(&prepared.mounts));
    let setup = ChildSetup {
        thread_move: cgroup.as_ref().and_then(|c| c.thread_move()),
        cgroup_procs: cgroup
            .as_ref()
            .and_then(|c| c.procs_files().ok())
            .unwrap_or_default(),
        parent_death_signal: true,
        join_mount_namespace: None,
        mounts,
        cwd: c_path(&cwd),
        uid,
        gid,
    };
    let mut command = tokio::process::Command::new(&program);
    command
        .arg0(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(false);
    let mut child = match setup.spawn(&mut command) {
        Ok(child) => child,
        Err(e) => {
            release_targets(inner, &targets);
            remove_cgroup(cgroup);
            let detail = match e.raw_os_error() {
                Some(code) if code == nix::libc::ENOENT => format!(
                    "exec: \"{}\": stat {}: no such file or directory",
                    argv[0], argv[0]
                ),
                Some(code) if code == nix::libc::EACCES => {
                    format!("exec: \"{}\": permission denied", argv[0])
                }
                Some(code) if code == nix::libc::ENOEXEC => {
                    format!("exec: \"{}\": exec format error", argv[0])
                }
                _ => format!("error during container init: {}", volumes::describe_io(&e)),
            };
            return failed(pod_uid, name, start_error(detail));
        }
    };
    let pid = child.id().map_or(0, |p| p as i32);
    let (exited_sender, exited) = watch::channel(false);
    let running = Arc::new(Running {
        pod_uid: pod_uid.clone(),
        name: name.to_string(),
        pid,
        cgroup,
        env,
        cwd: Some(cwd),
        uid,
        gid,
        private_mounts: mode == MountMode::Namespace && !prepared.mounts.is_empty(),
        exited,
    });
    inner
        .containers
        .lock()
        .insert(container_id.clone(), Arc::clone(&running));
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let supervisor = Supervisor {
        inner: Arc::clone(inner),
        container_id: container_id.clone(),
        running,
        log_path,
        targets,
        exited: exited_sender,
    };
    tokio::spawn(supervisor.run(child, stdout, stderr, log_file));
    RuntimeEvent::ContainerStarted {
        pod_uid: pod_uid.clone(),
        container: name.to_string(),
        container_id,
        image_id: HostImageCatalog::image_ref_id(container.image.as_deref().unwrap_or_default()),
    }
}

/// The environment: image defaults (`PATH`, `HOSTNAME`, `HOME`), then the core's
/// resolved variables, then the volume fallback's variables.
fn container_env(
    pod: &Pod,
    resolved: Vec<(String, String)>,
    prepared: &PreparedVolumes,
    uid: Option<u32>,
) -> Vec<(String, String)> {
    let home = if uid.unwrap_or(nix::unistd::geteuid().as_raw()) == 0 {
        "/root"
    } else {
        "/"
    };
    let mut env = vec![
        ("PATH".to_string(), DEFAULT_PATH.to_string()),
        (
            "HOSTNAME".to_string(),
            pod.metadata.name.clone().unwrap_or_default(),
        ),
        ("HOME".to_string(), home.to_string()),
    ];
    for (k, v) in resolved.into_iter().chain(prepared.env.iter().cloned()) {
        match env.iter_mut().find(|(name, _)| *name == k) {
            Some(slot) => slot.1 = v,
            None => env.push((k, v)),
        }
    }
    env
}

fn bind_mounts(mounts: &[PreparedMount]) -> Vec<BindMount> {
    mounts
        .iter()
        .filter_map(|m| {
            Some(BindMount {
                source: c_path(&m.source)?,
                target: c_path(&m.target)?,
                read_only: m.read_only,
            })
        })
        .collect()
}

fn remove_cgroup(cgroup: Option<super::cgroups::ContainerCgroup>) {
    if let Some(group) = cgroup {
        group.remove();
    }
}

/// Makes every mount point exist (namespace mode: an empty directory or file; fallback:
/// a symlink to the source) and records the use. Returns the targets to release.
fn acquire_targets(
    inner: &RuntimeInner,
    mounts: &[PreparedMount],
    mode: MountMode,
) -> Result<Vec<PathBuf>, String> {
    let mut acquired = Vec::new();
    let mut table = inner.mount_targets.lock();
    for mount in mounts {
        let target = &mount.target;
        if let Some(entry) = table.targets.get_mut(target) {
            entry.users += 1;
            acquired.push(target.clone());
            continue;
        }
        let exists = fs::symlink_metadata(target).is_ok();
        let created = match (mode, exists) {
            (_, true) => false,
            (MountMode::Namespace, false) => {
                // The mount point is made on the host's filesystem, which every agent on
                // the machine shares (`corral up` and `corral node` processes, tests run
                // in parallel): another agent may be creating or using the same path
                // (`/var/run/secrets/kubernetes.io/serviceaccount` is in every pod), so
                // creation tolerates races and the mount point is left in place (never
                // removed: removing it could pull it from under another agent's
                // container between its creation and its bind mount).
                create_mount_point(target, mount.source.is_dir())
                    .map_err(|e| format!("create mount point {}: {e}", target.display()))?;
                false
            }
            (MountMode::Symlink, false) => {
                let linked = create_parents(target).and_then(|parents| {
                    table.parents.extend(parents);
                    std::os::unix::fs::symlink(&mount.source, target)
                });
                if let Err(e) = linked {
                    tracing::warn!(target = %target.display(), error = %e, "cannot link the volume at its mountPath; it is reachable through CORRAL_VOLUME_*");
                    continue;
                }
                true
            }
        };
        table
            .targets
            .insert(target.clone(), TargetUse { users: 1, created });
        acquired.push(target.clone());
    }
    Ok(acquired)
}

/// Makes `target` exist as a directory (or an empty file), with its parents; a path made
/// by someone else at the same time is fine.
fn create_mount_point(target: &Path, directory: bool) -> std::io::Result<()> {
    let mut attempt = 0;
    loop {
        let parent = target.parent().map(fs::create_dir_all).unwrap_or(Ok(()));
        let made = parent.and_then(|()| {
            if directory {
                fs::create_dir(target)
            } else {
                fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(target)
                    .map(|_| ())
            }
        });
        match made {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
            // A parent vanished between its creation and ours (another agent cleaning
            // up an older version's mount points): try again.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt < 5 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Creates the missing parents of `path`, returning them (outermost first).
fn create_parents(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    let mut current = path.parent();
    while let Some(dir) = current {
        if dir.exists() {
            break;
        }
        missing.push(dir.to_path_buf());
        current = dir.parent();
    }
    missing.reverse();
    for dir in &missing {
        fs::create_dir(dir)?;
    }
    Ok(missing)
}

fn release_targets(inner: &RuntimeInner, targets: &[PathBuf]) {
    let mut table = inner.mount_targets.lock();
    for target in targets {
        let Some(entry) = table.targets.get_mut(target) else {
            continue;
        };
        entry.users = entry.users.saturating_sub(1);
        if entry.users == 0
            && let Some(entry) = table.targets.remove(target)
            && entry.created
        {
            remove_created(target);
            remove_empty_parents(&mut table, target);
        }
    }
}

/// Removes a mount point the runtime created, only when it is empty (or a link).
fn remove_created(path: &Path) {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            let _ = fs::remove_file(path);
        }
        Ok(m) if m.is_dir() => {
            let _ = fs::remove_dir(path);
        }
        Ok(m) if m.is_file() && m.len() == 0 => {
            let _ = fs::remove_file(path);
        }
        _ => {}
    }
}

/// Removes the runtime-created parents of `path` that are empty now, innermost first.
fn remove_empty_parents(table: &mut MountTable, path: &Path) {
    let mut current = path.parent();
    while let Some(dir) = current {
        if !table.parents.contains(dir) || fs::remove_dir(dir).is_err() {
            return;
        }
        table.parents.remove(dir);
        current = dir.parent();
    }
}

/// Removes every mount point the runtime created (shutdown).
pub(crate) fn release_all_targets(inner: &RuntimeInner) {
    let mut table = inner.mount_targets.lock();
    let targets: Vec<(PathBuf, TargetUse)> = table.targets.drain().collect();
    for (target, entry) in targets {
        if entry.created {
            remove_created(&target);
            remove_empty_parents(&mut table, &target);
        }
    }
}

struct Supervisor {
    inner: Arc<RuntimeInner>,
    container_id: String,
    running: Arc<Running>,
    log_path: PathBuf,
    targets: Vec<PathBuf>,
    exited: watch::Sender<bool>,
}

impl Supervisor {
    async fn run(
        self,
        mut child: tokio::process::Child,
        stdout: Option<tokio::process::ChildStdout>,
        stderr: Option<tokio::process::ChildStderr>,
        log_file: fs::File,
    ) {
        let log = Arc::new(std::sync::Mutex::new(log_file));
        let pumps = [
            stdout.map(|s| tokio::spawn(pump(s, "stdout", Arc::clone(&log)))),
            stderr.map(|s| tokio::spawn(pump(s, "stderr", Arc::clone(&log)))),
        ];
        let status = child.wait().await;
        let pid = self.running.pid;
        // The init process is gone: nothing else of the container may live on.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        let cgroup = self.running.cgroup.clone();
        let oom = match cgroup {
            Some(group) => tokio::task::spawn_blocking(move || {
                group.kill_all();
                let oom = group.oom_killed();
                group.remove();
                oom
            })
            .await
            .unwrap_or(false),
            None => false,
        };
        let drain = futures::future::join_all(pumps.into_iter().flatten());
        if tokio::time::timeout(LOG_DRAIN_LIMIT, drain).await.is_err() {
            tracing::warn!(container = %self.running.name, "container output still open after its processes ended");
        }
        let _ = fs::write(cri::done_marker(&self.log_path), b"");
        release_targets(&self.inner, &self.targets);
        let (exit_code, oom_killed) = match status {
            Ok(status) => match (status.code(), status.signal()) {
                (Some(code), _) => (code, oom),
                (None, Some(signal)) => (128 + signal, oom),
                (None, None) => (255, oom),
            },
            Err(e) => {
                tracing::warn!(container = %self.running.name, error = %e, "cannot wait for the container");
                (255, oom)
            }
        };
        self.inner.containers.lock().remove(&self.container_id);
        let _ = self.inner.events.send(RuntimeEvent::ContainerExited {
            pod_uid: self.running.pod_uid.clone(),
            container: self.running.name.clone(),
            container_id: self.container_id.clone(),
            exit_code,
            // Upstream CRI runtimes report the exit code only (128 + signal).
            signal: None,
            oom_killed,
        });
        let _ = self.exited.send(true);
    }
}

/// Copies one output stream into the log as CRI records.
async fn pump(
    stream: impl AsyncRead + Unpin,
    name: &'static str,
    log: Arc<std::sync::Mutex<fs::File>>,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut pending: Vec<u8> = Vec::new();
    let write = |line: &[u8], partial: bool| {
        let mut file = log.lock().unwrap_or_else(|e| e.into_inner());
        let _ = cri::write_record(&mut *file, jiff::Timestamp::now(), name, line, partial);
    };
    loop {
        let chunk = match reader.fill_buf().await {
            Ok([]) => break,
            Ok(chunk) => chunk,
            Err(_) => break,
        };
        let mut consumed = 0;
        while consumed < chunk.len() {
            let rest = &chunk[consumed..];
            match rest.iter().position(|b| *b == b'\n') {
                Some(end) => {
                    pending.extend_from_slice(&rest[..end]);
                    consumed += end + 1;
                    flush_lines(&mut pending, &write, true);
                }
                None => {
                    pending.extend_from_slice(rest);
                    consumed = chunk.len();
                    flush_lines(&mut pending, &write, false);
                }
            }
        }
        reader.consume(consumed);
    }
    if !pending.is_empty() {
        write(&pending, false);
    }
    let mut file = log.lock().unwrap_or_else(|e| e.into_inner());
    let _ = file.flush();
}

/// Writes `pending` out: partial records of `MAX_LINE` while it is too long, and the
/// rest as a full line when `complete`.
fn flush_lines(pending: &mut Vec<u8>, write: &impl Fn(&[u8], bool), complete: bool) {
    while pending.len() > cri::MAX_LINE {
        let rest = pending.split_off(cri::MAX_LINE);
        write(pending, true);
        *pending = rest;
    }
    if complete {
        write(pending, false);
        pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_follow_image_semantics() {
        let catalog = HostImageCatalog::builtin();
        let c = |command: Option<Vec<&str>>, args: Option<Vec<&str>>| Container {
            name: "c".into(),
            image: Some("busybox".into()),
            command: command.map(|v| v.into_iter().map(String::from).collect()),
            args: args.map(|v| v.into_iter().map(String::from).collect()),
            ..Default::default()
        };
        assert_eq!(
            argv(&c(Some(vec!["echo"]), Some(vec!["hi"])), &catalog),
            vec!["echo", "hi"]
        );
        assert_eq!(
            argv(&c(None, Some(vec!["echo", "hi"])), &catalog),
            vec!["echo", "hi"]
        );
        assert_eq!(argv(&c(None, None), &catalog), vec!["sh"]);
    }

    #[test]
    fn executables_are_found_or_fail_with_runcs_words() {
        let volumes = PreparedVolumes::default();
        let root = Path::new("/");
        assert!(resolve_executable("sh", DEFAULT_PATH, root, &volumes).is_ok());
        assert_eq!(
            resolve_executable("no-such-cmd", DEFAULT_PATH, root, &volumes).unwrap_err(),
            "exec: \"no-such-cmd\": executable file not found in $PATH"
        );
        assert_eq!(
            resolve_executable("/no/such", DEFAULT_PATH, root, &volumes).unwrap_err(),
            "exec: \"/no/such\": stat /no/such: no such file or directory"
        );
    }
}
