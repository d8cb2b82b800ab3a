//! `eigen serve` as an operator runs it: `/metrics`, SIGTERM, restart on the
//! same data directory, and the split deployment (`--role kernel` plus
//! `--role api --kernel URL`).

mod cli_support;

use cli_support::{Server, assert_bell_counts, example, run};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn submit_bell_wait(server: &Server) -> serde_json::Value {
    let bell = example("bell.qasm");
    let out = run(server.eigen(&[
        "submit",
        bell.to_str().expect("utf-8 path"),
        "--target",
        "sim",
        "--shots",
        "1000",
        "--wait",
        "--json",
    ]));
    out.assert_success();
    out.json()
}

#[test]
fn metrics_are_served_in_prometheus_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    submit_bell_wait(&server);
    let mut conn = TcpStream::connect(&server.metrics).expect("connect to /metrics");
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        conn,
        "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.metrics
    )
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
    let status = server
        .wait_exit(Duration::from_secs(60))
        .expect("the server exits on SIGTERM");
    assert!(
        status.success(),
        "exit status {status:?}:\n{}",
        server.log()
    );
    assert!(
        server.log().contains("eigen: shutting down"),
        "{}",
        server.log()
    );

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
    assert!(
        devices.stdout.contains("sim-heavyhex-27"),
        "{}",
        devices.stdout
    );
}
