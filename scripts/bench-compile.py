#!/usr/bin/env python3
"""Compile benchmark: Eigen vs qiskit.transpile, same circuits, same maps, one run.

Runs Eigen's compile benchmark (cargo bench --bench compile_vs_qiskit), then
qiskit.transpile at optimization levels 1 and 2 on the same OpenQASM files and
coupling maps with basis {rz, sx, x, cz}, and prints per case the median times,
the time ratio (Qiskit / Eigen: >= 10 is the target) and the 2-qubit gate-count
ratio (Eigen / Qiskit: <= 1.1 is the target).

Usage: scripts/bench-compile.py [--repeats N] [--only SUBSTR[,SUBSTR..]] [--levels 1,2]
--only keeps the circuits whose name contains one of the substrings (e.g. qft_16);
--levels the optimization levels to run (default 1,2).
Env: EIGEN_BENCH_BIN runs a prebuilt benchmark binary instead of cargo bench;
EIGEN_VENV (default .venv at the repository root) is the Python with qiskit; this script
re-executes itself with it when qiskit is not importable.
"""
import json
import os
import statistics
import subprocess
import sys
import time

VENV = os.environ.get("EIGEN_VENV", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".venv"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

try:
    import qiskit  # noqa: F401
except ImportError:
    py = os.path.join(VENV, "bin", "python")
    if os.path.exists(py) and os.path.realpath(sys.prefix) != os.path.realpath(VENV):
        os.execv(py, [py] + sys.argv)
    sys.exit(f"qiskit is not importable, also not with {py}")

from qiskit import QuantumCircuit, transpile, qasm2  # noqa: E402
from qiskit.transpiler import CouplingMap  # noqa: E402


def main():
    repeats = 15
    if "--repeats" in sys.argv:
        repeats = int(sys.argv[sys.argv.index("--repeats") + 1])
    env = dict(os.environ, EIGEN_BENCH_REPEATS=str(repeats))
    if "--only" in sys.argv:
        env["EIGEN_BENCH_ONLY"] = sys.argv[sys.argv.index("--only") + 1]
    if "--levels" in sys.argv:
        env["EIGEN_BENCH_LEVELS"] = sys.argv[sys.argv.index("--levels") + 1]
    cmd = ["cargo", "bench", "-q", "-p", "eigen-benches", "--bench", "compile_vs_qiskit"]
    # EIGEN_BENCH_BIN: a prebuilt compile_vs_qiskit binary (e.g. an older
    # build kept for a before/after comparison in the same conditions).
    if os.environ.get("EIGEN_BENCH_BIN"):
        cmd = [os.environ["EIGEN_BENCH_BIN"]]
    print("$", " ".join(cmd), f"(EIGEN_BENCH_REPEATS={repeats})", file=sys.stderr)
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"cargo bench failed:\n{proc.stderr[-4000:]}")
    out = proc.stdout
    maps, rows = {}, []
    for line in out.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        obj = json.loads(line)
        if "coupling_map" in obj:
            maps[obj["device"]] = obj
        else:
            rows.append(obj)
    basis = ["rz", "sx", "x", "cz"]
    qrepeats = max(3, repeats // 5)
    print(f"qiskit {qiskit.__version__}; Eigen median of {repeats}, Qiskit median of {qrepeats}; "
          "basis {rz, sx, x, cz}; times exclude parsing on both sides")
    header = (f"{'circuit':<15} {'device':<12} {'lvl':>3} {'eigen ms':>9} {'qiskit ms':>10} "
              f"{'speedup':>8} {'eigen 2q':>9} {'qiskit 2q':>10} {'2q ratio':>9} {'eigen swaps':>11}")
    print(header)
    print("-" * len(header))
    cache = {}
    worst_speed, worst_ratio = float("inf"), 0.0
    for r in rows:
        dev = maps[r["device"]]
        edges = dev["coupling_map"]
        cmap = CouplingMap([list(e) for e in edges] + [[b, a] for a, b in edges])
        if r["file"] not in cache:
            cache[r["file"]] = qasm2.load(r["file"], custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        qc: QuantumCircuit = cache[r["file"]]
        transpile(qc, coupling_map=cmap, basis_gates=basis, optimization_level=r["level"], seed_transpiler=11)
        times, result = [], None
        for _ in range(qrepeats):
            t = time.perf_counter()
            result = transpile(qc, coupling_map=cmap, basis_gates=basis,
                               optimization_level=r["level"], seed_transpiler=11)
            times.append(time.perf_counter() - t)
        q_s = statistics.median(times)
        q2 = sum(1 for inst in result.data if inst.operation.num_qubits == 2)
        speed = q_s / r["seconds"]
        ratio = r["two_qubit"] / q2 if q2 else float("inf") if r["two_qubit"] else 1.0
        worst_speed, worst_ratio = min(worst_speed, speed), max(worst_ratio, ratio)
        print(f"{r['circuit']:<15} {r['device']:<12} {r['level']:>3} {r['seconds'] * 1e3:>9.2f} "
              f"{q_s * 1e3:>10.2f} {speed:>7.1f}x {r['two_qubit']:>9} {q2:>10} {ratio:>9.3f} {r['swaps']:>11}")
    print(f"\nworst speedup {worst_speed:.1f}x (target >= 10x); "
          f"worst 2q ratio {worst_ratio:.3f} (target <= 1.1)")


if __name__ == "__main__":
    main()
