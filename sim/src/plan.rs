//! Cache blocking: a gate sequence cut into stages, each one pass over memory.
//!
//! A stage is a set `S` of at most `block_bits` qubits that always contains
//! the `seg_bits` lowest ones. For every assignment of the qubits outside
//! `S` ("outer" bits), the `2^|S|` amplitudes that share it form a *group*:
//! `2^(|S| - seg_bits)` contiguous segments of `2^seg_bits` amplitudes. The
//! executor gathers a group into a cache-sized scratch block, applies every
//! op of the stage to it, and scatters it back, so the whole stage costs one
//! read and one write of the state whatever its gate count.
//!
//! An op fits a stage when the qubits it mixes ([`Op::needs`]) are in `S`.
//! Controls and diagonal targets on outer qubits do not need to be in `S`:
//! they are constant over a group, so they only decide whether (and with
//! which phase) the op applies to that group. Planning is greedy in program
//! order: an op that does not fit blocks its qubits for the rest of the
//! stage, so a later op on them is not moved ahead of it, while ops on other
//! qubits still join the stage (they commute with the blocked ones).

use crate::ops::{C, Kind, Op};
use std::borrow::Cow;

/// How the executor cuts the state into blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocking {
    /// log2 of the amplitudes in one block (16 bytes each): 15 is 512 KiB,
    /// half of a 1 MiB L2 cache.
    pub block_bits: u32,
    /// log2 of the contiguous run gathered at a time; the lowest `seg_bits`
    /// qubits are in every block.
    pub seg_bits: u32,
    /// log2 of the amplitudes of an L1-sized sub-block: inside a block, runs
    /// of ops on the lowest `inner_bits` qubits are applied sub-block by
    /// sub-block (11 is 32 KiB).
    pub inner_bits: u32,
}

impl Default for Blocking {
    fn default() -> Self {
        Self { block_bits: 15, seg_bits: 6, inner_bits: 11 }
    }
}

/// An op as a stage applies it: its kernel on local qubit positions, or a
/// diagonal whose targets are (partly) outer bits, resolved per group.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StageKind {
    Local(Kind),
    /// diag(d0, d1) on an outer qubit: a phase on the whole group.
    D1Out {
        bit: usize,
        d: [C; 2],
    },
    /// A 2-qubit diagonal whose first qubit is outer, second local.
    D2OutFirst {
        bit0: usize,
        q1: u32,
        d: [C; 4],
    },
    /// A 2-qubit diagonal whose first qubit is local, second outer.
    D2OutSecond {
        q0: u32,
        bit1: usize,
        d: [C; 4],
    },
    /// A 2-qubit diagonal on two outer qubits.
    D2Out {
        bit0: usize,
        bit1: usize,
        d: [C; 4],
    },
}

/// One op of a stage.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StageOp {
    pub kind: StageKind,
    /// Controls on outer qubits (global index bits).
    pub outer_ctrl: usize,
    /// Controls on local qubits (local offset bits).
    pub local_ctrl: u64,
}

impl StageOp {
    /// The kernel and local control mask for the group whose outer bits are
    /// those of `base`, or `None` when the op does not touch the group.
    #[inline(always)]
    pub fn resolve(&self, base: usize) -> Option<(Cow<'_, Kind>, u64)> {
        if base & self.outer_ctrl != self.outer_ctrl {
            return None;
        }
        let bit = |b: usize| usize::from(base & b != 0);
        let kind = match self.kind {
            StageKind::Local(ref k) => return Some((Cow::Borrowed(k), self.local_ctrl)),
            StageKind::D1Out { bit: b, d } => Kind::Phase { c: d[bit(b)] },
            StageKind::D2OutFirst { bit0, q1, d } => {
                let h = 2 * bit(bit0);
                Kind::D1 { q: q1, d: [d[h], d[h + 1]] }
            }
            StageKind::D2OutSecond { q0, bit1, d } => {
                let l = bit(bit1);
                Kind::D1 { q: q0, d: [d[l], d[2 + l]] }
            }
            StageKind::D2Out { bit0, bit1, d } => Kind::Phase { c: d[2 * bit(bit0) + bit(bit1)] },
        };
        Some((Cow::Owned(kind), self.local_ctrl))
    }
}

