//! Multi-controlled gates in polynomially many `cx`, without clean
//! ancillas.
//!
//! The constructions are those of Barenco et al. (1995), "Elementary gates
//! for quantum computation":
//!
//! - lemma 7.2: `C^m X` with `m - 2` *borrowed* (dirty) qubits in `4(m - 2)`
//!   Toffolis ([`ladder`]). Borrowed qubits may hold anything and are given
//!   back unchanged, so any idle qubit of the gate can serve;
//! - lemma 7.3: `C^m X` with a single borrowed qubit, by splitting the
//!   controls in two halves that borrow each other ([`split`]);
//! - lemma 7.5 / corollary 7.6: `C^k U` with no spare qubit at all: the two
//!   `C^{k-1} X` it needs leave the target idle, so the target is their
//!   borrowed qubit, and the remaining `C^{k-1} V` recurses; `O(k^2)` `cx`
//!   overall instead of the `~3^k` of the plain recursion;
//! - lemma 4.3 / 7.9: `C^k W` for `W` in SU(2) as `A X B X C` with the two
//!   X controlled by all but the last control (which they borrow): linear.
//!   A general `U = e^{i alpha} W` is that plus `C^{k-1} P(alpha)` on the
//!   controls; whichever of the two routes is cheaper is taken.
//!
//! Toffolis that only compute into a borrowed qubit appear in pairs with
//! their inverse around gates their relative phases commute with, so they
//! are relative-phase Toffolis (3 `cx` instead of 6; Maslov 2016): every
//! such pair is the exact inverse of itself, so the phases cancel. For few
//! controls a Gray-code phase polynomial (`2^(k+1) - 2` `cx`) is cheaper and
//! is used when it is.
//!
//! Contract: every circuit emitted here equals its gate exactly (relative
//! phases included; the global phase too, except the 0-control case which
//! is an uncontrolled 1-qubit gate). Checked by the tests below and in
//! `kernel/tests/compiler_multicontrol.rs` on basis and random states with
//! dirty qubits in arbitrary states.

use super::{Emitter, Mat2, dagger, gate_mat, is_diagonal, sqrt_unitary, wrap};
use eigen_hal::{Gate, Operation};
use std::f64::consts::PI;

/// Above this many controls the Gray-code phase polynomial (exponential) is
/// not even tried.
const GRAY_MAX_CONTROLS: usize = 7;

/// A reversible step at the Toffoli level (so that a sequence can be
/// inverted before it is expanded into 1-qubit gates and `cx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// `cx(c, t)`.
    Cx(u32, u32),
    /// Exact Toffoli `ccx(a, b, t)`.
    Ccx(u32, u32, u32),
    /// Relative-phase Toffoli: a Toffoli times a diagonal (3 `cx`).
    Rccx(u32, u32, u32),
    /// The inverse of [`Step::Rccx`].
    RccxDg(u32, u32, u32),
}

impl Step {
    fn inverse(self) -> Self {
        match self {
            Step::Rccx(a, b, t) => Step::RccxDg(a, b, t),
            Step::RccxDg(a, b, t) => Step::Rccx(a, b, t),
            s => s,
        }
    }
}

fn inverse(steps: &[Step]) -> Vec<Step> {
    steps.iter().rev().map(|s| s.inverse()).collect()
}

/// Whether a sequence must be the exact gate or may carry a diagonal
/// (relative phase) on the qubits it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Exact,
    Relative,
}

/// Toffoli (exact or relative-phase) on `a, b -> t`.
fn toffoli(a: u32, b: u32, t: u32, phase: Phase) -> Step {
    match phase {
        Phase::Exact => Step::Ccx(a, b, t),
        Phase::Relative => Step::Rccx(a, b, t),
    }
}

