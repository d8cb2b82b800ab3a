//! Gate modifiers on expanded gate sequences: inverse and control.
//!
//! A gate body expands to a [`Body`]: primitive [`Gate`]s on absolute
//! qubits plus a global phase. `inv @` reverses the body and inverts every
//! gate; `ctrl @` controls every gate (the controlled product is the product
//! of the controlled factors) and turns the global phase into a phase gate
//! on the controls. Every rewrite here is exact, global phase included, so
//! that controlling the result again stays correct.

use eigen_hal::Gate;
use eigen_hal::circuit::Qubit;
use num_complex::Complex64;
use std::f64::consts::{FRAC_PI_2, FRAC_PI_4};

/// One gate on absolute qubits.
#[derive(Debug, Clone, PartialEq)]
pub struct Prim {
    /// The gate.
    pub gate: Gate,
    /// Its operands, in the gate's order.
    pub qubits: Vec<Qubit>,
}

/// An expanded gate: a sequence of gates and a global phase.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Body {
    /// The gates in order.
    pub prims: Vec<Prim>,
    /// The global phase (radians).
    pub phase: f64,
}

fn prim(gate: Gate, qubits: &[Qubit]) -> Prim {
    Prim { gate, qubits: qubits.to_vec() }
}

type M2 = [Complex64; 4];

fn m2(g: &Gate) -> M2 {
    let m = g.matrix(1);
    [m[0], m[1], m[2], m[3]]
}

fn dagger(m: &M2) -> M2 {
    [m[0].conj(), m[2].conj(), m[1].conj(), m[3].conj()]
}

/// An exact decomposition of a 2-qubit gate without a controlled structure
/// into gates that have one (`None` for the others).
fn decompose(g: &Gate, q: &[Qubit]) -> Option<Vec<Prim>> {
    use Gate::*;
    let (a, b) = (*q.first()?, *q.get(1)?);
    // exp(-i t/2 P⊗Z) conjugated into place: V (cx; rz; cx) V†.
    let zz = |t: f64, pre: &[Prim], post: &[Prim]| {
        let mut v = pre.to_vec();
        v.extend([prim(Cx, &[a, b]), prim(Rz(t), &[b]), prim(Cx, &[a, b])]);
        v.extend_from_slice(post);
        v
    };
    Some(match *g {
        Rzz(t) => zz(t, &[], &[]),
        Rxx(t) => {
            let hh = [prim(H, &[a]), prim(H, &[b])];
            zz(t, &hh, &hh)
        }
        Ryy(t) => zz(
            t,
            &[prim(Rx(FRAC_PI_2), &[a]), prim(Rx(FRAC_PI_2), &[b])],
            &[prim(Rx(-FRAC_PI_2), &[a]), prim(Rx(-FRAC_PI_2), &[b])],
        ),
        Rzx(t) => zz(t, &[prim(H, &[b])], &[prim(H, &[b])]),
        Iswap => vec![
            prim(S, &[a]),
            prim(S, &[b]),
            prim(H, &[a]),
            prim(Cx, &[a, b]),
            prim(Cx, &[b, a]),
            prim(H, &[b]),
        ],
        Ecr => {
            let mut v = decompose(&Rzx(FRAC_PI_4), q)?;
            v.push(prim(X, &[a]));
            v.extend(decompose(&Rzx(-FRAC_PI_4), q)?);
            v
        }
        _ => return None,
    })
}

