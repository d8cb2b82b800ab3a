//! `eigen serve` as an operator runs it: `/metrics`, SIGTERM, restart on the
//! same data directory, and the split deployment (`--role kernel` plus
//! `--role api --kernel URL`).

mod cli_support;
mod tls_support;

use cli_support::{Server, assert_bell_counts, eigen, example, run};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn submit_bell_wait(server: &Server) -> serde_json::Value {
    let out = run(server.submit_example("bell.qasm", &["--shots", "1000", "--wait", "--json"]));
    out.assert_success();
    out.json()
}

#[test]
fn metrics_are_served_in_prometheus_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    submit_bell_wait(&server);
    let mut conn = TcpStream::connect(&server.metrics).expect("connect to /metrics");
    conn.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    write!(conn, "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", server.metrics)
        .expect("request");
    let mut body = String::new();
    conn.read_to_string(&mut body).expect("response");
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("# TYPE"), "{body}");
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_server_and_jobs_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path(), &[]);
    let done = submit_bell_wait(&server);
    let job = done["job_id"].as_str().expect("job_id").to_owned();

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    // Bounded by the grace period (5 s by default); the limit here only
    // keeps a broken shutdown from hanging the test.
    let status = server.wait_exit(Duration::from_secs(60)).expect("the server exits on SIGTERM");
    assert!(status.success(), "exit status {status:?}:\n{}", server.log());
    assert!(server.log().contains("eigen: shutting down"), "{}", server.log());

    let server = Server::start(dir.path(), &[]);
    let out = run(server.eigen(&["results", &job, "--json"]));
    out.assert_success();
    let v = out.json();
    assert_eq!(v["counts"], done["counts"], "results are durable");
    assert_bell_counts(&v["counts"], 1000);
}

#[test]
fn split_deployment_runs_a_job_through_the_remote_kernel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kernel = Server::start_role(dir.path(), &["--role", "kernel"]);
    let api_dir = tempfile::tempdir().expect("tempdir");
    let api = Server::start(api_dir.path(), &["--role", "api", "--kernel", &kernel.addr]);
    let v = submit_bell_wait(&api);
    assert_eq!(v["status"], "DONE");
    assert_bell_counts(&v["counts"], 1000);
    let devices = run(api.eigen(&["devices"]));
    devices.assert_success();
    assert!(devices.stdout.contains("sim-heavyhex-27"), "{}", devices.stdout);
}

/// `eigen watch` keeps following a job across a server crash: the connection
/// drops, the watcher backs off and reconnects, and resumes after the last
/// event it printed, so the updates stay gapless and end DONE exactly once.
#[test]
fn watch_resumes_after_the_server_is_killed_and_restarted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = Server::start_on(dir.path(), &listen, &[]);

    // Hold sim's only slot for a few seconds, so the job waits QUEUED
    // while the server is killed and restarted, and runs once it expires.
    let reserve = run(server.eigen(&["reserve", "sim", "--ttl-secs", "8", "--json"]));
    reserve.assert_success();
    let submit = run(server.submit_example("bell.qasm", &["--shots", "1000", "--json"]));
    submit.assert_success();
    let job = submit.json()["job_id"].as_str().expect("job_id").to_owned();

    // The watcher, in the background, reading the job's updates.
    let mut watcher = server.eigen(&["watch", &job]);
    watcher
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut watcher = watcher.spawn().expect("spawn eigen watch");
    let stdout = watcher.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            lines.push(line);
        }
        lines
    });
    // Wait until the watcher has seen the job queued.
    loop {
        let line = rx.recv_timeout(Duration::from_secs(60)).expect("an update from the watcher");
        if line.contains(" QUEUED") {
            break;
        }
    }

    server.kill();
    let server = Server::start_on(dir.path(), &listen, &[]);

    let status = {
        let deadline = std::time::Instant::now() + cli_support::COMMAND_DEADLINE;
        loop {
            if let Some(s) = watcher.try_wait().expect("wait") {
                break s;
            }
            if std::time::Instant::now() > deadline {
                let _ = watcher.kill();
                let _ = watcher.wait();
                panic!("eigen watch did not finish:\n{}", server.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let mut stderr = String::new();
    if let Some(mut e) = watcher.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let lines = reader.join().expect("reader");
    assert!(status.success(), "watch failed: {stderr}\n{lines:#?}\n{}", server.log());
    assert!(stderr.contains("connection lost"), "the watcher saw the crash: {stderr}");
    let seqs: Vec<u64> = lines
        .iter()
        .filter_map(|l| l.strip_prefix('#'))
        .filter_map(|l| l.split_whitespace().next().and_then(|s| s.parse().ok()))
        .collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "gapless across the restart: {lines:#?}");
    assert_eq!(lines.iter().filter(|l| l.contains(" DONE")).count(), 1, "{lines:#?}");
    assert!(lines.last().is_some_and(|l| l.contains(" DONE")), "{lines:#?}");
}

/// `EIGEN_ADDR=https://...` against `eigen serve` with a certificate from a
/// private CA: trusted through `--ca-cert`, `EIGEN_CA_CERT`, or the system
/// roots (`SSL_CERT_FILE`, as OpenSSL and rustls-native-certs read it);
/// refused with one clear line when the CA is not trusted or the client
/// speaks plaintext.
#[test]
fn https_client_trusts_a_private_ca_or_the_system_roots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (pki, server) = tls_server(dir.path());
    let https = server.addr.replacen("http://", "https://", 1);
    let bell = example("bell.qasm");
    let bell = bell.to_str().expect("utf-8 path");
    let ca = pki.ca.to_str().expect("utf-8 path");
    let client = |args: &[&str]| {
        let mut cmd = eigen(args);
        cmd.env("EIGEN_ADDR", &https).env_remove("EIGEN_CA_CERT").env_remove("SSL_CERT_DIR");
        cmd
    };

    // --ca-cert: a job to DONE.
    let mut cmd =
        client(&["submit", bell, "--target", "sim", "--shots", "1000", "--wait", "--json"]);
    cmd.args(["--ca-cert", ca]);
    let out = run(cmd);
    out.assert_success();
    let v = out.json();
    assert_eq!(v["status"], "DONE", "{v}");
    assert_bell_counts(&v["counts"], 1000);

    // EIGEN_CA_CERT.
    let mut cmd = client(&["devices", "--json"]);
    cmd.env("EIGEN_CA_CERT", ca);
    run(cmd).assert_success();

    // No CA given: the system's roots, here the CA through SSL_CERT_FILE.
    let mut cmd = client(&["devices", "--json"]);
    cmd.env("SSL_CERT_FILE", ca);
    run(cmd).assert_success();

    // System roots that do not hold the CA: refused, one line, non-zero exit.
    let other = tls_support::Pki::new("Another CA");
    let mut cmd = client(&["devices"]);
    cmd.env("SSL_CERT_FILE", &other.ca);
    let out = run(cmd);
    assert!(!out.status.success(), "{out:#?}");
    assert_eq!(out.stderr.trim().lines().count(), 1, "{out:#?}");
    assert!(out.stderr.contains("UNAVAILABLE") && out.stderr.contains("certificate"), "{out:#?}");
}

/// A CA, and `eigen serve` under `dir` with a certificate it signed.
fn tls_server(dir: &std::path::Path) -> (tls_support::Pki, Server) {
    let pki = tls_support::Pki::new("Eigen CLI test CA");
    let config = dir.join("eigen.toml");
    let toml_path = |p: &std::path::Path| p.to_str().expect("utf-8 path").replace('\\', "\\\\");
    std::fs::write(
        &config,
        format!("[tls]\ncert = \"{}\"\nkey = \"{}\"\n", toml_path(&pki.cert), toml_path(&pki.key)),
    )
    .expect("write config");
    let server = Server::start(&dir.join("data"), &["--config", config.to_str().expect("utf-8")]);
    (pki, server)
}

/// A plaintext client against the TLS port is refused with one line and a
/// non-zero exit. (The server's reset of the connection reaches the client
/// as a broken pipe; it once passed for a closed stdout, exit 0 and silence.)
#[test]
fn plaintext_client_against_the_tls_port_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_pki, server) = tls_server(dir.path());
    let mut cmd = eigen(&["devices"]);
    cmd.env("EIGEN_ADDR", &server.addr);
    let out = run(cmd);
    assert!(!out.status.success(), "{out:#?}");
    assert_eq!(out.stderr.trim().lines().count(), 1, "{out:#?}");
}