/// Barenco lemma 7.2: `C^m X` (`m = c.len() >= 3`) on `t` with the borrowed
/// qubits `d` (`d.len() >= m - 2`), given back unchanged.
///
/// `d[0]` toggles by `c0 c1`, `d[i]` by `d[i-1] c[i+1]`, `t` by
/// `d[m-3] c[m-1]`; the chain runs down and up twice so every toggle of a
/// borrowed qubit is undone and its unknown value cancels on `t`.
///
/// Exact: the two Toffolis on `t` are exact, the chains `S` between them are
/// relative-phase, the second chain the exact inverse of the first (the
/// residual diagonal of the first chain does not touch `t`, so it commutes
/// with the Toffoli on `t` and cancels against the second). Relative: all
/// Toffolis relative-phase; the result is `D * C^m X` with `D` diagonal.
fn ladder(c: &[u32], t: u32, d: &[u32], phase: Phase) -> Vec<Step> {
    let m = c.len();
    debug_assert!(m >= 3 && d.len() >= m - 2);
    let top = toffoli(c[m - 1], d[m - 3], t, phase);
    // `chain[i]` computes into d[i].
    let chain: Vec<(u32, u32, u32)> = (0..m - 2)
        .map(|i| if i == 0 { (c[0], c[1], d[0]) } else { (c[i + 1], d[i - 1], d[i]) })
        .collect();
    let mut s = Vec::with_capacity(2 * m);
    for &(a, b, x) in chain.iter().rev() {
        s.push(Step::Rccx(a, b, x));
    }
    for &(a, b, x) in chain.iter().skip(1) {
        s.push(Step::RccxDg(a, b, x));
    }
    let mut out = Vec::with_capacity(4 * m);
    out.push(top);
    out.extend_from_slice(&s);
    out.push(top);
    out.extend(inverse(&s));
    out
}

/// `C^k X` on `t` borrowing the qubits of `d`; `None` when `k >= 3` and `d`
/// is empty (no construction here then: see [`Emitter::mcu_borrowing`]).
fn mcx_steps(c: &[u32], t: u32, d: &[u32], phase: Phase) -> Option<Vec<Step>> {
    match c {
        [] => None,
        [a] => Some(vec![Step::Cx(*a, t)]),
        [a, b] => Some(vec![toffoli(*a, *b, t, phase)]),
        _ if d.len() + 2 >= c.len() => Some(ladder(c, t, d, phase)),
        _ => d.split_first().map(|(&a, rest)| split(c, t, a, rest)),
    }
}

/// Barenco lemma 7.3: `C^k X` (`k >= 3`) on `t` with one borrowed qubit
/// `a` (plus any others in `more`): `a ^= AND(c1)`, `t ^= AND(c2) a`,
/// undo, `t ^= AND(c2) a` again, with `c1, c2` halves of the controls that
/// lend themselves to each other's ladders. Always exact: the steps on `a`
/// are relative-phase and the second is the inverse of the first; their
/// diagonal commutes with the steps on `t` (which only read `a`).
fn split(c: &[u32], t: u32, a: u32, more: &[u32]) -> Vec<Step> {
    let m1 = c.len().div_ceil(2);
    let (c1, c2) = c.split_at(m1);
    let lend1: Vec<u32> = c2.iter().chain(more).copied().collect();
    let lend2: Vec<u32> = c1.iter().chain(more).copied().collect();
    let mut c2a = c2.to_vec();
    c2a.push(a);
    // Sizes guarantee the ladders: m1 - 2 <= |c2| and |c2| - 1 <= m1.
    let to_a = mcx_steps(c1, a, &lend1, Phase::Relative).unwrap_or_default();
    let to_t = mcx_steps(&c2a, t, &lend2, Phase::Exact).unwrap_or_default();
    let mut out = Vec::with_capacity(2 * (to_a.len() + to_t.len()));
    out.extend_from_slice(&to_a);
    out.extend_from_slice(&to_t);
    out.extend(inverse(&to_a));
    out.extend_from_slice(&to_t);
    out
}

/// `u = e^{i alpha} w` with `w` in SU(2) (`alpha` in `(-pi/2, pi/2]` up to
/// the sign choice, which is folded into `w`).
fn su2_part(u: &Mat2) -> Option<(f64, Mat2)> {
    let det = u[0] * u[3] - u[1] * u[2];
    if (det.norm() - 1.0).abs() > 1e-9 {
        return None;
    }
    let alpha = det.arg() / 2.0;
    let ph = num_complex::Complex64::from_polar(1.0, -alpha);
    Some((alpha, [u[0] * ph, u[1] * ph, u[2] * ph, u[3] * ph]))
}

