"""Times shot sampling in the peers, for scripts/bench-sample.

For each n: the state of ry(0.3 + 0.1 q) on every qubit q (the state
sim-bench-sample samples), then
  - qulacs: one h pass on qubit n // 2, and QuantumState.sampling(shots)
    (which returns a Python list: the conversion is part of the call);
  - Qiskit Aer (statevector, fusion on): the same circuit with a final
    measure of every qubit, run with `shots` shots and with 1 shot; the
    difference of their `time_taken` is what the shots cost (sampling and
    building the counts).
Prints one JSON object per n; times in milliseconds, medians of --reps runs
after a warm-up (Aer: one run each, it is slow).
"""

import argparse
import json
import statistics
import time


def median_ms(f, reps):
    f()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def qulacs_times(n, shots, reps):
    from qulacs import QuantumState
    from qulacs.gate import H, RY

    state = QuantumState(n)
    for q in range(n):
        RY(q, 0.3 + 0.1 * q).update_quantum_state(state)
    h = H(n // 2)
    gate = median_ms(lambda: h.update_quantum_state(state), reps)
    sampling = median_ms(lambda: state.sampling(shots, 7), max(1, reps // 3))
    return gate, sampling


def aer_sampling(n, shots, threads):
    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator

    sim = AerSimulator(method="statevector", max_parallel_threads=threads)
    qc = QuantumCircuit(n, n)
    for q in range(n):
        qc.ry(0.3 + 0.1 * q, q)
    qc.measure(range(n), range(n))

    def taken(k):
        sim.run(qc, shots=k, seed_simulator=7).result()  # warm-up
        return sim.run(qc, shots=k, seed_simulator=7).result().time_taken * 1e3

    return taken(shots) - taken(1)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", default="20 22 24")
    p.add_argument("--shots", type=int, default=1_000_000)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-aer", action="store_true")
    a = p.parse_args()
    for n in [int(x) for x in a.sizes.replace(",", " ").split()]:
        gate, sampling = qulacs_times(n, a.shots, a.reps)
        row = {"n": n, "qulacs_gate_ms": gate, "qulacs_sampling_ms": sampling}
        if not a.no_aer:
            row["aer_sampling_ms"] = aer_sampling(n, a.shots, a.threads)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
