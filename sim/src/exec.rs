//! Running planned stages over a state vector, in parallel.
//!
//! States below [`crate::par::MIN_PARALLEL`] amplitudes run on the calling
//! thread. Work is split over groups (see [`crate::plan`]), never over one gate's
//! pairs: every group holds both halves of every pair it touches, so a gate
//! on the highest qubit splits over cores as well as one on qubit 0.
//!
//! Non-contiguous groups are gathered through a list of disjoint `&mut`
//! segments (made by `chunks_exact_mut` and regrouped), so the executor
//! needs no unsafe aliasing. The `unsafe` in the crate is the call into
//! the AVX2 copies of the per-block and per-pair loops after checking at
//! run time that the CPU has those features, and the prefetch hints of
//! [`crate::kernels`] (which never fault).

use crate::dense;
use crate::kernels;
use crate::masses::{self, RUN, RUN_GROUPS};
use crate::ops::C;
use crate::ops::Kind;
use crate::plan::{Stage, StageKind, StageOp};
use rayon::prelude::*;

/// Applies every stage to `state` (length `2^n`).
pub(crate) fn run_stages(state: &mut [C], stages: &[Stage]) {
    for stage in stages {
        run_stage(state, stage);
    }
}

/// Applies one stage: one pass over memory.
pub(crate) fn run_stage(state: &mut [C], stage: &Stage) {
    run_stage_with(state, stage, u64::MAX, None);
}

/// What the last gate pass records for the sampler while its amplitudes
/// are in cache (see [`crate::shots::Recording`]).
#[derive(Debug)]
pub(crate) enum Record<'a> {
    /// The masses of the search ([`masses::fill`]), of length
    /// [`masses::mass_len`].
    Masses(&'a mut [f64]),
    /// The dense sampler's first attempt ([`crate::dense`]): one part per
    /// block, in index order.
    Arrivals(&'a dense::Attempt, &'a mut Vec<dense::Arrivals>),
}

