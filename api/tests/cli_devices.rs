//! `eigen devices`, `device`, `reserve`, `compile`, `validate` against a real
//! `eigen serve`.

mod cli_support;

use cli_support::{Server, example, run};
use std::collections::{BTreeMap, BTreeSet};

fn server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    (dir, server)
}

#[test]
fn devices_lists_the_default_simulators() {
    let (_dir, server) = server();
    let out = run(server.eigen(&["devices"]));
    out.assert_success();
    let mut lines = out.stdout.lines();
    assert!(lines.next().is_some_and(|h| h.starts_with("ID")), "{}", out.stdout);
    let ids: BTreeSet<&str> = lines.filter_map(|l| l.split_whitespace().next()).collect();
    for id in ["sim", "sim-noisy", "sim-heavyhex-27", "sim-grid-25"] {
        assert!(ids.contains(id), "{id} missing from:\n{}", out.stdout);
    }
    let json = run(server.eigen(&["devices", "--json"]));
    json.assert_success();
    let v = json.json();
    let sim = v.as_array().expect("array").iter().find(|d| d["id"] == "sim").expect("sim");
    assert_eq!(sim["status"], "ONLINE");
    assert_eq!(sim["kind"], "SIMULATOR");
}

#[test]
fn heavy_hex_device_has_a_coupling_map_of_pairs() {
    let (_dir, server) = server();
    let out = run(server.eigen(&["device", "sim-heavyhex-27", "--json"]));
    out.assert_success();
    let v = out.json();
    assert_eq!(v["id"], "sim-heavyhex-27");
    assert_eq!(v["num_qubits"], 27);
    let edges = v["coupling_map"].as_array().expect("coupling_map");
    assert!(!edges.is_empty(), "{v}");
    let mut neighbours: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for e in edges {
        let pair = e.as_array().expect("a [control, target] pair");
        assert_eq!(pair.len(), 2, "{e}");
        let (a, b) = (pair[0].as_u64().expect("int"), pair[1].as_u64().expect("int"));
        assert!(a < 27 && b < 27 && a != b, "{e}");
        neighbours.entry(a).or_default().insert(b);
        neighbours.entry(b).or_default().insert(a);
    }
    // Heavy-hex: every qubit is connected, none to more than three others.
    assert_eq!(neighbours.len(), 27, "{v}");
    assert!(neighbours.values().all(|n| (1..=3).contains(&n.len())), "{neighbours:?}");
    let natives: BTreeSet<&str> = v["native_gates"]
        .as_array()
        .expect("native_gates")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert!(natives.contains("cz") && natives.contains("sx") && natives.contains("rz"), "{v}");

    let human = run(server.eigen(&["device", "sim-heavyhex-27"]));
    human.assert_success();
    assert!(human.stdout.contains("coupling ("), "{}", human.stdout);
}

#[test]
fn unknown_device_is_not_found() {
    let (_dir, server) = server();
    let out = run(server.eigen(&["device", "nope", "--json"]));
    assert!(!out.status.success(), "{out:#?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:#?}");
    assert!(out.stderr.contains("NOT_FOUND"), "{out:#?}");
}

#[test]
fn reserve_returns_a_reservation() {
    let (_dir, server) = server();
    let out =
        run(server.eigen(&["reserve", "sim", "--ttl-secs", "30", "--purpose", "test", "--json"]));
    out.assert_success();
    let v = out.json();
    assert!(v["reservation_id"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    assert_eq!(v["device_id"], "sim");
    assert!(v["expires_at"].as_str().is_some(), "{v}");
    let missing = run(server.eigen(&["reserve", "nope", "--ttl-secs", "30"]));
    assert!(!missing.status.success());
    assert!(missing.stderr.contains("NOT_FOUND"), "{missing:#?}");
}

#[test]
fn compile_json_reports_the_program_and_its_stats() {
    let (_dir, server) = server();
    let ghz = example("ghz.qasm");
    let out = run(server.eigen(&[
        "compile",
        ghz.to_str().expect("utf-8 path"),
        "--target",
        "sim-heavyhex-27",
        "--json",
    ]));
    out.assert_success();
    let v = out.json();
    let program = v["program"].as_str().expect("program");
    assert!(program.contains("OPENQASM 3"), "{program}");
    let stats = &v["stats"];
    for key in ["depth", "two_qubit_gates", "swaps", "gate_counts"] {
        assert!(!stats[key].is_null(), "stats.{key} missing: {v}");
    }
    assert!(stats["two_qubit_gates"].as_u64().expect("int") >= 4, "{v}");
    let gates = stats["gate_counts"].as_object().expect("gate_counts");
    assert!(gates.contains_key("cz"), "{v}");
    for not_native in ["cx", "h"] {
        assert!(!gates.contains_key(not_native), "{not_native} left after compiling: {v}");
    }

    let human = run(server.eigen(&["compile", ghz.to_str().expect("utf-8"), "--target", "sim"]));
    human.assert_success();
    assert!(human.stdout.contains("// depth"), "{}", human.stdout);
    assert!(human.stdout.contains("OPENQASM 3"), "{}", human.stdout);
}

#[test]
fn validate_prints_positions_and_fails_on_errors() {
    let (dir, server) = server();
    let file = dir.path().join("broken.qasm");
    std::fs::write(
        &file,
        "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\ncreg c[2];\nh q[0];\nfoo q[1];\n",
    )
    .expect("write");
    let out = run(server.eigen(&["validate", file.to_str().expect("utf-8 path")]));
    assert!(!out.status.success(), "{out:#?}");
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains(": error: "))
        .unwrap_or_else(|| panic!("no diagnostic: {out:#?}"));
    let prefix = format!("{}:6:", file.display());
    assert!(line.starts_with(&prefix), "{line}");
    let col: u32 =
        line[prefix.len()..].split(':').next().and_then(|c| c.parse().ok()).expect("col");
    assert!(col >= 1, "{line}");

    for good in ["bell.qasm", "bell3.qasm", "teleport.qasm", "qft4.qasm"] {
        let path = example(good);
        let ok = run(server.eigen(&["validate", path.to_str().expect("utf-8")]));
        ok.assert_success();
        assert!(ok.stdout.contains(": ok ("), "{good}: {}", ok.stdout);
    }
}
