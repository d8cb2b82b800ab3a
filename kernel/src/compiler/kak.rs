//! Two-qubit blocks: KAK (Cartan) decomposition into at most three `cx`
//! (two when one interaction coefficient vanishes modulo pi/2, one when the
//! block is locally a `cx`, none for a product), used for user 2-qubit
//! unitaries ([`super::synth`]) and by the consolidation pass that re-synthesizes runs of gates on one
//! qubit pair when that saves `cx` (e.g. a routing swap next to a
//! controlled phase: 5 `cx` become 3).
//!
//! Every re-synthesized block is checked against the block's own unitary
//! before it replaces it, so a numerically awkward case keeps the original
//! gates instead of changing the program.

use super::synth::{self, Mat2};
use eigen_hal::{Gate, Operation, Qubits};
use num_complex::Complex64;
use std::f64::consts::{FRAC_PI_2, FRAC_PI_4};

type Mat4 = [Complex64; 16];

const Z: Complex64 = Complex64::new(0.0, 0.0);

fn mul4(a: &Mat4, b: &Mat4) -> Mat4 {
    let mut m = [Z; 16];
    for r in 0..4 {
        for k in 0..4 {
            let x = a[r * 4 + k];
            for c in 0..4 {
                m[r * 4 + c] += x * b[k * 4 + c];
            }
        }
    }
    m
}

fn dagger4(a: &Mat4) -> Mat4 {
    let mut m = [Z; 16];
    for r in 0..4 {
        for c in 0..4 {
            m[r * 4 + c] = a[c * 4 + r].conj();
        }
    }
    m
}

fn kron(a: &Mat2, b: &Mat2) -> Mat4 {
    let mut m = [Z; 16];
    for r in 0..4 {
        for c in 0..4 {
            m[r * 4 + c] = a[(r >> 1) * 2 + (c >> 1)] * b[(r & 1) * 2 + (c & 1)];
        }
    }
    m
}

/// The magic basis (columns), in which local gates are real orthogonal and
/// XX, YY, ZZ are diagonal.
fn magic() -> Mat4 {
    let h = std::f64::consts::FRAC_1_SQRT_2;
    let (o, r, i) = (Z, Complex64::new(h, 0.0), Complex64::new(0.0, h));
    [r, o, o, i, o, i, r, o, o, i, -r, o, r, o, o, -i]
}