/// Applies one stage to a state that is zero wherever a qubit outside
/// `live` is 1 (a state that started as |0...0> and went through stages
/// mixing only `live`, see [`Stage::mixes`]): the groups there are zero
/// before and after the stage and are skipped. With `record`, also records
/// it while the amplitudes are in cache, and returns whether it did (not
/// for a lone gate on a high qubit, nor blocks or segments shorter than a
/// run, nor arrivals but from contiguous blocks: the caller then computes
/// them itself).
pub(crate) fn run_stage_with(
    state: &mut [C],
    stage: &Stage,
    live: u64,
    record: Option<Record<'_>>,
) -> bool {
    let record = match record {
        Some(Record::Arrivals(attempt, parts)) => {
            return run_drawing(state, stage, live, attempt, parts);
        }
        Some(Record::Masses(m)) => Some(m),
        None => None,
    };
    let bits = stage.bits();
    let block = 1usize << bits;
    if let Some(m) = record.as_deref() {
        debug_assert_eq!(m.len(), masses::mass_len(state.len()));
    }
    let mut runs = record.map(masses::split_mut);
    if state.len() <= block {
        run_block(state, stage, 0, runs);
        return true;
    }
    // Index bits of qubits still 0 everywhere.
    let dead = !(live as usize);
    let parallel = crate::par::worth_it(state.len());
    if stage.contiguous {
        let Some(runs) = runs.filter(|_| block >= RUN) else {
            let run = |(i, chunk): (usize, &mut [C])| {
                if (i << bits) & dead == 0 {
                    run_block(chunk, stage, i << bits, None);
                }
            };
            if parallel {
                state.par_chunks_mut(block).enumerate().for_each(run);
            } else {
                state.chunks_mut(block).enumerate().for_each(run);
            }
            return false;
        };
        let (ends, runs) = runs;
        let per = block / RUN;
        type Piece<'a> = (&'a mut [C], (&'a mut [f64], &'a mut [f64]));
        let run = |(i, (chunk, (e, m))): (usize, Piece<'_>)| {
            if (i << bits) & dead == 0 {
                run_block(chunk, stage, i << bits, Some((e, m)));
            } else {
                e.fill(0.0);
                m.fill(0.0);
            }
        };
        if parallel {
            state
                .par_chunks_mut(block)
                .zip(ends.par_chunks_mut(per * RUN_GROUPS).zip(runs.par_chunks_mut(per)))
                .enumerate()
                .for_each(run);
        } else {
            state
                .chunks_mut(block)
                .zip(ends.chunks_mut(per * RUN_GROUPS).zip(runs.chunks_mut(per)))
                .enumerate()
                .for_each(run);
        }
        return true;
    }
    if let Some((q, kind)) = lone_single_target(stage) {
        run_pairs(state, q, kind, parallel);
        return false;
    }
    let seg = stage.seg_bits;
    let seg_len = 1usize << seg;
    if seg_len < RUN {
        runs = None;
    }
    let fused = runs.is_some();
    let len = state.len();
    let smask = stage.smask as usize;
    let high = smask & !(seg_len - 1);
    let outer = (len - 1) & !smask;
    let mut segments: Vec<Option<&mut [C]>> = state.chunks_exact_mut(seg_len).map(Some).collect();
    let per = seg_len / RUN;
    let mut pieces: Vec<Option<Masses<'_>>> = match runs {
        Some((e, r)) => {
            e.chunks_exact_mut(per * RUN_GROUPS).zip(r.chunks_exact_mut(per)).map(Some).collect()
        }
        None => Vec::new(),
    };
    let n_groups = len >> bits;
    type Group<'a> = (usize, Vec<&'a mut [C]>, Vec<Masses<'a>>);
    let mut groups: Vec<Group<'_>> = Vec::with_capacity(n_groups);
    for_each_subset(outer, |base| {
        if base & dead != 0 {
            return;
        }
        let mut segs = Vec::with_capacity(block / seg_len);
        let mut ms = Vec::with_capacity(if fused { block / seg_len } else { 0 });
        for_each_subset(high, |h| {
            let k = (base | h) >> seg;
            if let Some(s) = segments[k].take() {
                segs.push(s);
            }
            if let Some(m) = pieces.get_mut(k).and_then(Option::take) {
                ms.push(m);
            }
        });
        groups.push((base, segs, ms));
    });
    // The pieces of skipped groups: zero, like their amplitudes.
    for (e, r) in pieces.iter_mut().flatten() {
        e.fill(0.0);
        r.fill(0.0);
    }
    let gathered = |scratch: &mut Vec<C>, (base, mut segs, mut ms): Group<'_>| {
        for (dst, src) in scratch.chunks_exact_mut(seg_len).zip(segs.iter()) {
            dst.copy_from_slice(src);
        }
        run_block(scratch, stage, base, None);
        for (src, (e, m)) in scratch.chunks_exact(seg_len).zip(ms.iter_mut()) {
            masses::fill(src, e, m);
        }
        for (src, dst) in scratch.chunks_exact(seg_len).zip(segs.iter_mut()) {
            dst.copy_from_slice(src);
        }
    };
    if parallel {
        let threads = rayon::current_num_threads().max(1);
        let min_len = (groups.len() / (threads * 8)).max(1);
        groups
            .into_par_iter()
            .with_min_len(min_len)
            .for_each_init(|| vec![C::new(0.0, 0.0); block], gathered);
    } else {
        let mut scratch = vec![C::new(0.0, 0.0); block];
        groups.into_iter().for_each(|g| gathered(&mut scratch, g));
    }
    fused
}

