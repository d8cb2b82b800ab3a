#!/usr/bin/env python3
"""Compile benchmark: Eigen vs qiskit.transpile, same circuits, same maps, one run.

Starts Eigen's compile benchmark (cargo bench --bench compile_vs_qiskit) in its
request/response mode, then for every case (circuit, coupling map, optimization
level) takes Eigen's and Qiskit's samples in alternating rounds, so that load from
other processes on a shared machine falls on both sides alike. Prints per case the
median times, the time ratio (Qiskit / Eigen: >= 10 is the target), the spread of
that ratio over the rounds, and the 2-qubit gate-count ratio (Eigen / Qiskit: <= 1.1
is the target).

The method is the same on both sides: the circuit is parsed once beforehand (parsing
is not timed); per case one untimed warm-up compile, then REPEATS timed compiles,
each timed alone around the compile call inside a long-running process (Eigen: a
Rust process timing compile_circuit with Instant; Qiskit: this process timing
transpile with perf_counter), split over ROUNDS rounds that alternate which side
goes first; the reported time is the median of all samples.

Usage: scripts/bench-compile.py [--repeats N] [--rounds R] [--only SUBSTR[,SUBSTR..]]
                                [--levels 1,2]
--repeats: timed samples per side and case (default 15); --rounds: interleaving
rounds (default: as many as repeats, i.e. Eigen and Qiskit alternate sample by sample); --only keeps the circuits whose name contains one of the
substrings (e.g. qft_16); --levels the optimization levels to run (default 1,2).
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

BASIS = ["rz", "sx", "x", "cz"]


def arg(name, default):
    if name in sys.argv:
        return sys.argv[sys.argv.index(name) + 1]
    return default


class Eigen:
    """The Rust benchmark in serve mode: one request per batch of samples."""

    def __init__(self, env):
        cmd = ["cargo", "bench", "-q", "-p", "eigen-benches", "--bench", "compile_vs_qiskit"]
        # EIGEN_BENCH_BIN: a prebuilt compile_vs_qiskit binary (e.g. an older
        # build kept for a before/after comparison in the same conditions).
        if os.environ.get("EIGEN_BENCH_BIN"):
            cmd = [os.environ["EIGEN_BENCH_BIN"]]
        print("$", " ".join(cmd), "(EIGEN_BENCH_SERVE=1)", file=sys.stderr)
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(env, EIGEN_BENCH_SERVE="1"),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.maps, self.cases = {}, []
        for line in self.proc.stdout:
            obj = json.loads(line)
            if "coupling_map" in obj:
                self.maps[obj["device"]] = obj
            elif "case" in obj:
                self.cases.append(obj["case"])
            elif obj.get("ready"):
                return
        sys.exit(f"the Eigen benchmark ended before it was ready (exit {self.proc.wait()})")

    def samples(self, case, repeats, warmup):
        self.proc.stdin.write(f"{case['circuit']} {case['device']} {case['level']} {repeats} {warmup}\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        if "error" in reply:
            sys.exit(f"Eigen: {reply['error']}")
        return reply

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def qiskit_samples(qc, cmap, level, repeats, warmup):
    result = None
    for _ in range(warmup):
        result = transpile(qc, coupling_map=cmap, basis_gates=BASIS, optimization_level=level,
                           seed_transpiler=11)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        result = transpile(qc, coupling_map=cmap, basis_gates=BASIS, optimization_level=level,
                           seed_transpiler=11)
        times.append(time.perf_counter() - t)
    return times, result


def main():
    repeats = int(arg("--repeats", "15"))
    rounds = max(1, min(int(arg("--rounds", str(repeats))), repeats))
    env = dict(os.environ)
    if "--only" in sys.argv:
        env["EIGEN_BENCH_ONLY"] = arg("--only", "")
    if "--levels" in sys.argv:
        env["EIGEN_BENCH_LEVELS"] = arg("--levels", "")
    eigen = Eigen(env)
    # samples per round: as even as possible, `repeats` in total
    per_round = [repeats // rounds + (1 if r < repeats % rounds else 0) for r in range(rounds)]
    load0 = os.getloadavg()
    print(f"qiskit {qiskit.__version__}; {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; "
          f"load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; {os.cpu_count()} CPUs")
    print(f"per case and side: 1 warm-up + {repeats} timed compiles in {rounds} interleaved rounds; "
          "median of all samples; basis {rz, sx, x, cz}; parsing not timed")
    print("'round iqr' = 25th..75th percentile of the per-round speedups (Qiskit's round median / Eigen's)")
    header = (f"{'circuit':<15} {'device':<12} {'lvl':>3} {'eigen ms':>9} {'qiskit ms':>10} "
              f"{'speedup':>8} {'round iqr':>11} {'eigen 2q':>9} {'qiskit 2q':>10} {'2q ratio':>9} "
              f"{'eigen swaps':>11}")
    print(header)
    print("-" * len(header))
    loaded = {}
    worst_speed, worst_ratio, worst_round = float("inf"), 0.0, float("inf")
    for case in eigen.cases:
        dev = eigen.maps[case["device"]]
        edges = dev["coupling_map"]
        cmap = CouplingMap([list(e) for e in edges] + [[b, a] for a, b in edges])
        if case["file"] not in loaded:
            loaded[case["file"]] = qasm2.load(case["file"],
                                              custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        qc: QuantumCircuit = loaded[case["file"]]
        e_all, q_all, round_speeds, reply, result = [], [], [], None, None
        for r, k in enumerate(per_round):
            warm = 1 if r == 0 else 0
            # alternate which side goes first
            if r % 2 == 0:
                reply = eigen.samples(case, k, warm)
                q_times, result = qiskit_samples(qc, cmap, case["level"], k, warm)
            else:
                q_times, result = qiskit_samples(qc, cmap, case["level"], k, warm)
                reply = eigen.samples(case, k, warm)
            e_all += reply["samples"]
            q_all += q_times
            round_speeds.append(statistics.median(q_times) / statistics.median(reply["samples"]))
        e_s, q_s = statistics.median(e_all), statistics.median(q_all)
        q2 = sum(1 for inst in result.data if inst.operation.num_qubits == 2)
        e2 = reply["two_qubit"]
        speed = q_s / e_s
        ratio = e2 / q2 if q2 else float("inf") if e2 else 1.0
        worst_speed, worst_ratio = min(worst_speed, speed), max(worst_ratio, ratio)
        quart = statistics.quantiles(round_speeds, n=4) if len(round_speeds) > 1 else round_speeds * 3
        worst_round = min(worst_round, quart[0])
        spread = f"{quart[0]:.1f}..{quart[2]:.1f}"
        print(f"{case['circuit']:<15} {case['device']:<12} {case['level']:>3} {e_s * 1e3:>9.2f} "
              f"{q_s * 1e3:>10.2f} {speed:>7.1f}x {spread:>11} {e2:>9} {q2:>10} {ratio:>9.3f} "
              f"{reply['swaps']:>11}", flush=True)
    eigen.close()
    load1 = os.getloadavg()
    print(f"\nworst speedup {worst_speed:.1f}x (target >= 10x; lowest 25th-percentile round {worst_round:.1f}x); "
          f"worst 2q ratio {worst_ratio:.3f} (target <= 1.1); "
          f"load average at the end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")


if __name__ == "__main__":
    main()