/// One pass over memory: the block's qubits and the ops applied in it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stage {
    /// Global mask of the block's qubits.
    pub smask: u64,
    /// `seg_bits` of this stage (the low qubits always in the block).
    pub seg_bits: u32,
    /// True when the block is the lowest `|S|` qubits: groups are contiguous
    /// chunks updated in place, without gathering.
    pub contiguous: bool,
    pub ops: Vec<StageOp>,
    /// The ops cut into consecutive groups: `(true, k)` is `k` ops on the
    /// lowest `inner` qubits, applied per L1-sized sub-block; `(false, k)`
    /// is `k` ops each applied to the whole block.
    pub groups: Vec<(bool, usize)>,
    /// log2 of the sub-block of the inner groups.
    pub inner: u32,
    /// Global mask of the qubits whose bit the stage's ops may change
    /// ([`Op::needs`]): a qubit outside every earlier stage's `mixes` is
    /// still 0 in every amplitude of a state that started as |0...0>.
    pub mixes: u64,
}

impl Stage {
    /// The number of qubits in the block.
    pub fn bits(&self) -> u32 {
        self.smask.count_ones()
    }
}

/// Cuts `ops` on `n` qubits into stages.
pub(crate) fn plan(ops: &[Op], n: u32, blocking: Blocking) -> Vec<Stage> {
    if ops.is_empty() {
        return Vec::new();
    }
    let full = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    if n <= blocking.block_bits {
        let mut stage = build(ops.iter(), full, n, true);
        split_inner(&mut stage, blocking.inner_bits);
        return vec![stage];
    }
    let block = blocking.block_bits.max(3);
    let seg = blocking.seg_bits.min(block - 2);
    let low = (1u64 << seg) - 1;
    let mut stages = Vec::new();
    let mut remaining: Vec<&Op> = ops.iter().collect();
    while !remaining.is_empty() {
        let mut s = low;
        let mut blocked = 0u64;
        let mut taken = Vec::new();
        let mut deferred = Vec::new();
        for op in remaining {
            if blocked == full {
                deferred.push(op);
                continue;
            }
            let support = op.support();
            if support & blocked == 0 {
                let grown = s | op.needs();
                if grown.count_ones() <= block {
                    s = grown;
                    taken.push(op);
                    continue;
                }
            }
            blocked |= support;
            deferred.push(op);
        }
        // Fill the block up with the lowest free qubits: longer contiguous
        // segments make the gather stream at full bandwidth, and a block on
        // the lowest qubits needs no gather at all.
        while s.count_ones() < block && s != full {
            s |= !s & s.wrapping_add(1);
        }
        let low_block = (1u64 << block) - 1;
        let contiguous = s & !low_block == 0;
        let seg_bits = s.trailing_ones();
        let mut stage = build(taken.into_iter(), s, seg_bits, contiguous);
        split_inner(&mut stage, blocking.inner_bits);
        stages.push(stage);
        remaining = deferred;
    }
    stages
}

fn build<'a>(
    ops: impl Iterator<Item = &'a Op>,
    smask: u64,
    seg_bits: u32,
    contiguous: bool,
) -> Stage {
    let local = |q: u32| (smask & ((1u64 << q) - 1)).count_ones();
    let is_local = |q: u32| smask >> q & 1 == 1;
    let mut out = Vec::new();
    let mut mixes = 0u64;
    for op in ops {
        mixes |= op.needs();
        let outer_ctrl = (op.ctrl & !smask) as usize;
        let mut local_ctrl = 0u64;
        let mut c = op.ctrl & smask;
        while c != 0 {
            local_ctrl |= 1 << local(c.trailing_zeros());
            c &= c - 1;
        }
        let kind = match op.kind {
            Kind::D1 { q, d } if !is_local(q) => StageKind::D1Out { bit: 1 << q, d },
            Kind::D2 { q0, q1, d } if !is_local(q0) || !is_local(q1) => {
                match (is_local(q0), is_local(q1)) {
                    (false, true) => StageKind::D2OutFirst { bit0: 1 << q0, q1: local(q1), d },
                    (true, false) => StageKind::D2OutSecond { q0: local(q0), bit1: 1 << q1, d },
                    _ => StageKind::D2Out { bit0: 1 << q0, bit1: 1 << q1, d },
                }
            }
            ref k => StageKind::Local(localize(k, &local)),
        };
        out.push(StageOp { kind, outer_ctrl, local_ctrl });
    }
    let groups = vec![(false, out.len())];
    Stage { smask, seg_bits, contiguous, ops: out, groups, inner: 0, mixes }
}

