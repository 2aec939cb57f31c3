//! Probes, as the kubelet's prober runs them: `exec` in the container's context (its
//! environment, working directory, user and mount namespace) with a timeout; `httpGet`
//! (success for 200–399, `kube-probe/1.32` user agent, HTTPS without verification, as
//! upstream); `tcpSocket` (a connect). Host defaults to the pod IP. Results carry
//! upstream's failure messages.

use std::ffi::CString;
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use k8s_openapi::api::core::v1::{ContainerPort, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::Running;
use super::sys::ChildSetup;

/// Output kept from an exec probe (upstream: 10 KiB).
const OUTPUT_LIMIT: usize = 10 * 1024;

/// Runs one probe; `(success, output)`.
pub(crate) async fn run(
    running: &Running,
    probe: &Probe,
    timeout: Duration,
    pod_ip: &str,
    ports: &[ContainerPort],
) -> (bool, String) {
    if let Some(exec) = &probe.exec {
        return exec_probe(
            running,
            exec.command.as_deref().unwrap_or_default(),
            timeout,
        )
        .await;
    }
    if let Some(get) = &probe.http_get {
        let port = match resolve_port(&get.port, ports) {
            Ok(p) => p,
            Err(e) => return (false, e),
        };
        let host = get
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| pod_ip.to_string());
        let path = get
            .path
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        let path = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        let https = get.scheme.as_deref() == Some("HTTPS");
        let headers: Vec<(String, String)> = get
            .http_headers
            .iter()
            .flatten()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect();
        return http_probe(&host, port, &path, https, &headers, timeout).await;
    }
    if let Some(tcp) = &probe.tcp_socket {
        let port = match resolve_port(&tcp.port, ports) {
            Ok(p) => p,
            Err(e) => return (false, e),
        };
        let host = tcp
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| pod_ip.to_string());
        return match connect(&host, port, timeout).await {
            Ok(_) => (true, String::new()),
            Err(e) => (false, e),
        };
    }
    if probe.grpc.is_some() {
        return (
            false,
            "gRPC probes are not supported by the corral-process runtime".into(),
        );
    }
    (false, "missing probe handler".into())
}

fn resolve_port(port: &IntOrString, ports: &[ContainerPort]) -> Result<u16, String> {
    match port {
        IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("invalid port number: {n}")),
        IntOrString::String(name) => match name.parse::<u16>() {
            Ok(n) => Ok(n),
            Err(_) => ports
                .iter()
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .and_then(|p| u16::try_from(p.container_port).ok())
                .ok_or_else(|| format!("couldn't find port: {name} in the container's ports")),
        },
    }
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

async fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let address = join_host_port(host, port);
    match tokio::time::timeout(timeout, TcpStream::connect(&address)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => {
            let detail = super::volumes::describe_io(&e);
            Err(format!("dial tcp {address}: connect: {detail}"))
        }
        Err(_) => Err(format!("dial tcp {address}: i/o timeout")),
    }
}

async fn http_probe(
    host: &str,
    port: u16,
    path: &str,
    https: bool,
    headers: &[(String, String)],
    timeout: Duration,
) -> (bool, String) {
    let scheme = if https { "https" } else { "http" };
    let authority = join_host_port(host, port);
    let url = format!("{scheme}://{authority}{path}");
    let attempt = async {
        let tcp = connect(host, port, timeout).await?;
        let mut request = http::Request::get(path)
            .header(http::header::HOST, &authority)
            .header(http::header::USER_AGENT, "kube-probe/1.32")
            .header(http::header::ACCEPT, "*/*");
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let status = if https {
            let connector =
                tokio_rustls::TlsConnector::from(crate::tls::insecure_client_config(vec![
                    b"http/1.1".to_vec(),
                ]));
            let name = crate::tls::server_name(host);
            let tls = connector
                .connect(name, tcp)
                .await
                .map_err(|e| e.to_string())?;
            send(hyper_util::rt::TokioIo::new(tls), request).await?
        } else {
            send(hyper_util::rt::TokioIo::new(tcp), request).await?
        };
        Ok::<u16, String>(status)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(status)) if (200..400).contains(&status) => (true, String::new()),
        Ok(Ok(status)) => (
            false,
            format!("HTTP probe failed with statuscode: {status}"),
        ),
        Ok(Err(e)) if e.starts_with("dial tcp") => (false, format!("Get \"{url}\": {e}")),
        Ok(Err(e)) => (false, format!("Get \"{url}\": {e}")),
        Err(_) => (
            false,
            format!(
                "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
            ),
        ),
    }
}