/// The string field `key` of a JSON log line, wherever tracing put it: on
/// the event itself or on one of its spans.
fn log_field<'a>(line: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    let spans = line["spans"].as_array().into_iter().flatten();
    std::iter::once(line)
        .chain(std::iter::once(&line["span"]))
        .chain(spans)
        .find_map(|v| v[key].as_str())
}

/// `EIGEN_TOKEN` authenticates the CLI against a server with API keys; and
/// with `--log-format json` every server log line about the job carries its
/// `job_id` and a `trace_id`.
#[test]
fn token_from_the_environment_and_json_logs_with_job_and_trace_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("eigen.toml");
    std::fs::write(
        &config,
        format!(
            "[[api_keys]]\ntenant = \"acme\"\nsha256 = \"{}\"\n",
            eigen_api::auth::hash_key("cli-secret")
        ),
    )
    .expect("write config");
    let server = Server::start(
        &dir.path().join("data"),
        &["--config", config.to_str().expect("utf-8"), "--log-format", "json"],
    );
    let bell = example("bell.qasm");
    let submit = ["submit", bell.to_str().expect("utf-8"), "--target", "sim", "--wait", "--json"];

    let out = run(server.eigen(&submit));
    assert!(!out.status.success(), "no token: {out:#?}");
    assert_eq!(out.stderr.trim().lines().count(), 1, "{out:#?}");
    assert!(out.stderr.contains("UNAUTHENTICATED"), "{out:#?}");

    let mut cmd = server.eigen(&submit);
    cmd.env("EIGEN_TOKEN", "cli-secret");
    let out = run(cmd);
    out.assert_success();
    let job_id = out.json()["job_id"].as_str().expect("job_id").to_owned();

    // Give the server a moment to write its last lines about the job.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let about_job = loop {
        let lines: Vec<serde_json::Value> =
            server.log().lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        let about: Vec<serde_json::Value> =
            lines.into_iter().filter(|l| log_field(l, "job_id") == Some(job_id.as_str())).collect();
        let finished = about.iter().any(|l| log_field(l, "to") == Some("COMPLETED"));
        if finished || std::time::Instant::now() > deadline {
            break about;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(about_job.len() >= 3, "few lines about {job_id}:\n{}", server.log());
    for line in &about_job {
        let trace = log_field(line, "trace_id").unwrap_or_default();
        assert!(!trace.is_empty(), "no trace_id on {line}");
    }
}

/// A public address without authentication is refused unless `--insecure`.
#[test]
fn public_bind_without_auth_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = eigen(&["serve", "--listen", "0.0.0.0:0", "--metrics-listen", "127.0.0.1:0"]);
    cmd.arg("--data-dir").arg(dir.path()).env_remove("EIGEN_CONFIG");
    let out = run(cmd);
    assert!(!out.status.success(), "{out:#?}");
    assert!(out.stderr.contains("--insecure"), "{out:#?}");
}