/// Appends the inverse of `p` to `out`.
pub fn invert_prim(p: &Prim, out: &mut Vec<Prim>) {
    use Gate::*;
    let q = &p.qubits;
    let g = match p.gate {
        S => Sdg,
        Sdg => S,
        T => Tdg,
        Tdg => T,
        Sx => Sxdg,
        Sxdg => Sx,
        Rx(t) => Rx(-t),
        Ry(t) => Ry(-t),
        Rz(t) => Rz(-t),
        P(t) => P(-t),
        U(t, ph, l) => U(-t, -l, -ph),
        Cp(t) => Cp(-t),
        Crx(t) => Crx(-t),
        Cry(t) => Cry(-t),
        Crz(t) => Crz(-t),
        Cu(t, ph, l, g) => Cu(-t, -l, -ph, -g),
        Csx => Mcu(Box::new(dagger(&m2(&Sx)))),
        Rxx(t) => Rxx(-t),
        Ryy(t) => Ryy(-t),
        Rzz(t) => Rzz(-t),
        Rzx(t) => Rzx(-t),
        Iswap => {
            let d = decompose(&Iswap, q).expect("iswap has a decomposition");
            for p in d.iter().rev() {
                invert_prim(p, out);
            }
            return;
        }
        Mcu(ref u) => Mcu(Box::new(dagger(u))),
        Unitary1(ref u) => Unitary1(Box::new(dagger(u))),
        Unitary2(ref u) => {
            let mut d = [Complex64::new(0.0, 0.0); 16];
            for r in 0..4 {
                for c in 0..4 {
                    d[r * 4 + c] = u[c * 4 + r].conj();
                }
            }
            Unitary2(Box::new(d))
        }
        // Self-inverse.
        ref g => g.clone(),
    };
    out.push(Prim { gate: g, qubits: q.clone() });
}

/// The inverse of `body`.
#[must_use]
pub fn invert(body: &Body) -> Body {
    let mut prims = Vec::with_capacity(body.prims.len());
    for p in body.prims.iter().rev() {
        invert_prim(p, &mut prims);
    }
    Body { prims, phase: -body.phase }
}

/// A phase `e^{i phase}` applied when every one of `controls` is |1>.
pub fn controlled_phase(phase: f64, controls: &[Qubit], out: &mut Vec<Prim>) {
    if phase == 0.0 || controls.is_empty() {
        return;
    }
    match controls {
        [c] => out.push(prim(Gate::P(phase), &[*c])),
        [a, b] => out.push(prim(Gate::Cp(phase), &[*a, *b])),
        _ => out.push(prim(Gate::Mcu(Box::new(m2(&Gate::P(phase)))), controls)),
    }
}

/// `body` controlled on every qubit of `controls` being |1>.
///
/// Errors only for a gate that cannot be controlled exactly (an arbitrary
/// two-qubit unitary, which the front end never produces).
pub fn control(body: &Body, controls: &[Qubit]) -> Result<Body, String> {
    let mut prims = Vec::with_capacity(body.prims.len());
    for p in &body.prims {
        control_prim(&p.gate, &p.qubits, controls, &mut prims)?;
    }
    controlled_phase(body.phase, controls, &mut prims);
    Ok(Body { prims, phase: 0.0 })
}

fn with(controls: &[Qubit], rest: &[Qubit]) -> Vec<Qubit> {
    let mut v = controls.to_vec();
    v.extend_from_slice(rest);
    v
}

/// A one-qubit gate `g` on `t` controlled by `cs` (non-empty).
fn control_1q(g: &Gate, t: Qubit, cs: &[Qubit], out: &mut Vec<Prim>) {
    use Gate::*;
    let qs = with(cs, &[t]);
    if cs.len() == 1 {
        let direct = match *g {
            I => return,
            X => Some(Cx),
            Y => Some(Cy),
            Z => Some(Cz),
            H => Some(Ch),
            P(l) => Some(Cp(l)),
            S => Some(Cp(FRAC_PI_2)),
            Sdg => Some(Cp(-FRAC_PI_2)),
            T => Some(Cp(FRAC_PI_4)),
            Tdg => Some(Cp(-FRAC_PI_4)),
            Rx(a) => Some(Crx(a)),
            Ry(a) => Some(Cry(a)),
            Rz(a) => Some(Crz(a)),
            Sx => Some(Csx),
            U(a, b, c) => Some(Cu(a, b, c, 0.0)),
            _ => None,
        };
        if let Some(d) = direct {
            out.push(Prim { gate: d, qubits: qs });
            return;
        }
    }
    let gate = match g {
        I => return,
        X if cs.len() == 2 => Ccx,
        X => Mcx,
        Z => Mcz,
        Mcu(u) | Unitary1(u) => Mcu(u.clone()),
        other => Mcu(Box::new(m2(other))),
    };
    out.push(Prim { gate, qubits: qs });
}