/// `A, B, C` with `ABC = I` and `A X B X C = w` for `w` in SU(2), from
/// `w = Rz(beta) Ry(gamma) Rz(delta)`; `None` when the check fails.
fn abc_factors(w: &Mat2) -> Option<(Mat2, Mat2, Mat2)> {
    use super::{euler, mul};
    let e = euler(w);
    // w = e^{i g} Rz(phi) Ry(theta) Rz(lambda), g = gamma + (phi+lambda)/2
    // is 0 or pi for det 1; Rz(2 pi) = -I absorbs the sign.
    let g = wrap(e.gamma + (e.phi + e.lambda) / 2.0);
    let beta = if g.abs() < PI / 2.0 { e.phi } else { e.phi + 2.0 * PI };
    let (gamma, delta) = (e.theta, e.lambda);
    let rz = |a: f64| gate_mat(&Gate::Rz(a));
    let ry = |a: f64| gate_mat(&Gate::Ry(a));
    let a = mul(&rz(beta), &ry(gamma / 2.0));
    let b = mul(&ry(-gamma / 2.0), &rz(-(delta + beta) / 2.0));
    let c = rz((delta - beta) / 2.0);
    let x = gate_mat(&Gate::X);
    let prod = mul(&a, &mul(&x, &mul(&b, &mul(&x, &c))));
    let id = mul(&a, &mul(&b, &c));
    let ok = (0..4)
        .all(|i| (prod[i] - w[i]).norm() < 1e-9 && (id[i] - super::IDENTITY[i]).norm() < 1e-9);
    ok.then_some((a, b, c))
}

/// The candidate with fewer 2-qubit gates (`a` on a tie).
fn fewer(a: Vec<Operation>, b: Vec<Operation>) -> Vec<Operation> {
    if two_qubit_count(&b) < two_qubit_count(&a) { b } else { a }
}

pub(super) fn two_qubit_count(ops: &[Operation]) -> usize {
    ops.iter().filter(|o| matches!(o, Operation::Gate { qubits, .. } if qubits.len() >= 2)).count()
}