/// Eigenvectors (columns of an orthogonal matrix) of a real symmetric 4x4.
fn jacobi(mut a: [f64; 16]) -> [f64; 16] {
    let mut v = [0.0; 16];
    for k in 0..4 {
        v[k * 5] = 1.0;
    }
    for _ in 0..64 {
        let off: f64 = (0..4)
            .flat_map(|p| (p + 1..4).map(move |q| (p, q)))
            .map(|(p, q)| a[p * 4 + q].powi(2))
            .sum();
        if off < 1e-30 {
            break;
        }
        for p in 0..4 {
            for q in p + 1..4 {
                let apq = a[p * 4 + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * 4 + q] - a[p * 4 + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..4 {
                    let (akp, akq) = (a[k * 4 + p], a[k * 4 + q]);
                    a[k * 4 + p] = c * akp - s * akq;
                    a[k * 4 + q] = s * akp + c * akq;
                }
                for k in 0..4 {
                    let (apk, aqk) = (a[p * 4 + k], a[q * 4 + k]);
                    a[p * 4 + k] = c * apk - s * aqk;
                    a[q * 4 + k] = s * apk + c * aqk;
                }
                for k in 0..4 {
                    let (vkp, vkq) = (v[k * 4 + p], v[k * 4 + q]);
                    v[k * 4 + p] = c * vkp - s * vkq;
                    v[k * 4 + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    v
}

/// Splits a 4x4 known to be (close to) `a ⊗ b` into its factors.
fn factor(k: &Mat4) -> (Mat2, Mat2) {
    let (mut bi, mut bj, mut best) = (0, 0, -1.0);
    for i in 0..2 {
        for j in 0..2 {
            let n: f64 =
                (0..4).map(|e| k[(2 * i + (e >> 1)) * 4 + 2 * j + (e & 1)].norm_sqr()).sum();
            if n > best {
                (bi, bj, best) = (i, j, n);
            }
        }
    }
    let blk = |i: usize, j: usize| -> Mat2 {
        [
            k[(2 * i) * 4 + 2 * j],
            k[(2 * i) * 4 + 2 * j + 1],
            k[(2 * i + 1) * 4 + 2 * j],
            k[(2 * i + 1) * 4 + 2 * j + 1],
        ]
    };
    let b0 = blk(bi, bj);
    let det = b0[0] * b0[3] - b0[1] * b0[2];
    let s = det.sqrt();
    let b: Mat2 = [b0[0] / s, b0[1] / s, b0[2] / s, b0[3] / s];
    let bd = synth::dagger(&b);
    let mut a = [Z; 4];
    for i in 0..2 {
        for j in 0..2 {
            let m = synth::mul(&bd, &blk(i, j));
            a[i * 2 + j] = (m[0] + m[3]) / 2.0;
        }
    }
    (a, b)
}

/// `u` as `a ⊗ b` (`a` on the most significant qubit) when it is a product
/// of 1-qubit gates up to global phase (checked); `None` otherwise.
#[must_use]
pub fn local_factors(u: &Mat4) -> Option<(Mat2, Mat2)> {
    let (a, b) = factor(u);
    equal_up_to_phase(&kron(&a, &b), u).then_some((a, b))
}

/// `u` (first qubit `q0` most significant) as at most three `cx` and
/// 1-qubit gates, or `None` when the numerics fail the final check.
#[must_use]
pub fn synthesize(u: &Mat4, q0: u32, q1: u32) -> Option<Vec<Operation>> {
    let b = magic();
    let bd = dagger4(&b);
    let up = mul4(&mul4(&bd, u), &b);
    let mut m2 = [Z; 16];
    for r in 0..4 {
        for c in 0..4 {
            m2[r * 4 + c] = (0..4).map(|k| up[k * 4 + r] * up[k * 4 + c]).sum();
        }
    }
    for mix in [0.618_033_988_749_894_9, 1.324_717_957_244_746, -0.414_213_562_373_095] {
        let real: [f64; 16] = std::array::from_fn(|i| m2[i].re + mix * m2[i].im);
        let mut p = jacobi(real);
        // det(P) = +1
        let pc: Mat4 = std::array::from_fn(|i| Complex64::new(p[i], 0.0));
        if det4(&pc).re < 0.0 {
            for r in 0..4 {
                p[r * 4] = -p[r * 4];
            }
        }
        let pc: Mat4 = std::array::from_fn(|i| Complex64::new(p[i], 0.0));
        let pt = transpose(&pc);
        let d = mul4(&mul4(&pt, &m2), &pc);
        let mut theta: [f64; 4] = std::array::from_fn(|k| d[k * 5].arg() / 2.0);
        // Up = K1' diag(e^{i theta}) P^T with K1' real orthogonal.
        let diag = |t: &[f64; 4], sign: f64| -> Mat4 {
            let mut m = [Z; 16];
            for k in 0..4 {
                m[k * 5] = Complex64::from_polar(1.0, sign * t[k]);
            }
            m
        };
        let mut k1p = mul4(&mul4(&up, &pc), &diag(&theta, -1.0));
        if det4(&k1p).re < 0.0 {
            theta[0] += std::f64::consts::PI;
            k1p = mul4(&mul4(&up, &pc), &diag(&theta, -1.0));
        }
        let k1 = mul4(&mul4(&b, &k1p), &bd);
        let k2 = mul4(&mul4(&b, &pt), &bd);
        // theta = g + a vXX + b vYY + c vZZ (orthogonal ±1 vectors).
        let coeff = |pauli: &Mat4| -> f64 {
            let v = mul4(&mul4(&bd, pauli), &b);
            (0..4).map(|k| theta[k] * v[k * 5].re).sum::<f64>() / 4.0
        };
        let (x, y, zz) = paulis();
        let (ca, cb, cc) = (coeff(&x), coeff(&y), coeff(&zz));
        let (a1, b1) = factor(&k1);
        let (a2, b2) = factor(&k2);
        let mut out = Vec::with_capacity(16);
        let g1 = |out: &mut Vec<Operation>, m: &Mat2, q: u32| {
            for g in synth::synth_1q(m, synth::OneQubitBasis::Any) {
                out.push(Operation::Gate {
                    gate: g,
                    qubits: Qubits::from_slice(&[q]),
                    condition: None,
                });
            }
        };
        let gate = |out: &mut Vec<Operation>, g: Gate, qs: &[u32]| {
            out.push(Operation::Gate { gate: g, qubits: qs.into(), condition: None });
        };
        if let Some(fewer) = reduced(ca, cb, cc, [&a1, &b1, &a2, &b2], q0, q1)
            && equal_up_to_phase(&block_unitary(&fewer, q0, q1)?, u)
        {
            return Some(fewer);
        }
        g1(&mut out, &a2, q0);
        g1(&mut out, &b2, q1);
        // exp(i(a XX + b YY + c ZZ)) with three cx (Vatan-Williams form)
        gate(&mut out, Gate::Rz(FRAC_PI_2), &[q1]);
        gate(&mut out, Gate::Cx, &[q1, q0]);
        gate(&mut out, Gate::Rz(-2.0 * cc + FRAC_PI_2), &[q0]);
        gate(&mut out, Gate::Ry(-2.0 * ca + FRAC_PI_2), &[q1]);
        gate(&mut out, Gate::Cx, &[q0, q1]);
        gate(&mut out, Gate::Ry(2.0 * cb - FRAC_PI_2), &[q1]);
        gate(&mut out, Gate::Cx, &[q1, q0]);
        gate(&mut out, Gate::Rz(-FRAC_PI_2), &[q0]);
        g1(&mut out, &a1, q0);
        g1(&mut out, &b1, q1);
        if equal_up_to_phase(&block_unitary(&out, q0, q1)?, u) {
            return Some(out);
        }
    }
    None
}

/// `k1 exp(i(a XX + b YY + c ZZ)) k2` with fewer than three `cx` when the
/// interaction allows it (`k1 = a1 ⊗ b1`, `k2 = a2 ⊗ b2`, `ks` in the order
/// `a1, b1, a2, b2`): none for a product, one when it is locally a `cx`
/// (one coefficient `±pi/4`, the others 0 modulo `pi/2`), two when one
/// coefficient is 0 modulo `pi/2`. `None` otherwise (three are needed).
/// The caller checks the result.
fn reduced(a: f64, b: f64, c: f64, ks: [&Mat2; 4], q0: u32, q1: u32) -> Option<Vec<Operation>> {
    use synth::mul;
    const EPS: f64 = 1e-9;
    let m = |g: Gate| synth::gate_mat(&g);
    // exp(i (t + n pi/2) PP) = exp(i t PP) (i PP)^n: reduce each coefficient
    // into [-pi/4, pi/4], the Paulis (commuting with everything in the
    // middle) go into the local gates before it.
    let mut pre = IDENTITY2;
    let mut coef = [0.0; 3];
    for (k, (t, p)) in [(a, Gate::X), (b, Gate::Y), (c, Gate::Z)].into_iter().enumerate() {
        let n = (t / FRAC_PI_2).round();
        coef[k] = t - n * FRAC_PI_2;
        if (n as i64).rem_euclid(2) == 1 {
            pre = mul(&m(p), &pre);
        }
    }
    let zero = |t: f64| t.abs() < EPS;
    let nonzero: Vec<usize> = (0..3).filter(|&k| !zero(coef[k])).collect();
    // `g` maps X (and Z) onto the Paulis of the two coefficients kept:
    // (g ⊗ g) exp(i(x XX + z ZZ)) (g ⊗ g)^dagger.
    let s = m(Gate::S);
    let h = m(Gate::H);
    let (g, x, z) = match nonzero.as_slice() {
        [] => (IDENTITY2, 0.0, 0.0),
        [0] | [0, 2] => (IDENTITY2, coef[0], coef[2]),
        [1] | [1, 2] => (s, coef[1], coef[2]),
        [2] => (h, coef[2], 0.0),
        [0, 1] => (mul(&h, &s), coef[1], coef[0]),
        _ => return None,
    };
    let gd = synth::dagger(&g);
    let [a1, b1, a2, b2] = ks;
    let mut pre0 = mul(&gd, &mul(&pre, a2));
    let mut pre1 = mul(&gd, &mul(&pre, b2));
    let mut post0 = mul(a1, &g);
    let mut post1 = mul(b1, &g);
    let mut out = Vec::with_capacity(12);
    let push = |out: &mut Vec<Operation>, g: Gate, qs: &[u32]| {
        out.push(Operation::Gate { gate: g, qubits: qs.into(), condition: None });
    };
    let one = |out: &mut Vec<Operation>, mat: &Mat2, q: u32| {
        for g in synth::synth_1q(mat, synth::OneQubitBasis::Any) {
            push(out, g, &[q]);
        }
    };
    if nonzero.is_empty() {
        one(&mut out, &mul(&post0, &pre0), q0);
        one(&mut out, &mul(&post1, &pre1), q1);
    } else if zero(z) && zero(x.abs() - FRAC_PI_4) {
        // exp(i pi/4 XX) = (H ⊗ I)(Rz(-pi/2) ⊗ Rx(-pi/2)) cx (H ⊗ I) up to
        // phase; exp(-i pi/4 XX) = exp(i pi/4 XX) (-i XX).
        if x < 0.0 {
            pre0 = mul(&m(Gate::X), &pre0);
            pre1 = mul(&m(Gate::X), &pre1);
        }
        pre0 = mul(&h, &pre0);
        post0 = mul(&post0, &mul(&h, &m(Gate::Rz(-FRAC_PI_2))));
        post1 = mul(&post1, &m(Gate::Rx(-FRAC_PI_2)));
        one(&mut out, &pre0, q0);
        one(&mut out, &pre1, q1);
        push(&mut out, Gate::Cx, &[q0, q1]);
        one(&mut out, &post0, q0);
        one(&mut out, &post1, q1);
    } else {
        // cx (Rx(t) ⊗ Rz(p)) cx = exp(-i t/2 XX) exp(-i p/2 ZZ)
        one(&mut out, &pre0, q0);
        one(&mut out, &pre1, q1);
        push(&mut out, Gate::Cx, &[q0, q1]);
        push(&mut out, Gate::Rx(-2.0 * x), &[q0]);
        push(&mut out, Gate::Rz(-2.0 * z), &[q1]);
        push(&mut out, Gate::Cx, &[q0, q1]);
        one(&mut out, &post0, q0);
        one(&mut out, &post1, q1);
    }
    Some(out)
}

const IDENTITY2: Mat2 = synth::IDENTITY;

fn transpose(a: &Mat4) -> Mat4 {
    std::array::from_fn(|i| a[(i % 4) * 4 + i / 4])
}

fn det4(m: &Mat4) -> Complex64 {
    // Laplace expansion along the first row of 3x3 minors.
    let det3 = |r: [usize; 3], c: [usize; 3]| -> Complex64 {
        let e = |i: usize, j: usize| m[r[i] * 4 + c[j]];
        e(0, 0) * (e(1, 1) * e(2, 2) - e(1, 2) * e(2, 1))
            - e(0, 1) * (e(1, 0) * e(2, 2) - e(1, 2) * e(2, 0))
            + e(0, 2) * (e(1, 0) * e(2, 1) - e(1, 1) * e(2, 0))
    };
    let cols = [[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]];
    (0..4)
        .map(|j| {
            let s = if j % 2 == 0 { 1.0 } else { -1.0 };
            m[j] * det3([1, 2, 3], cols[j]) * s
        })
        .sum()
}

fn paulis() -> (Mat4, Mat4, Mat4) {
    let x = synth::gate_mat(&Gate::X);
    let y = synth::gate_mat(&Gate::Y);
    let z = synth::gate_mat(&Gate::Z);
    (kron(&x, &x), kron(&y, &y), kron(&z, &z))
}

fn equal_up_to_phase(a: &Mat4, b: &Mat4) -> bool {
    let k = (0..16).max_by(|&i, &j| a[i].norm().total_cmp(&a[j].norm())).unwrap_or(0);
    let ph = b[k] / a[k];
    (ph.norm() - 1.0).abs() < 1e-9 && (0..16).all(|i| (a[i] * ph - b[i]).norm() < 1e-8)
}

/// The unitary of unconditioned gates on `q0` (most significant) and `q1`;
/// `None` if an operation is anything else. Gates are applied to the rows
/// in place (no 4x4 products): this runs for every candidate block.
fn block_unitary<'a>(
    ops: impl IntoIterator<Item = &'a Operation>,
    q0: u32,
    q1: u32,
) -> Option<Mat4> {
    let one = Complex64::new(1.0, 0.0);
    let mut u = [Z; 16];
    for k in 0..4 {
        u[k * 5] = one;
    }
    // Row index bit 1 is q0, bit 0 is q1.
    let swap_rows = |u: &mut Mat4, r0: usize, r1: usize| {
        for c in 0..4 {
            u.swap(r0 * 4 + c, r1 * 4 + c);
        }
    };
    for op in ops {
        let Operation::Gate { gate, qubits, condition: None } = op else {
            return None;
        };
        match (gate, qubits.as_slice()) {
            (_, [q]) if *q == q0 || *q == q1 => {
                let m = synth::gate_mat(gate);
                let bit = if *q == q0 { 2 } else { 1 };
                for r0 in (0..4).filter(|r| r & bit == 0) {
                    let r1 = r0 | bit;
                    for c in 0..4 {
                        let (x, y) = (u[r0 * 4 + c], u[r1 * 4 + c]);
                        u[r0 * 4 + c] = m[0] * x + m[1] * y;
                        u[r1 * 4 + c] = m[2] * x + m[3] * y;
                    }
                }
            }
            (Gate::Cz, [a, b]) if (*a, *b) == (q0, q1) || (*a, *b) == (q1, q0) => {
                for c in 0..4 {
                    u[12 + c] = -u[12 + c];
                }
            }
            (Gate::Swap, [a, b]) if (*a, *b) == (q0, q1) || (*a, *b) == (q1, q0) => {
                swap_rows(&mut u, 1, 2);
            }
            (Gate::Cx, [a, b]) if (*a, *b) == (q0, q1) => swap_rows(&mut u, 2, 3),
            (Gate::Cx, [a, b]) if (*a, *b) == (q1, q0) => swap_rows(&mut u, 1, 3),
            (_, [a, b]) if (*a, *b) == (q0, q1) || (*a, *b) == (q1, q0) => {
                let g: Mat4 = gate.matrix(2).try_into().ok()?;
                let m: Mat4 = if *a == q0 {
                    g
                } else {
                    // reorder: index bits swapped
                    let sw = |i: usize| (i & 1) << 1 | i >> 1;
                    std::array::from_fn(|i| g[sw(i / 4) * 4 + sw(i % 4)])
                };
                u = mul4(&m, &u);
            }
            _ => return None,
        }
    }
    Some(u)
}

/// Re-synthesizes every maximal run of gates confined to one qubit pair
/// that holds more than three 2-qubit gates. Runs are cut at measurements,
/// resets, barriers, conditioned and wider gates.
#[must_use]
pub fn consolidate(ops: Vec<Operation>, num_qubits: usize) -> Vec<Operation> {
    /// A run on one pair; its members are linked through `next` (no
    /// per-block vector: a routed program has hundreds of blocks).
    struct Block {
        pair: (u32, u32),
        first: usize,
        last: usize,
        two: usize,
    }
    const NONE: usize = usize::MAX;
    let mut blocks: Vec<Block> = Vec::new();
    let mut owner: Vec<u32> = vec![u32::MAX; ops.len()];
    let mut next: Vec<usize> = vec![NONE; ops.len()];
    let mut open: Vec<Option<usize>> = vec![None; num_qubits];
    let close = |open: &mut Vec<Option<usize>>, blocks: &[Block], q: u32| {
        if let Some(k) = open[q as usize] {
            let (a, b) = blocks[k].pair;
            open[a as usize] = None;
            open[b as usize] = None;
        }
    };
    let join = |blocks: &mut [Block], next: &mut [usize], owner: &mut [u32], k: usize, i: usize| {
        next[blocks[k].last] = i;
        blocks[k].last = i;
        owner[i] = k as u32;
    };
    for (i, op) in ops.iter().enumerate() {
        match op {
            Operation::Gate { qubits, condition: None, .. } if qubits.len() == 1 => {
                if let Some(k) = open[qubits[0] as usize] {
                    join(&mut blocks, &mut next, &mut owner, k, i);
                }
            }
            Operation::Gate { qubits, condition: None, .. } if qubits.len() == 2 => {
                let (a, b) = (qubits[0], qubits[1]);
                match (open[a as usize], open[b as usize]) {
                    (Some(x), Some(y)) if x == y => {
                        join(&mut blocks, &mut next, &mut owner, x, i);
                        blocks[x].two += 1;
                    }
                    _ => {
                        close(&mut open, &blocks, a);
                        close(&mut open, &blocks, b);
                        let k = blocks.len();
                        blocks.push(Block { pair: (a, b), first: i, last: i, two: 1 });
                        owner[i] = k as u32;
                        open[a as usize] = Some(k);
                        open[b as usize] = Some(k);
                    }
                }
            }
            Operation::Gate { qubits, .. } | Operation::Barrier { qubits } => {
                for &q in qubits {
                    close(&mut open, &blocks, q);
                }
            }
            Operation::Measure { qubit, .. } | Operation::Reset { qubit } => {
                close(&mut open, &blocks, *qubit);
            }
            _ => {}
        }
    }
    // Replacement for each block worth re-synthesizing.
    // For each block worth re-synthesizing, its template (below) and the
    // physical qubits standing for the template's 0 and 1.
    let mut replacement: Vec<Option<(usize, u32, u32)>> = vec![None; blocks.len()];
    // Blocks with the same unitary (bit for bit) synthesize the same way up
    // to the qubit labels (programs such as QFT repeat a few blocks), so
    // each is synthesized once, on qubits 0 and 1, and relabeled.
    let mut templates: Vec<Vec<Operation>> = Vec::new();
    let mut synthesized: synth::BitsMap<[u64; 32], Option<usize>> = synth::BitsMap::default();
    for (k, blk) in blocks.iter().enumerate() {
        if blk.two <= 3 {
            continue;
        }
        let (a, b) = blk.pair;
        let members =
            std::iter::successors(Some(blk.first), |&i| Some(next[i]).filter(|&j| j != NONE))
                .map(|i| &ops[i]);
        let Some(u) = block_unitary(members, a, b) else {
            continue;
        };
        let key: [u64; 32] =
            std::array::from_fn(|i| if i % 2 == 0 { u[i / 2].re } else { u[i / 2].im }.to_bits());
        let t = *synthesized.entry(key).or_insert_with(|| {
            synthesize(&u, 0, 1).map(|new| {
                templates.push(new);
                templates.len() - 1
            })
        });
        if let Some(t) = t {
            replacement[k] = Some((t, a, b));
        }
    }
    if replacement.iter().all(Option::is_none) {
        return ops;
    }
    let added: usize = replacement.iter().flatten().map(|&(t, ..)| templates[t].len()).sum();
    let mut out = Vec::with_capacity(ops.len() + added);
    for (i, op) in ops.into_iter().enumerate() {
        let k = owner[i] as usize;
        match replacement.get(k).copied().flatten() {
            Some((t, a, b)) => {
                if blocks[k].last != i {
                    continue;
                }
                for g in &templates[t] {
                    let Operation::Gate { gate, qubits: tq, condition } = g else {
                        out.push(g.clone());
                        continue;
                    };
                    let qubits = tq.iter().map(|&q| if q == 0 { a } else { b }).collect();
                    out.push(Operation::Gate {
                        gate: gate.clone(),
                        qubits,
                        condition: condition.clone(),
                    });
                }
            }
            None => out.push(op),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_block(seed: f64) -> Vec<Operation> {
        let g = |gate: Gate, q: &[u32]| Operation::Gate { gate, qubits: q.into(), condition: None };
        vec![
            g(Gate::U(seed, 0.3, -0.2), &[3]),
            g(Gate::Cp(seed * 0.7), &[3, 5]),
            g(Gate::Swap, &[5, 3]),
            g(Gate::Ry(0.9), &[5]),
            g(Gate::Crx(seed), &[5, 3]),
            g(Gate::Iswap, &[3, 5]),
        ]
    }

    /// Interactions on all three axes with local gates between them.
    fn generic_block(seed: f64) -> Vec<Operation> {
        let g = |gate: Gate, q: &[u32]| Operation::Gate { gate, qubits: q.into(), condition: None };
        vec![
            g(Gate::U(seed, 0.3, -0.2), &[3]),
            g(Gate::Rxx(0.3 + seed), &[3, 5]),
            g(Gate::Ry(0.9), &[5]),
            g(Gate::Ryy(0.7 * seed), &[5, 3]),
            g(Gate::U(0.4, seed, 0.1), &[3]),
            g(Gate::Rzz(0.37 * seed - 0.2), &[5, 3]),
            g(Gate::Crx(seed), &[5, 3]),
        ]
    }

    #[test]
    fn kak_is_exact_with_at_most_three_cx() {
        for seed in [0.1, 0.7, 1.3, 2.9, -2.2] {
            let ops = generic_block(seed);
            let u = block_unitary(&ops, 3, 5).expect("block");
            let out = synthesize(&u, 3, 5).expect("synthesizes");
            let cx =
                out.iter().filter(|o| matches!(o, Operation::Gate { gate: Gate::Cx, .. })).count();
            // generic: all three interaction coefficients away from 0
            assert_eq!(cx, 3);
            assert!(equal_up_to_phase(&block_unitary(&out, 3, 5).expect("block"), &u));
        }
        // fewer `cx` when the interaction allows: two for a swap after a
        // controlled rotation and an iSWAP (one coefficient is 0), one for
        // a cz between local gates, none for a product
        let g = |gate: Gate, q: &[u32]| Operation::Gate { gate, qubits: q.into(), condition: None };
        for (ops, want) in [
            (random_block(0.7), 2),
            (vec![g(Gate::H, &[3]), g(Gate::Cz, &[5, 3]), g(Gate::Sx, &[5])], 1),
            (vec![g(Gate::H, &[3]), g(Gate::Ry(0.3), &[5])], 0),
            (vec![g(Gate::Rxx(0.2), &[3, 5]), g(Gate::Rzz(-0.9), &[3, 5])], 2),
        ] {
            let u = block_unitary(&ops, 3, 5).expect("block");
            let out = synthesize(&u, 3, 5).expect("synthesizes");
            let cx =
                out.iter().filter(|o| matches!(o, Operation::Gate { gate: Gate::Cx, .. })).count();
            assert_eq!(cx, want, "{ops:?}");
            assert!(equal_up_to_phase(&block_unitary(&out, 3, 5).expect("block"), &u));
        }
        // special cases: identity, swap, cz, local
        for ops in [
            vec![],
            vec![Operation::Gate {
                gate: Gate::Swap,
                qubits: [0, 1].as_slice().into(),
                condition: None,
            }],
            vec![Operation::Gate {
                gate: Gate::Cz,
                qubits: [0, 1].as_slice().into(),
                condition: None,
            }],
            vec![Operation::Gate { gate: Gate::H, qubits: [1].as_slice().into(), condition: None }],
        ] {
            let u = block_unitary(&ops, 0, 1).expect("block");
            assert!(synthesize(&u, 0, 1).is_some(), "{ops:?}");
        }
    }

    #[test]
    fn consolidation_shrinks_swap_after_phase() {
        let g = |gate: Gate, q: &[u32]| Operation::Gate { gate, qubits: q.into(), condition: None };
        let mut ops = Vec::new();
        super::super::synth::Emitter { out: &mut ops, condition: None }.controlled(
            &synth::gate_mat(&Gate::P(0.4)),
            0,
            1,
        );
        for (c, t) in [(0, 1), (1, 0), (0, 1)] {
            ops.push(g(Gate::Cx, &[c, t]));
        }
        ops.push(g(Gate::H, &[2]));
        ops.push(g(Gate::Cx, &[1, 2]));
        let before = block_unitary(&ops[..ops.len() - 2], 0, 1).expect("block");
        let out = consolidate(ops, 3);
        let cx = out.iter().filter(|o| matches!(o, Operation::Gate { gate: Gate::Cx, .. })).count();
        assert_eq!(cx, 4, "{out:?}");
        let n = out.len();
        assert!(equal_up_to_phase(&block_unitary(&out[..n - 2], 0, 1).expect("block"), &before));
    }
}