/// Appends `g` on `q`, controlled by `cs` (non-empty), to `out`.
pub fn control_prim(
    g: &Gate,
    q: &[Qubit],
    cs: &[Qubit],
    out: &mut Vec<Prim>,
) -> Result<(), String> {
    use Gate::*;
    let split = |k: usize| -> Result<(Vec<Qubit>, Qubit), String> {
        if q.len() < k.max(1) {
            return Err(format!("'{}' has too few operands", g.name()));
        }
        let (c, t) = q.split_at(q.len() - 1);
        Ok((with(cs, c), t[0]))
    };
    match *g {
        _ if g.arity() == Some(1) => {
            let t = *q.first().ok_or_else(|| format!("'{}' has no operand", g.name()))?;
            control_1q(g, t, cs, out);
        }
        Cx | Ccx | Mcx => {
            let (c, t) = split(2)?;
            control_1q(&X, t, &c, out);
        }
        Cy => {
            let (c, t) = split(2)?;
            control_1q(&Y, t, &c, out);
        }
        Cz | Mcz => {
            let (c, t) = split(2)?;
            control_1q(&Z, t, &c, out);
        }
        Ch => {
            let (c, t) = split(2)?;
            control_1q(&H, t, &c, out);
        }
        Cp(l) => {
            let (c, t) = split(2)?;
            control_1q(&P(l), t, &c, out);
        }
        Crx(a) => {
            let (c, t) = split(2)?;
            control_1q(&Rx(a), t, &c, out);
        }
        Cry(a) => {
            let (c, t) = split(2)?;
            control_1q(&Ry(a), t, &c, out);
        }
        Crz(a) => {
            let (c, t) = split(2)?;
            control_1q(&Rz(a), t, &c, out);
        }
        Csx => {
            let (c, t) = split(2)?;
            control_1q(&Sx, t, &c, out);
        }
        Cu(a, b, l, gamma) => {
            let (c, t) = split(2)?;
            let ph = Complex64::from_polar(1.0, gamma);
            let u = m2(&U(a, b, l)).map(|x| x * ph);
            control_1q(&Unitary1(Box::new(u)), t, &c, out);
        }
        Mcu(ref u) => {
            let (c, t) = split(2)?;
            control_1q(&Unitary1(u.clone()), t, &c, out);
        }
        Swap | Cswap => {
            // swap(a, b) = cx(b, a) cx(a, b) cx(b, a): only the middle one
            // needs the controls.
            if q.len() < 2 {
                return Err(format!("'{}' has too few operands", g.name()));
            }
            let (c, ab) = q.split_at(q.len() - 2);
            let (a, b) = (ab[0], ab[1]);
            out.push(prim(Cx, &[b, a]));
            control_1q(&X, b, &with(cs, &with(c, &[a])), out);
            out.push(prim(Cx, &[b, a]));
        }
        Rzz(_) | Rxx(_) | Ryy(_) | Rzx(_) => {
            // V (cx; rz; cx) V†: only the rz needs the controls.
            let d = decompose(g, q).ok_or("decomposition")?;
            for p in d {
                if matches!(p.gate, Rz(_)) {
                    control_1q(&p.gate, p.qubits[0], cs, out);
                } else {
                    out.push(p);
                }
            }
        }
        Iswap | Ecr => {
            for p in decompose(g, q).ok_or("decomposition")? {
                control_prim(&p.gate, &p.qubits, cs, out)?;
            }
        }
        _ => return Err(format!("cannot control the gate '{}'", g.name())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    /// Dense unitary of `prims` on `n` qubits; qubit 0 least significant.
    fn unitary(prims: &[Prim], n: usize) -> Vec<Complex64> {
        let dim = 1 << n;
        let mut u = vec![Complex64::new(0.0, 0.0); dim * dim];
        for col in 0..dim {
            let mut s = vec![Complex64::new(0.0, 0.0); dim];
            s[col] = Complex64::new(1.0, 0.0);
            for p in prims {
                let k = p.qubits.len();
                let m = p.gate.matrix(k);
                let mut next = vec![Complex64::new(0.0, 0.0); dim];
                for (i, amp) in s.iter().enumerate() {
                    // Sub-index of i on the gate's operands, first most significant.
                    let sub = p.qubits.iter().fold(0, |a, q| a << 1 | (i >> q & 1));
                    for r in 0..1 << k {
                        let mut j = i;
                        for (b, q) in p.qubits.iter().enumerate() {
                            let bit = r >> (k - 1 - b) & 1;
                            j = (j & !(1 << q)) | bit << q;
                        }
                        next[j] += m[r * (1 << k) + sub] * amp;
                    }
                }
                s = next;
            }
            for row in 0..dim {
                u[row * dim + col] = s[row];
            }
        }
        u
    }

    fn close(a: &[Complex64], b: &[Complex64]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).norm() < 1e-9)
    }

    fn gates() -> Vec<Gate> {
        let mut gates = Gate::one_of_each();
        gates.push(Gate::Mcu(Box::new(m2(&Gate::H))));
        gates
    }

    fn operands(g: &Gate) -> Vec<Qubit> {
        // Reversed order exercises the operand mapping.
        (0..g.arity().unwrap_or(3) as u32).rev().collect()
    }

    #[test]
    fn decompositions_are_exact() {
        use Gate::*;
        for g in [Iswap, Ecr, Rxx(0.2), Ryy(0.3), Rzz(0.4), Rzx(0.5), Rzx(-PI / 4.0)] {
            let q = [1, 0];
            let d = decompose(&g, &q).unwrap();
            assert!(close(&unitary(&d, 2), &unitary(&[prim(g.clone(), &q)], 2)), "{g:?}");
        }
    }

    #[test]
    fn inverses_are_exact() {
        for g in gates() {
            let q = operands(&g);
            let n = q.len();
            let p = prim(g.clone(), &q);
            let mut seq = vec![p.clone()];
            invert_prim(&p, &mut seq);
            assert!(close(&unitary(&seq, n), &unitary(&[], n)), "{g:?}");
        }
    }

    #[test]
    fn controls_are_exact_for_every_gate() {
        for g in gates() {
            let q: Vec<Qubit> = operands(&g).iter().map(|x| x + 2).collect();
            let n = q.len() + 2;
            let base = unitary(&[prim(g.clone(), &q)], n);
            let mut out = Vec::new();
            control_prim(&g, &q, &[1, 0], &mut out).unwrap();
            let got = unitary(&out, n);
            // Controlled on qubits 0 and 1: identity unless both are 1.
            let dim = 1 << n;
            for r in 0..dim {
                for c in 0..dim {
                    let want = if c & 3 == 3 {
                        base[r * dim + c]
                    } else if r == c {
                        Complex64::new(1.0, 0.0)
                    } else {
                        Complex64::new(0.0, 0.0)
                    };
                    assert!((got[r * dim + c] - want).norm() < 1e-9, "{g:?} at {r},{c}");
                }
            }
        }
    }

    #[test]
    fn controlled_phase_is_a_phase_on_the_controls() {
        for cs in [&[0u32][..], &[0, 1], &[0, 1, 2]] {
            let body = Body { prims: vec![], phase: 0.5 };
            let c = control(&body, cs).unwrap();
            let u = unitary(&c.prims, cs.len());
            let dim = 1 << cs.len();
            let last = Complex64::from_polar(1.0, 0.5);
            assert!((u[dim * dim - 1] - last).norm() < 1e-12);
            assert!((u[0] - Complex64::new(1.0, 0.0)).norm() < 1e-12);
        }
    }
}