impl Emitter<'_> {
    fn steps(&mut self, steps: &[Step]) {
        for s in steps {
            match *s {
                Step::Cx(c, t) => self.gate(Gate::Cx, &[c, t]),
                Step::Ccx(a, b, t) => self.ccx(a, b, t),
                Step::Rccx(a, b, t) | Step::RccxDg(a, b, t) => self.rccx(a, b, t),
            }
        }
    }

    /// Relative-phase Toffoli (3 `cx`): a Toffoli times a diagonal. It is
    /// its own inverse, so a pair of them around gates commuting with that
    /// diagonal is exact.
    pub fn rccx(&mut self, a: u32, b: u32, t: u32) {
        use Gate::{Cx, H, T, Tdg};
        self.gate(H, &[t]);
        self.gate(T, &[t]);
        self.gate(Cx, &[b, t]);
        self.gate(Tdg, &[t]);
        self.gate(Cx, &[a, t]);
        self.gate(T, &[t]);
        self.gate(Cx, &[b, t]);
        self.gate(Tdg, &[t]);
        self.gate(H, &[t]);
    }

    /// Runs `f` on a scratch emitter with the same condition and returns
    /// what it emitted (to compare constructions by their `cx` count).
    pub(super) fn scratch(&self, f: impl FnOnce(&mut Emitter<'_>)) -> Vec<Operation> {
        let mut out = Vec::new();
        f(&mut Emitter { out: &mut out, condition: self.condition.clone() });
        out
    }

    /// X on `t` controlled by all of `controls`, no ancilla.
    pub fn mcx(&mut self, controls: &[u32], t: u32) {
        match controls {
            [] => self.gate(Gate::X, &[t]),
            [c] => self.gate(Gate::Cx, &[*c, t]),
            [a, b] => self.ccx(*a, *b, t),
            _ => self.mcu(&gate_mat(&Gate::X), controls, t),
        }
    }

    /// `u` on `t` controlled by all of `controls`, no ancilla: `O(k^2)` `cx`
    /// for `k` controls (`O(k)` when `u` is in SU(2)). The cheapest of the
    /// applicable constructions (each exact) is emitted: lemma 7.5, the
    /// SU(2) part plus a phase on the controls, and for few controls and a
    /// diagonal or X target the Gray-code phase polynomial.
    pub fn mcu(&mut self, u: &Mat2, controls: &[u32], t: u32) {
        let k = controls.len();
        let mut best = self.scratch(|e| e.mcu_borrowing(u, controls, t, &[]));
        if k >= 3 {
            best = fewer(best, self.scratch(|e| e.mcu_phase_split(u, controls, t)));
        }
        let x = gate_mat(&Gate::X);
        let is_x = (0..4).all(|i| (u[i] - x[i]).norm() < 1e-12);
        if (2..=GRAY_MAX_CONTROLS).contains(&k) && (is_x || is_diagonal(u)) {
            let gray = self.scratch(|e| {
                let mut all = controls.to_vec();
                all.push(t);
                if is_x {
                    e.gate(Gate::H, &[t]);
                    e.mcphase(PI, &all);
                    e.gate(Gate::H, &[t]);
                } else {
                    // diag(a, b) = a * diag(1, b / a): the factor a is a
                    // phase on the controls alone.
                    e.mcphase(u[0].arg(), controls);
                    e.mcphase((u[3] / u[0]).arg(), &all);
                }
            });
            best = fewer(best, gray);
        }
        self.out.extend(best);
    }

    /// `C^k u` (`k >= 2`) as `C^k w` with `w = e^{-i alpha} u` in SU(2)
    /// (linear, [`Self::mcsu2`]) and the phase `e^{i alpha}` on the controls,
    /// a `C^{k-1} P(alpha)` borrowing the target.
    fn mcu_phase_split(&mut self, u: &Mat2, controls: &[u32], t: u32) {
        let Some((alpha, w)) = su2_part(u) else {
            self.mcu_borrowing(u, controls, t, &[]);
            return;
        };
        let Some((&last, rest)) = controls.split_last() else {
            self.mat(u, t);
            return;
        };
        match abc_factors(&w) {
            Some(abc) => self.mcsu2(&abc, controls, t, &[]),
            None => self.mcu_borrowing(&w, controls, t, &[]),
        }
        if wrap(alpha).abs() > super::ANGLE_EPS {
            self.mcu_borrowing(&gate_mat(&Gate::P(alpha)), rest, last, &[t]);
        }
    }

    /// `C^k w` for `w = A X B X C` in SU(2), `ABC = I` (Barenco lemma 4.3):
    /// `C-C`, `C^{k-1} X`, `C-B`, `C^{k-1} X`, `C-A`, the 1-qubit factors
    /// controlled by the last control, the `C^{k-1} X` by the others onto
    /// the target, borrowing the last control (idle meanwhile): linear.
    /// `controls` must not be empty.
    fn mcsu2(&mut self, abc: &(Mat2, Mat2, Mat2), controls: &[u32], t: u32, dirty: &[u32]) {
        let [rest @ .., last] = controls else {
            return;
        };
        let (a, b, c) = abc;
        let mut lend = vec![*last];
        lend.extend_from_slice(dirty);
        let inner = mcx_steps(rest, t, &lend, Phase::Exact).unwrap_or_default();
        self.controlled(c, *last, t);
        self.steps(&inner);
        self.controlled(b, *last, t);
        self.steps(&inner);
        self.controlled(a, *last, t);
    }

    /// `C^k u` on `t`, borrowing the idle qubits `dirty` (Barenco lemma 7.5
    /// with the target lent to the inner `C^{k-1} X`, corollary 7.6).
    fn mcu_borrowing(&mut self, u: &Mat2, controls: &[u32], t: u32, dirty: &[u32]) {
        let x = gate_mat(&Gate::X);
        let is_x = (0..4).all(|i| (u[i] - x[i]).norm() < 1e-12);
        if is_x && let Some(steps) = mcx_steps(controls, t, dirty, Phase::Exact) {
            self.steps(&steps);
            return;
        }
        if controls.len() >= 3
            && let Some((alpha, w)) = su2_part(u)
            && wrap(alpha).abs() < 1e-12
            && let Some(abc) = abc_factors(&w)
        {
            self.mcsu2(&abc, controls, t, dirty);
            return;
        }
        match controls {
            [] => self.mat(u, t),
            [c] => self.controlled(u, *c, t),
            [rest @ .., last] => {
                let v = sqrt_unitary(u);
                // The inner C^{k-1} X on `last` only needs to be exact up to
                // a diagonal that leaves `t` alone (it commutes with the
                // controlled-V on `last, t` and the second copy undoes it):
                // relative when the other borrowed qubits suffice.
                let inner = if dirty.len() + 2 >= rest.len() {
                    mcx_steps(rest, *last, dirty, Phase::Relative)
                } else {
                    let mut lend = dirty.to_vec();
                    lend.push(t);
                    mcx_steps(rest, *last, &lend, Phase::Exact)
                };
                let inner = inner.unwrap_or_default();
                self.controlled(&v, *last, t);
                self.steps(&inner);
                self.controlled(&dagger(&v), *last, t);
                self.steps(&inverse(&inner));
                let mut lend = dirty.to_vec();
                lend.push(*last);
                self.mcu_borrowing(&v, rest, t, &lend);
            }
        }
    }

    /// The phase `e^{i alpha}` on the state where every qubit of `qs` is 1,
    /// as a Gray-code walk over parities (`2^n - 2` `cx` for `n` qubits):
    /// `x_1 ... x_n = 2^{1-n} sum_{S != {}} (-1)^{|S|-1} parity_S(x)`.
    fn mcphase(&mut self, alpha: f64, qs: &[u32]) {
        if wrap(alpha).abs() < super::ANGLE_EPS || qs.is_empty() {
            return;
        }
        let n = qs.len();
        let scale = alpha / f64::from(1u32 << (n - 1));
        // Subsets whose highest member is qs[top]: walk the Gray code of
        // the lower qubits, accumulating their parity onto qs[top].
        for top in (0..n).rev() {
            let target = qs[top];
            let mut prev = 0usize;
            for i in 0..1usize << top {
                let g = i ^ (i >> 1);
                let flip = g ^ prev;
                if flip != 0 {
                    self.gate(Gate::Cx, &[qs[flip.trailing_zeros() as usize], target]);
                }
                prev = g;
                let sign = if g.count_ones() % 2 == 0 { 1.0 } else { -1.0 };
                self.gate(Gate::P(sign * scale), &[target]);
            }
            if prev != 0 {
                self.gate(Gate::Cx, &[qs[prev.trailing_zeros() as usize], target]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compiler::unroll::tests::{equal_up_to_phase, unitary};

    fn op(gate: Gate, qs: &[u32]) -> Operation {
        Operation::Gate { gate, qubits: qs.into(), condition: None }
    }

    fn emitted(f: impl FnOnce(&mut Emitter<'_>)) -> Vec<Operation> {
        let mut out = Vec::new();
        f(&mut Emitter { out: &mut out, condition: None });
        out
    }

    #[test]
    fn ladders_and_splits_are_exact_with_dirty_qubits() {
        // The dense unitary covers every state of the borrowed qubits.
        for m in 3..=5u32 {
            let c: Vec<u32> = (0..m).collect();
            let t = m;
            let d: Vec<u32> = (m + 1..2 * m - 1).collect();
            let n = (2 * m - 1) as usize;
            let want = unitary(&[op(Gate::Mcx, &[c.as_slice(), &[t]].concat())], n);
            let got = emitted(|e| e.steps(&ladder(&c, t, &d, Phase::Exact)));
            assert!(equal_up_to_phase(&want, &unitary(&got, n)), "ladder {m}");
            // relative: a diagonal times the gate, and inverse-paired exact
            let rel = ladder(&c, t, &d, Phase::Relative);
            let mut pair = rel.clone();
            pair.extend(inverse(&rel));
            let got = emitted(|e| e.steps(&pair));
            assert!(equal_up_to_phase(&unitary(&[], n), &unitary(&got, n)), "pair {m}");
        }
        for k in 3..=6u32 {
            let c: Vec<u32> = (0..k).collect();
            let n = (k + 2) as usize;
            let want = unitary(&[op(Gate::Mcx, &[c.as_slice(), &[k]].concat())], n);
            let got = emitted(|e| e.steps(&split(&c, k, k + 1, &[])));
            assert!(equal_up_to_phase(&want, &unitary(&got, n)), "split {k}");
        }
    }

    #[test]
    fn gray_code_phase_is_exact() {
        for n in 1..=5u32 {
            let qs: Vec<u32> = (0..n).rev().collect();
            let got = emitted(|e| e.mcphase(0.7, &qs));
            let want = if n == 1 {
                vec![op(Gate::P(0.7), &[0])]
            } else {
                vec![op(Gate::Mcu(Box::new(gate_mat(&Gate::P(0.7)))), &qs)]
            };
            let (a, b) = (unitary(&want, n as usize), unitary(&got, n as usize));
            assert!(a.iter().zip(&b).all(|(x, y)| (x - y).norm() < 1e-9), "{n}");
        }
    }
}
