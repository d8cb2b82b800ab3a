//! `eigen run`: compile and simulate in process, no server.

mod cli_support;

use cli_support::{assert_bell_counts, eigen, example, run};

fn run_json(file: &str, extra: &[&str]) -> serde_json::Value {
    let path = example(file);
    let mut args = vec!["run", path.to_str().expect("utf-8 path"), "--json"];
    args.extend_from_slice(extra);
    let out = run(eigen(&args));
    out.assert_success();
    out.json()
}

#[test]
fn run_simulates_openqasm2_and_3_alike() {
    for file in ["bell.qasm", "bell3.qasm"] {
        let v = run_json(file, &["--target", "sim", "--shots", "1000"]);
        assert_bell_counts(&v["counts"], 1000);
        assert!(v["timing_ms"]["total"].as_f64().is_some(), "{v}");
        assert!(v["timing_ms"]["execute"].as_f64().is_some(), "{v}");
    }
}

#[test]
fn run_with_a_seed_is_reproducible() {
    let a = run_json("ghz.qasm", &["--shots", "300", "--seed", "42"]);
    let b = run_json("ghz.qasm", &["--shots", "300", "--seed", "42"]);
    assert_eq!(a["counts"], b["counts"]);
    assert_eq!(a["seed"], 42);
    let keys: Vec<&String> = a["counts"].as_object().expect("counts").keys().collect();
    assert!(keys.iter().all(|k| *k == "00000" || *k == "11111"), "{a}");
}

#[test]
fn run_handles_mid_circuit_measurement_and_conditions() {
    // Teleportation of ry(1.2)|0>: P(out = 1) = sin^2(0.6).
    let v = run_json("teleport.qasm", &["--shots", "4000", "--seed", "3"]);
    let counts = v["counts"].as_object().expect("counts");
    let ones: u64 =
        counts.iter().filter(|(k, _)| k.starts_with('1')).filter_map(|(_, v)| v.as_u64()).sum();
    let p = 0.6f64.sin().powi(2);
    let sigma = (4000.0 * p * (1.0 - p)).sqrt();
    assert!((ones as f64 - 4000.0 * p).abs() <= 5.0 * sigma, "{ones} ones: {v}");
}

#[test]
fn run_prints_a_table_and_timing() {
    let path = example("bell.qasm");
    let out = run(eigen(&["run", path.to_str().expect("utf-8"), "--shots", "100"]));
    out.assert_success();
    assert!(out.stdout.starts_with("outcome"), "{}", out.stdout);
    assert!(out.stdout.contains("compile "), "{}", out.stdout);
    assert!(out.stdout.contains("execute "), "{}", out.stdout);
}

#[test]
fn run_reports_errors_with_positions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.qasm");
    std::fs::write(&file, "OPENQASM 3.0;\nqubit[2] q;\nh q[5];\n").expect("write");
    let out = run(eigen(&["run", file.to_str().expect("utf-8")]));
    assert!(!out.status.success(), "{out:#?}");
    assert!(out.stderr.contains(&format!("{}:3:", file.display())), "{out:#?}");

    let missing = run(eigen(&["run", "/nonexistent/x.qasm"]));
    assert!(!missing.status.success());
    assert_eq!(missing.stderr.lines().count(), 1, "{missing:#?}");
    assert!(missing.stderr.contains("cannot read"), "{missing:#?}");

    let target =
        run(eigen(&["run", example("bell.qasm").to_str().expect("utf-8"), "--target", "x"]));
    assert!(!target.status.success());
    assert!(target.stderr.contains("unknown target"), "{target:#?}");
}

/// `eigen run X | head`: a reader that goes away is not a failure, so exit 0
/// and nothing on stderr. (The read end is closed before the process starts,
/// so every write to stdout fails with a broken pipe.)
#[test]
fn closed_stdout_is_not_an_error() {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let path = example("bell.qasm");
    let mut cmd = eigen(&["run", path.to_str().expect("utf-8"), "--shots", "100"]);
    cmd.stdout(writer);
    let out = cmd.output().expect("run eigen");
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}