/// [`run_stage_with`] drawing the dense sampler's arrivals: only a stage of
/// contiguous blocks (or one block), whose amplitudes are final when the
/// block is done.
fn run_drawing(
    state: &mut [C],
    stage: &Stage,
    live: u64,
    attempt: &dense::Attempt,
    parts: &mut Vec<dense::Arrivals>,
) -> bool {
    let block = (1usize << stage.bits()).min(state.len());
    if !stage.contiguous && block < state.len() {
        run_stage_with(state, stage, live, None);
        return false;
    }
    parts.clear();
    parts.resize_with(state.len() / block, dense::Arrivals::default);
    let dead = !(live as usize);
    let run = |(i, (chunk, out)): (usize, (&mut [C], &mut dense::Arrivals))| {
        let base = i * block;
        if base & dead == 0 {
            run_block(chunk, stage, base, None);
            attempt.draw(chunk, base as u64, out);
        }
    };
    if crate::par::worth_it(state.len()) && parts.len() > 1 {
        state.par_chunks_mut(block).zip(parts.par_iter_mut()).enumerate().for_each(run);
    } else {
        state.chunks_mut(block).zip(parts.iter_mut()).enumerate().for_each(run);
    }
    true
}

/// The global target and kernel of a stage that is one uncontrolled
/// single-target gate on a qubit above the contiguous low block.
fn lone_single_target(stage: &Stage) -> Option<(u32, &Kind)> {
    let [op] = &stage.ops[..] else { return None };
    let StageKind::Local(kind) = &op.kind else {
        return None;
    };
    if op.local_ctrl != 0 || op.outer_ctrl != 0 {
        return None;
    }
    let local_q = match *kind {
        Kind::U1 { q, .. }
        | Kind::R1 { q, .. }
        | Kind::Xr { q, .. }
        | Kind::D1 { q, .. }
        | Kind::X1 { q } => q,
        _ => return None,
    };
    // The local_q-th set bit of the block mask is the global qubit.
    let mut mask = stage.smask;
    for _ in 0..local_q {
        mask &= mask - 1;
    }
    Some((mask.trailing_zeros(), kind))
}

/// Applies a lone single-target gate in place: both halves of every pair
/// are split into aligned runs that cores take in parallel, so even the
/// highest qubit keeps every core busy with one read and one write.
fn run_pairs(state: &mut [C], q: u32, kind: &Kind, parallel: bool) {
    let s = 1usize << q;
    let run = s.min(1 << 13);
    if !parallel {
        for blk in state.chunks_mut(2 * s) {
            let (l, h) = blk.split_at_mut(s);
            run_pair(l, h, kind);
        }
        return;
    }
    state.par_chunks_mut(2 * s).for_each(|blk| {
        let (l, h) = blk.split_at_mut(s);
        l.par_chunks_mut(run).zip(h.par_chunks_mut(run)).for_each(|(l, h)| run_pair(l, h, kind));
    });
}

#[allow(unsafe_code)]
fn run_pair(l: &mut [C], h: &mut [C], kind: &Kind) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: `run_pair_avx2` only requires avx2 and fma, which the
            // CPU was just checked to support.
            unsafe { run_pair_avx2(l, h, kind) };
            return;
        }
    }
    kernels::apply_pair(l, h, kind);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_pair_avx2(l: &mut [C], h: &mut [C], kind: &Kind) {
    kernels::apply_pair(l, h, kind);
}

/// Calls `f` on every submask of `mask`, in increasing order (0 first).
pub(crate) fn for_each_subset(mask: usize, mut f: impl FnMut(usize)) {
    let mut x = 0usize;
    loop {
        f(x);
        if x == mask {
            break;
        }
        x = ((x | !mask).wrapping_add(1)) & mask;
    }
}