async fn send<T>(io: T, request: http::Request<Empty<Bytes>>) -> Result<u16, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    // Read (and bound) the body so the connection finishes cleanly.
    let mut body = response.into_body();
    let mut read = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        read += frame.data_ref().map_or(0, |d| d.len());
        if read > OUTPUT_LIMIT {
            break;
        }
    }
    driver.abort();
    Ok(status)
}

async fn exec_probe(running: &Running, command: &[String], timeout: Duration) -> (bool, String) {
    let Some(program) = command.first() else {
        return (
            false,
            "exec: \"\": executable file not found in $PATH".into(),
        );
    };
    let path_env = running
        .env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map_or(super::container::DEFAULT_PATH, |(_, v)| v.as_str());
    let namespace = if running.private_mounts {
        std::fs::File::open(format!("/proc/{}/ns/mnt", running.pid)).ok()
    } else {
        None
    };
    // In a private mount namespace the lookup happens inside it (after setns), so only
    // the name is checked there; on the host the path can be checked here.
    let resolved = if namespace.is_some() {
        Ok(std::path::PathBuf::from(program))
    } else {
        let cwd = running.cwd.clone().unwrap_or_else(|| "/".into());
        super::container::resolve_executable(
            program,
            path_env,
            &cwd,
            &super::volumes::PreparedVolumes::default(),
        )
    };
    let program_path = match resolved {
        Ok(p) => p,
        Err(detail) => {
            return (
                false,
                format!(
                    "OCI runtime exec failed: exec failed: unable to start container process: {detail}: unknown"
                ),
            );
        }
    };
    let setup = ChildSetup {
        thread_move: running.cgroup.as_ref().and_then(|c| c.thread_move()),
        cgroup_procs: running
            .cgroup
            .as_ref()
            .and_then(|c| c.procs_files().ok())
            .unwrap_or_default(),
        parent_death_signal: true,
        join_mount_namespace: namespace,
        mounts: None,
        cwd: running
            .cwd
            .as_ref()
            .and_then(|c| CString::new(c.as_os_str().as_encoded_bytes()).ok()),
        uid: running.uid,
        gid: running.gid,
    };
    let mut cmd = tokio::process::Command::new(&program_path);
    cmd.arg0(program)
        .args(&command[1..])
        .env_clear()
        .envs(running.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match setup.spawn(&mut cmd) {
        Ok(c) => c,
        Err(e) => {
            return (
                false,
                format!(
                    "OCI runtime exec failed: exec failed: unable to start container process: exec: \"{program}\": {}: unknown",
                    super::volumes::describe_io(&e)
                ),
            );
        }
    };
    let pid = child.id().map_or(0, |p| p as i32);
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let collect = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let read_out = async {
            if let Some(s) = stdout.as_mut() {
                let _ = s.take(OUTPUT_LIMIT as u64).read_to_end(&mut out).await;
            }
        };
        let read_err = async {
            if let Some(s) = stderr.as_mut() {
                let _ = s.take(OUTPUT_LIMIT as u64).read_to_end(&mut err).await;
            }
        };
        tokio::join!(read_out, read_err);
        let status = child.wait().await;
        out.extend_from_slice(&err);
        (status, out)
    };
    match tokio::time::timeout(timeout, collect).await {
        Ok((Ok(status), output)) => {
            let text =
                String::from_utf8_lossy(&output[..output.len().min(OUTPUT_LIMIT)]).into_owned();
            (status.success(), text)
        }
        Ok((Err(e), _)) => (false, e.to_string()),
        Err(_) => {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            (false, format!("command {:?} timed out", command.join(" ")))
        }
    }
}
