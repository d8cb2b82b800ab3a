// The Bell pair in OpenQASM 3, as Qiskit's qasm3 exporter writes it.
OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
h q[0];
cx q[0], q[1];
c[0] = measure q[0];
c[1] = measure q[1];