/// Local qubits an op reads (targets and controls) inside its block.
fn local_support(op: &StageOp) -> u64 {
    let targets = match &op.kind {
        StageKind::Local(k) => k.targets(),
        StageKind::D2OutFirst { q1, .. } => 1 << q1,
        StageKind::D2OutSecond { q0, .. } => 1 << q0,
        StageKind::D1Out { .. } | StageKind::D2Out { .. } => 0,
    };
    targets | op.local_ctrl
}

/// Reorders a stage's ops (only past ops on disjoint qubits, with which
/// they commute) into alternating groups: ops entirely on the lowest
/// `inner_bits` local qubits, run per L1-sized sub-block, and the others.
fn split_inner(stage: &mut Stage, inner_bits: u32) {
    let bits = stage.bits();
    if inner_bits == 0 || inner_bits >= bits {
        stage.groups = vec![(false, stage.ops.len())];
        return;
    }
    let low = (1u64 << inner_bits) - 1;
    let mut remaining = std::mem::take(&mut stage.ops);
    let mut ops = Vec::with_capacity(remaining.len());
    let mut groups = Vec::new();
    while !remaining.is_empty() {
        for inner in [true, false] {
            let mut blocked = 0u64;
            let mut deferred = Vec::new();
            let before = ops.len();
            for op in remaining.drain(..) {
                let support = local_support(&op);
                if support & blocked == 0 && (support & !low == 0) == inner {
                    ops.push(op);
                } else {
                    blocked |= support;
                    deferred.push(op);
                }
            }
            remaining = deferred;
            if ops.len() > before {
                groups.push((inner, ops.len() - before));
            }
        }
    }
    stage.ops = ops;
    stage.groups = groups;
    stage.inner = inner_bits;
}

fn localize(kind: &Kind, local: &impl Fn(u32) -> u32) -> Kind {
    match *kind {
        Kind::U1 { q, m } => Kind::U1 { q: local(q), m },
        Kind::R1 { q, m } => Kind::R1 { q: local(q), m },
        Kind::Xr { q, a, b } => Kind::Xr { q: local(q), a, b },
        Kind::D1 { q, d } => Kind::D1 { q: local(q), d },
        Kind::X1 { q } => Kind::X1 { q: local(q) },
        Kind::U2 { q0, q1, ref m } => Kind::U2 { q0: local(q0), q1: local(q1), m: m.clone() },
        Kind::D2 { q0, q1, d } => Kind::D2 { q0: local(q0), q1: local(q1), d },
        Kind::Swap { q0, q1 } => Kind::Swap { q0: local(q0), q1: local(q1) },
        Kind::Phase { c } => Kind::Phase { c },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::lower;
    use eigen_hal::Gate;

    #[test]
    fn small_circuits_are_one_stage() {
        let ops: Vec<Op> = (0..5).filter_map(|q| lower(&Gate::H, &[q])).collect();
        let stages = plan(&ops, 5, Blocking::default());
        assert_eq!(stages.len(), 1);
        assert!(stages[0].contiguous);
    }

    #[test]
    fn high_qubits_get_their_own_block_and_diagonals_need_none() {
        let blocking = Blocking { block_bits: 4, seg_bits: 2, inner_bits: 0 };
        let mut ops = Vec::new();
        for q in 0..8 {
            ops.extend(lower(&Gate::H, &[q]));
        }
        ops.extend(lower(&Gate::Cz, &[0, 7]));
        let stages = plan(&ops, 8, blocking);
        // 2 low qubits always in; 2 more per stage: h on 0..=3, 4..=5, 6..=7.
        assert_eq!(stages.len(), 3);
        assert!(stages.iter().all(|s| s.bits() <= 4));
        let last = stages.last().expect("three stages");
        assert_eq!(last.ops.len(), 3, "the cz rides along without needing a slot");
    }
}
