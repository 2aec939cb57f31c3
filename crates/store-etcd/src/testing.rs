//! Test support: [`EtcdServer`], a throw-away single-member etcd on loopback.
//!
//! Used by this crate's tests and benchmark, and by any other crate that wants a real
//! etcd in a test. It runs the `etcd` binary from `PATH` (Debian's `etcd-server`; or the
//! one `CORRAL_ETCD_BIN` names) on two free loopback ports with its own data directory
//! under the system temp directory, and stops it by PID when dropped (the directory is
//! removed too). Nothing here is used by the backend itself.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a start waits for etcd to report healthy.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const READY_POLL: Duration = Duration::from_millis(20);
/// Tries with fresh ports when another process took a port between probe and start.
const START_ATTEMPTS: usize = 3;

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// A running (or stopped, restartable) etcd.
#[derive(Debug)]
pub struct EtcdServer {
    binary: PathBuf,
    child: Option<Child>,
    dir: PathBuf,
    client_port: u16,
    peer_port: u16,
    extra_args: Vec<String>,
}

impl EtcdServer {
    /// The etcd binary: `CORRAL_ETCD_BIN`, or `etcd` found in `PATH`.
    pub fn binary() -> Option<PathBuf> {
        if let Some(explicit) = std::env::var_os("CORRAL_ETCD_BIN") {
            return Some(PathBuf::from(explicit)).filter(|p| p.is_file());
        }
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|dir| dir.join("etcd"))
            .find(|candidate| candidate.is_file())
    }

    /// Starts a fresh etcd with default settings.
    pub fn start() -> std::io::Result<EtcdServer> {
        EtcdServer::start_with(&[])
    }

    /// Starts a fresh etcd with extra flags (`--max-txn-ops=16`).
    pub fn start_with(extra_args: &[&str]) -> std::io::Result<EtcdServer> {
        let binary = EtcdServer::binary().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no etcd binary in PATH (apt-get install etcd-server)",
            )
        })?;
        let dir = std::env::temp_dir().join(format!(
            "corral-etcd-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let mut server = EtcdServer {
            binary,
            child: None,
            dir,
            client_port: 0,
            peer_port: 0,
            extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
        };
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            server.client_port = free_port()?;
            server.peer_port = free_port()?;
            match server.launch() {
                Ok(()) => return Ok(server),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| std::io::Error::other("etcd did not start")))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// etcd's own log (stdout and stderr of every start).
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("etcd.log")
    }

    /// Kills etcd (SIGKILL, by PID) and waits for it: a crash, from etcd's point of view.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts etcd again on the same data directory and ports.
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.stop();
        self.launch()
    }

    fn launch(&mut self) -> std::io::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let client = format!("http://127.0.0.1:{}", self.client_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let data_dir = self.data_dir();
        let mut command = Command::new(&self.binary);
        command
            .arg("--name=corral-test")
            .arg(format!("--data-dir={}", data_dir.display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=corral-test={peer}"))
            .arg("--logger=zap")
            .arg("--log-level=warn")
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let mut child = command.spawn()?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(std::io::Error::other(format!(
                    "etcd exited with {status} during start: {}",
                    self.log_tail()
                )));
            }
            if healthy(self.client_port) {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "etcd not healthy after {READY_TIMEOUT:?}: {}",
                        self.log_tail()
                    ),
                ));
            }
            std::thread::sleep(READY_POLL);
        }
    }

    /// The last lines of etcd's log, for errors (the directory goes away with the server).
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(5)..].join("\n")
    }

    /// The temporary directory holding the data directory and the log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// `GET /health` answers `{"health":"true"}` once etcd serves requests.
fn healthy(port: u16) -> bool {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.contains("\"health\":\"true\"")
}
