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

use crate::kernels;
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
    let bits = stage.bits();
    let block = 1usize << bits;
    if state.len() <= block {
        run_block(state, stage, 0);
        return;
    }
    let parallel = crate::par::worth_it(state.len());
    if stage.contiguous {
        let run = |(i, chunk): (usize, &mut [C])| run_block(chunk, stage, i << bits);
        if parallel {
            state.par_chunks_mut(block).enumerate().for_each(run);
        } else {
            state.chunks_mut(block).enumerate().for_each(run);
        }
        return;
    }
    if let Some((q, kind)) = lone_single_target(stage) {
        run_pairs(state, q, kind, parallel);
        return;
    }
    let seg = stage.seg_bits;
    let seg_len = 1usize << seg;
    let len = state.len();
    let smask = stage.smask as usize;
    let high = smask & !(seg_len - 1);
    let outer = (len - 1) & !smask;
    let mut segments: Vec<Option<&mut [C]>> = state.chunks_exact_mut(seg_len).map(Some).collect();
    let n_groups = len >> bits;
    let mut groups: Vec<(usize, Vec<&mut [C]>)> = Vec::with_capacity(n_groups);
    for_each_subset(outer, |base| {
        let mut segs = Vec::with_capacity(block / seg_len);
        for_each_subset(high, |h| {
            if let Some(s) = segments[(base | h) >> seg].take() {
                segs.push(s);
            }
        });
        groups.push((base, segs));
    });
    let gathered = |scratch: &mut Vec<C>, (base, mut segs): (usize, Vec<&mut [C]>)| {
        for (dst, src) in scratch.chunks_exact_mut(seg_len).zip(segs.iter()) {
            dst.copy_from_slice(src);
        }
        run_block(scratch, stage, base);
        for (src, dst) in scratch.chunks_exact(seg_len).zip(segs.iter_mut()) {
            dst.copy_from_slice(src);
        }
    };
    if parallel {
        let threads = rayon::current_num_threads().max(1);
        let min_len = (n_groups / (threads * 8)).max(1);
        groups
            .into_par_iter()
            .with_min_len(min_len)
            .for_each_init(|| vec![C::new(0.0, 0.0); block], gathered);
    } else {
        let mut scratch = vec![C::new(0.0, 0.0); block];
        groups.into_iter().for_each(|g| gathered(&mut scratch, g));
    }
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
#[allow(unsafe_code)]
fn run_block(block: &mut [C], stage: &Stage, base: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: `run_block_avx2` only requires avx2 and fma, which the
            // CPU was just checked to support.
            unsafe { run_block_avx2(block, stage, base) };
            return;
        }
    }
    run_block_generic(block, stage, base);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_block_avx2(block: &mut [C], stage: &Stage, base: usize) {
    run_block_generic(block, stage, base);
}

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