/// Applies `ops` to one block whose outer bits are those of `base`, compiled
/// for AVX2+FMA when the CPU has them. (An AVX-512 copy was slower: LLVM
/// turns the 4-amplitude lane loops into gathers there.)
///
/// With `masses`, then records the block's masses (see [`masses::fill`];
/// the same bits in either compiled copy: Rust never contracts a multiply
/// and an add into a fused multiply-add by itself).
#[allow(unsafe_code)]
fn run_block(block: &mut [C], stage: &Stage, base: usize, masses: Option<Masses<'_>>) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: `run_block_avx2` only requires avx2 and fma, which the
            // CPU was just checked to support.
            unsafe { run_block_avx2(block, stage, base, masses) };
            return;
        }
    }
    run_block_generic(block, stage, base);
    if let Some((e, m)) = masses {
        masses::fill(block, e, m);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_block_avx2(block: &mut [C], stage: &Stage, base: usize, masses: Option<Masses<'_>>) {
    run_block_generic(block, stage, base);
    if let Some((e, m)) = masses {
        masses::fill(block, e, m);
    }
}

/// A piece of the masses: its group ends and run masses (see
/// [`crate::masses`]).
type Masses<'a> = (&'a mut [f64], &'a mut [f64]);

#[inline(always)]
fn run_block_generic(block: &mut [C], stage: &Stage, base: usize) {
    let mut start = 0;
    for &(inner, count) in &stage.groups {
        let ops = &stage.ops[start..start + count];
        start += count;
        if inner && block.len() > 1 << stage.inner {
            for sub in block.chunks_exact_mut(1 << stage.inner) {
                apply_ops(sub, ops, base);
            }
        } else {
            apply_ops(block, ops, base);
        }
    }
}

#[inline(always)]
fn apply_ops(block: &mut [C], ops: &[StageOp], base: usize) {
    for op in ops {
        if let Some((kind, ctrl)) = op.resolve(base) {
            kernels::apply(block, &kind, ctrl);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{self, Op};
    use crate::plan::{self, Blocking};
    use eigen_hal::Gate;

    /// A GHZ-like chain, a layer of rotations and a few diagonals on 14
    /// qubits: contiguous, gathered and lone-high-qubit stages.
    fn circuit(n: u32) -> Vec<Op> {
        let mut gates: Vec<(Gate, Vec<u32>)> = vec![(Gate::H, vec![0])];
        gates.extend((0..n - 1).map(|q| (Gate::Cx, vec![q, q + 1])));
        gates.extend((0..n).map(|q| (Gate::Ry(0.2 + 0.1 * f64::from(q)), vec![q])));
        gates.push((Gate::Cz, vec![0, n - 1]));
        gates.push((Gate::Rz(0.4), vec![n - 2]));
        gates.push((Gate::H, vec![n - 1]));
        ops::fuse(gates.iter().filter_map(|(g, q)| ops::lower(g, q)).collect())
    }

    #[test]
    fn skipping_dead_groups_and_recording_change_nothing() {
        let n = 14;
        for blocking in [
            Blocking { block_bits: 9, seg_bits: 6, inner_bits: 7 },
            Blocking { block_bits: 9, seg_bits: 3, inner_bits: 0 },
            Blocking::default(),
        ] {
            let stages = plan::plan(&circuit(n), n, blocking);
            let mut plain = vec![C::new(0.0, 0.0); 1 << n];
            plain[0] = C::new(1.0, 0.0);
            let mut fast = plain.clone();
            let mut live = 0u64;
            let mut fused = 0;
            let mut drawing = 0;
            for stage in &stages {
                run_stage(&mut plain, stage);
                // The dense sampler's counts drawn by the pass are those of
                // a read of its result.
                let mut drawn = fast.clone();
                let attempt = dense::Attempt::first(20_000, 3);
                let mut parts = Vec::new();
                let record = Record::Arrivals(&attempt, &mut parts);
                if run_stage_with(&mut drawn, stage, live, Some(record)) {
                    drawing += 1;
                    let kept = dense::finish(parts, &drawn, 20_000, 3);
                    assert_eq!(kept, dense::sample(&drawn, 20_000, 3));
                }
                let mut runs = vec![f64::NAN; masses::mass_len(fast.len())];
                if run_stage_with(&mut fast, stage, live, Some(Record::Masses(&mut runs))) {
                    fused += 1;
                    let expect = masses::compute(&fast);
                    let same = runs.iter().zip(&expect).all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "recorded masses are the separate pass's bits");
                }
                assert_eq!(drawn, fast, "{blocking:?}");
                live |= stage.mixes;
                assert_eq!(plain, fast, "{blocking:?}");
            }
            assert!(stages.len() > 1 || blocking == Blocking::default());
            assert!(fused > 0, "{blocking:?}");
            assert!(drawing > 0, "{blocking:?}");
        }
    }
}
