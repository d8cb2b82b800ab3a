//! Shared by the CLI tests: runs the real `eigen` binary, as a server and as
//! a client, and kills every server it started when the test ends (also on
//! panic), through [`Server`]'s `Drop`.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a command may run before the test gives up on it (a hang guard,
/// not a performance check).
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(180);

/// The built binary.
pub fn eigen_bin() -> &'static str {
    env!("CARGO_BIN_EXE_eigen")
}

/// The workspace's `examples/` file `name`.
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("examples").join(name)
}

/// What a finished command printed.
#[derive(Debug)]
pub struct Output {
    /// Its exit status.
    pub status: ExitStatus,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
}

impl Output {
    /// Panics with both streams unless the command succeeded.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "command failed: {self:#?}");
        self
    }

    /// stdout parsed as one JSON value.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// Runs `cmd` to completion, killing it past [`COMMAND_DEADLINE`].
pub fn run(mut cmd: Command) -> Output {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn eigen");
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > COMMAND_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("command {cmd:?} hung for {COMMAND_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output { status, stdout: out_t.join().expect("reader"), stderr: err_t.join().expect("reader") }
}

/// A client command: `eigen ARGS` with no server address from the outside
/// environment.
pub fn eigen(args: &[&str]) -> Command {
    let mut cmd = Command::new(eigen_bin());
    cmd.args(args).env_remove("EIGEN_TOKEN").env_remove("EIGEN_ADDR");
    cmd
}

/// A running `eigen serve` on free loopback ports with its own data
/// directory. Dropping it kills the process.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT` of the public API.
    pub addr: String,
    /// `127.0.0.1:PORT` of `/metrics`.
    pub metrics: String,
    /// The data directory (kept by the caller's `TempDir`).
    pub data_dir: PathBuf,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `eigen serve` on `data_dir` and waits for its bound addresses
    /// (public API and metrics).
    pub fn start(data_dir: &Path, extra: &[&str]) -> Self {
        Self::start_with(data_dir, extra, true)
    }

    /// Starts a `--role kernel` server: only the gateway address is awaited.
    pub fn start_role(data_dir: &Path, extra: &[&str]) -> Self {
        Self::start_with(data_dir, extra, false)
    }

    /// Starts `eigen serve` on a given public address (to restart a server
    /// where its clients expect it).
    pub fn start_on(data_dir: &Path, listen: &str, extra: &[&str]) -> Self {
        Self::spawn(data_dir, listen, extra, true)
    }

    fn start_with(data_dir: &Path, extra: &[&str], expect_metrics: bool) -> Self {
        Self::spawn(data_dir, "127.0.0.1:0", extra, expect_metrics)
    }

    fn spawn(data_dir: &Path, listen: &str, extra: &[&str], expect_metrics: bool) -> Self {
        let mut cmd = Command::new(eigen_bin());
        cmd.args(["serve", "--listen", listen, "--metrics-listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env_remove("EIGEN_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn eigen serve");
        let stderr = child.stderr.take().expect("piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        {
            let log = log.clone();
            // Keeps draining stderr for the server's whole life so it never
            // blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    for (prefix, key) in
                        [("eigen: listening on ", "api"), ("eigen: metrics on ", "metrics")]
                    {
                        if let Some(addr) = line.strip_prefix(prefix) {
                            let _ = tx.send((key, addr.trim().to_owned()));
                        }
                    }
                    let mut l = log.lock().expect("log lock");
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let mut server = Self {
            child: Some(child),
            addr: String::new(),
            metrics: String::new(),
            data_dir: data_dir.to_owned(),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.addr.is_empty() || (expect_metrics && server.metrics.is_empty()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(("api", a)) => server.addr = format!("http://{a}"),
                Ok((_, a)) => server.metrics = a,
                Err(_) => panic!("eigen serve did not report its addresses:\n{}", server.log()),
            }
        }
        server
    }

    /// Everything the server wrote on stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// A client command aimed at this server through `EIGEN_ADDR`.
    pub fn eigen(&self, args: &[&str]) -> Command {
        let mut cmd = eigen(args);
        cmd.env("EIGEN_ADDR", &self.addr);
        cmd
    }

    /// `eigen submit examples/<name> --target sim <flags>` aimed at this server.
    pub fn submit_example(&self, name: &str, flags: &[&str]) -> Command {
        let program = example(name);
        let mut cmd =
            self.eigen(&["submit", program.to_str().expect("utf-8 path"), "--target", "sim"]);
        cmd.args(flags);
        cmd
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Kills the process at once (SIGKILL: no shutdown, no flush).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for the process to exit by itself (after a signal), up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Asserts a Bell-pair histogram: only 00 and 11, `shots` in all, each
/// within 5 standard deviations of half.
#[track_caller]
pub fn assert_bell_counts(counts: &serde_json::Value, shots: u64) {
    let map = counts.as_object().unwrap_or_else(|| panic!("counts is not an object: {counts}"));
    let mut total = 0;
    for (k, v) in map {
        assert!(k == "00" || k == "11", "unexpected outcome {k} in {counts}");
        total += v.as_u64().expect("count is an integer");
    }
    assert_eq!(total, shots, "{counts}");
    let sigma = (shots as f64 * 0.25).sqrt();
    for k in ["00", "11"] {
        let n = map.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0) as f64;
        assert!(
            (n - shots as f64 / 2.0).abs() <= 5.0 * sigma,
            "{k} = {n} is more than 5 sigma from {} in {counts}",
            shots / 2
        );
    }
}
