//! The walking skeleton with the real binary: `eigen serve` on a free
//! loopback port with a temporary data directory, and `eigen submit`,
//! `watch`, `status`, `results`, `cancel` against it.

mod cli_support;

use cli_support::{Server, assert_bell_counts, example, run};

fn server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    (dir, server)
}

#[test]
fn submit_wait_json_returns_bell_counts() {
    let (_dir, server) = server();
    let out = run(server.submit_example("bell.qasm", &["--shots", "1000", "--wait", "--json"]));
    out.assert_success();
    let v = out.json();
    assert!(v["job_id"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    assert_eq!(v["status"], "DONE", "{v}");
    assert_bell_counts(&v["counts"], 1000);
}

#[test]
fn submit_watch_prints_ordered_updates_then_counts() {
    let (_dir, server) = server();
    let out = run(server.submit_example("bell.qasm", &["--shots", "1000", "--watch"]));
    out.assert_success();
    let updates: Vec<(u64, String)> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| {
            let mut parts = l.split_whitespace();
            let seq = parts.next().and_then(|s| s.parse().ok()).expect("event_seq");
            (seq, parts.next().expect("status").to_owned())
        })
        .collect();
    assert!(updates.len() >= 2, "{}", out.stdout);
    let seqs: Vec<u64> = updates.iter().map(|u| u.0).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "updates are gapless from 1:\n{}", out.stdout);
    assert_eq!(updates.last().map(|u| u.1.as_str()), Some("DONE"), "{}", out.stdout);
    assert_eq!(updates.iter().filter(|u| u.1 == "DONE").count(), 1, "{}", out.stdout);
    // The table that follows the updates.
    let table: Vec<&str> = out.stdout.lines().skip_while(|l| !l.starts_with("outcome")).collect();
    assert!(table.iter().any(|l| l.starts_with("00 ")), "{}", out.stdout);
    assert!(table.iter().any(|l| l.starts_with("11 ")), "{}", out.stdout);
    assert!(out.stdout.contains("1000 shots"), "{}", out.stdout);
}

#[test]
fn submit_returns_the_id_and_status_results_watch_cancel_follow_it() {
    let (_dir, server) = server();
    let out = run(server.submit_example("ghz.qasm", &["--shots", "500", "--seed", "11", "--json"]));
    out.assert_success();
    let v = out.json();
    let job = v["job_id"].as_str().expect("job_id").to_owned();

    // `watch` replays from the first event to the terminal one.
    let w = run(server.eigen(&["watch", &job]));
    w.assert_success();
    let last = w.stdout.lines().rfind(|l| l.starts_with('#')).expect("updates");
    assert!(last.contains(" DONE"), "{}", w.stdout);
    assert!(w.stdout.lines().next().is_some_and(|l| l.starts_with("#1 ")), "{}", w.stdout);

    let s = run(server.eigen(&["status", &job, "--json"]));
    s.assert_success();
    let s = s.json();
    assert_eq!(s["job_id"], job.as_str());
    assert_eq!(s["status"], "DONE");
    let counts = s["counts"].as_object().expect("counts once DONE");
    assert_eq!(counts.values().filter_map(serde_json::Value::as_u64).sum::<u64>(), 500);
    assert!(counts.keys().all(|k| k == "00000" || k == "11111"), "{counts:?}");

    let r = run(server.eigen(&["results", &job, "--json"]));
    r.assert_success();
    let r = r.json();
    assert_eq!(r["job_id"], job.as_str());
    assert_eq!(r["status"], "DONE");
    assert_eq!(r["counts"], s["counts"]);
    assert_eq!(r["metadata"]["shots"], 500);
    assert_eq!(r["metadata"]["seed"], 11);
    assert_eq!(r["metadata"]["device_id"], "sim");

    // Human-readable results: a table and a histogram.
    let t = run(server.eigen(&["results", &job]));
    t.assert_success();
    assert!(t.stdout.starts_with("outcome"), "{}", t.stdout);
    assert!(t.stdout.contains('█'), "{}", t.stdout);

    // Cancelling a finished job leaves it DONE.
    let c = run(server.eigen(&["cancel", &job, "--json"]));
    c.assert_success();
    assert_eq!(c.json()["status"], "DONE");
}

#[test]
fn memory_is_returned_when_asked_for() {
    let (_dir, server) = server();
    let out =
        run(server.submit_example("bell.qasm", &["--shots", "20", "--memory", "--wait", "--json"]));
    out.assert_success();
    let v = out.json();
    let memory = v["memory"].as_array().expect("memory");
    assert_eq!(memory.len(), 20);
    assert!(memory.iter().all(|m| m == "00" || m == "11"), "{v}");
}

#[test]
fn unknown_job_is_not_found_on_one_line() {
    let (_dir, server) = server();
    for cmd in ["status", "results", "cancel", "watch"] {
        let out = run(server.eigen(&[cmd, "01890000-0000-7000-8000-000000000000"]));
        assert!(!out.status.success(), "{cmd}: {out:#?}");
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{cmd}: one line expected: {out:#?}");
        assert!(lines[0].contains("NOT_FOUND"), "{cmd}: {out:#?}");
        assert!(out.stdout.is_empty(), "{cmd}: {out:#?}");
    }
}

#[test]
fn broken_program_is_rejected_with_its_position() {
    let (dir, server) = server();
    let file = dir.path().join("broken.qasm");
    std::fs::write(&file, "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\nhh q[0];\n")
        .expect("write");
    let out = run(server.eigen(&[
        "submit",
        file.to_str().expect("utf-8 path"),
        "--target",
        "sim",
        "--wait",
    ]));
    assert!(!out.status.success(), "{out:#?}");
    assert!(out.stderr.contains("INVALID_ARGUMENT"), "{out:#?}");
    assert!(out.stderr.contains("broken.qasm:4:"), "{out:#?}");
}

#[test]
fn unknown_target_is_a_clear_error() {
    let (_dir, server) = server();
    let bell = example("bell.qasm");
    let out = run(server.eigen(&[
        "submit",
        bell.to_str().expect("utf-8 path"),
        "--target",
        "no-such-device",
    ]));
    assert!(!out.status.success(), "{out:#?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:#?}");
    assert!(out.stderr.contains("NOT_FOUND"), "{out:#?}");
}

#[test]
fn no_server_is_unavailable() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let out = run(cli_support::eigen(&["devices", "--addr", &format!("127.0.0.1:{port}")]));
    assert!(!out.status.success(), "{out:#?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:#?}");
    assert!(out.stderr.contains("UNAVAILABLE"), "{out:#?}");
}
