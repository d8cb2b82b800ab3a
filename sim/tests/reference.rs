//! The fast kernels (fusion, cache blocking, controls, diagonal and
//! permutation fast paths) against a dense-matrix reference (nalgebra).

mod common;

use common::{all_gates, max_diff, random_state, reference};
use eigen_hal::Gate;
use eigen_sim::{Blocking, StateVector};
use num_complex::Complex64 as C;
use proptest::prelude::*;

/// Blockings that exercise every executor path on small states: one block,
/// contiguous chunks, and gathered groups with tiny segments.
const BLOCKINGS: [Blocking; 5] = [
    Blocking { block_bits: 15, seg_bits: 6, inner_bits: 11 },
    Blocking { block_bits: 3, seg_bits: 1, inner_bits: 0 },
    Blocking { block_bits: 4, seg_bits: 0, inner_bits: 2 },
    Blocking { block_bits: 5, seg_bits: 2, inner_bits: 3 },
    Blocking { block_bits: 8, seg_bits: 3, inner_bits: 1 },
];

fn run(state: &[C], gates: &[(Gate, Vec<u32>)], blocking: Blocking) -> Vec<C> {
    let mut sv = StateVector::from_amplitudes(state.to_vec()).expect("power of two");
    sv.apply_gates(gates, blocking).expect("valid gates");
    sv.amplitudes().to_vec()
}

#[test]
fn every_gate_variant_matches_its_matrix_on_every_operand_order() {
    let n = 5;
    let state = random_state(n, 42);
    for gate in all_gates() {
        let k = gate.arity().expect("fixed arity") as u32;
        // A few operand placements: ascending, descending, spread out.
        let placements: Vec<Vec<u32>> = match k {
            1 => vec![vec![0], vec![2], vec![4]],
            2 => vec![vec![0, 1], vec![1, 0], vec![4, 0], vec![2, 4], vec![3, 1]],
            _ => vec![vec![0, 1, 2], vec![4, 2, 0], vec![1, 4, 3], vec![3, 0, 4]],
        };
        for qs in placements {
            let gates = vec![(gate.clone(), qs.clone())];
            let want = reference(&state, &gates, n);
            for b in BLOCKINGS {
                let got = run(&state, &gates, b);
                assert!(max_diff(&got, &want) < 1e-12, "{} on {qs:?} with {b:?}", gate.name());
            }
        }
    }
}

#[test]
fn multi_controlled_gates_match_their_matrices() {
    let n = 6;
    let state = random_state(n, 7);
    let h = Gate::H.matrix(1);
    let ry = Gate::Ry(0.8).matrix(1);
    let p = Gate::P(0.4).matrix(1);
    let gates = [
        Gate::Mcx,
        Gate::Mcz,
        Gate::Mcu(Box::new([h[0], h[1], h[2], h[3]])),
        Gate::Mcu(Box::new([ry[0], ry[1], ry[2], ry[3]])),
        Gate::Mcu(Box::new([p[0], p[1], p[2], p[3]])),
    ];
    let placements =
        [vec![3], vec![0, 5], vec![5, 0], vec![1, 3, 2], vec![5, 0, 2, 4], vec![0, 1, 2, 3, 4, 5]];
    for g in &gates {
        for qs in &placements {
            let ops = vec![(g.clone(), qs.clone())];
            let want = reference(&state, &ops, n);
            for b in BLOCKINGS {
                let got = run(&state, &ops, b);
                assert!(max_diff(&got, &want) < 1e-12, "{} on {qs:?} with {b:?}", g.name());
            }
        }
    }
}

fn arb_gate(n: u32) -> impl Strategy<Value = (Gate, Vec<u32>)> {
    let gates = all_gates();
    let count = gates.len();
    (0..count, proptest::collection::vec(0..n, 3), -3.2f64..3.2).prop_filter_map(
        "needs distinct operands",
        move |(gi, picks, angle)| {
            let mut gate = gates[gi].clone();
            // Re-angle the parametric gates so the property explores angles.
            gate = match gate {
                Gate::Rx(_) => Gate::Rx(angle),
                Gate::Ry(_) => Gate::Ry(angle),
                Gate::Rz(_) => Gate::Rz(angle),
                Gate::Cp(_) => Gate::Cp(angle),
                Gate::Rzz(_) => Gate::Rzz(angle),
                g => g,
            };
            let k = gate.arity().expect("fixed arity");
            let mut qs = Vec::new();
            for q in picks {
                if !qs.contains(&q) {
                    qs.push(q);
                }
            }
            (qs.len() >= k).then(|| {
                qs.truncate(k);
                (gate, qs)
            })
        },
    )
}

fn arb_circuit() -> impl Strategy<Value = (u32, Vec<(Gate, Vec<u32>)>)> {
    (3u32..=8).prop_flat_map(|n| (Just(n), proptest::collection::vec(arb_gate(n), 1..40)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_circuits_match_the_dense_reference((n, gates) in arb_circuit(), seed in 0u64..1000) {
        let state = random_state(n, seed);
        let want = reference(&state, &gates, n);
        for b in BLOCKINGS {
            let got = run(&state, &gates, b);
            prop_assert!(max_diff(&got, &want) < 1e-10, "blocking {:?}", b);
            let norm: f64 = got.iter().map(|a| a.norm_sqr()).sum();
            prop_assert!((norm - 1.0).abs() < 1e-10, "norm {}", norm);
        }
    }
}

/// One 1-qubit gate at a time on every qubit of a 13-qubit state, against
/// a direct 2x2 update: the default blocking runs targets 6-10 through the
/// prefetching pair walk and 11-12 through whole-block runs, which the
/// small random circuits above never reach.
#[test]
fn single_qubit_gates_on_every_qubit_of_a_wider_state() {
    let n = 13u32;
    let state = random_state(n, 11);
    let h = std::f64::consts::FRAC_1_SQRT_2;
    let gates = [
        Gate::H,
        Gate::X,
        Gate::Rx(0.7),
        Gate::U(0.3, 0.2, 0.1),
        Gate::Unitary1(Box::new([C::new(h, 0.0), C::new(0.0, h), C::new(0.0, h), C::new(h, 0.0)])),
    ];
    for gate in gates {
        let m = gate.matrix(1);
        for q in 0..n {
            let s = 1usize << q;
            let mut want = state.clone();
            for i in (0..want.len()).filter(|i| i & s == 0) {
                let (u, v) = (want[i], want[i | s]);
                want[i] = m[0] * u + m[1] * v;
                want[i | s] = m[2] * u + m[3] * v;
            }
            let got = run(&state, &[(gate.clone(), vec![q])], BLOCKINGS[0]);
            assert!(max_diff(&got, &want) < 1e-12, "{} on qubit {q}", gate.name());
        }
    }
}
