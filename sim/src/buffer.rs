//! The state's amplitude buffer, viewed from one cache line past a page
//! boundary.
//!
//! Why 64-byte aligned: glibc's malloc returns a large block at an address
//! that is 16 mod 64, so a plain `Vec<C>` puts every aligned group of 8
//! amplitudes (128 bytes, what the sampler reads per shot) on 3 cache lines
//! instead of 2, and every 4th 32-byte AVX load of the gate kernels across
//! a line boundary.
//!
//! Why one line past a page boundary, not on one: mimalloc (the `eigen`
//! binary's allocator) returns large blocks on megabyte boundaries, as it
//! does the sampler's masses and its other large buffers. A state that
//! starts there took 1.15 to 1.47 times as long to draw `10^6` shots (n = 26
//! down to 20, `sim-bench-sample` built with mimalloc, 3 interleaved runs,
//! 2026-12-03) as the same state one line further on, which is where
//! glibc's blocks put it anyway. Which accesses collide is not known: not
//! the huge pages mimalloc asks for (the same with them off), nor the
//! masses' placement (moving them changed nothing).
//!
//! [`Amplitudes`] allocates [`SLACK`] amplitudes more than it holds and
//! starts its view at the first address of the block that is [`ALIGN`]
//! past a [`PAGE`] boundary: safe code, no new dependency, and the
//! allocation is still an ordinary `Vec<C>` that a
//! [`crate::state::BufferPool`] can keep between jobs.
//!
//! Contract: the view starts there whenever the allocator returns blocks
//! aligned to 16 bytes (glibc, musl, jemalloc, mimalloc and the Windows
//! heap all do for blocks this size); otherwise it starts at the block's
//! first amplitude, unaligned but correct. The placement only ever affects
//! speed.

use crate::ops::C;
use std::collections::TryReserveError;
use std::fmt;
use std::ops::{Deref, DerefMut};

/// The alignment of the view, in bytes: one cache line.
pub(crate) const ALIGN: usize = 64;

/// The view starts [`ALIGN`] bytes past a boundary of this many bytes.
pub(crate) const PAGE: usize = 4096;

/// Amplitudes allocated beyond those held, so the view's start falls
/// within the first `SLACK + 1` amplitudes of any 16-byte-aligned block.
pub(crate) const SLACK: usize = PAGE / size_of::<C>() - 1;

const ZERO: C = C::new(0.0, 0.0);

/// `len` amplitudes at a 64-byte boundary inside a slightly larger `Vec`.
/// Dereferences to `[C]` (the `len` amplitudes only).
pub(crate) struct Amplitudes {
    /// The allocation: `start + len` amplitudes (capacity `len + SLACK`
    /// or more, unless taken as it came by [`Amplitudes::from_vec`]).
    /// Never grown or shrunk while held: that could move it.
    raw: Vec<C>,
    /// Index in `raw` of the first amplitude held.
    start: usize,
    len: usize,
}

impl Amplitudes {
    /// `len` zero amplitudes in a new allocation, or an error (never an
    /// abort) when it cannot be made.
    pub(crate) fn zeroed(len: usize) -> Result<Self, TryReserveError> {
        // A new `Vec` holds nothing, so every amplitude is written zero.
        Self::reusing(Vec::new(), len)
    }

    /// `len` amplitudes in `raw`'s allocation when its capacity is at least
    /// `len + SLACK`, else in a new one (an error, never an abort, when it
    /// cannot be made). Their values are unspecified (zero or left over
    /// from `raw`): the caller overwrites them, in parallel if it likes,
    /// rather than this writing them once more on one thread.
    pub(crate) fn reusing(mut raw: Vec<C>, len: usize) -> Result<Self, TryReserveError> {
        let need = len.saturating_add(SLACK);
        if raw.capacity() < need {
            // Nothing to keep: reserving counts from `raw.len()`, 0 after
            // the clear, and a fresh block is not copied into.
            raw.clear();
            raw.try_reserve_exact(need)?;
        }
        let start = aligned_start(raw.as_ptr());
        if raw.len() >= start + len {
            raw.truncate(start + len);
        } else {
            raw.resize(start + len, ZERO);
        }
        Ok(Self { raw, start, len })
    }

    /// Takes `amps` as they are when they already start on a 64-byte
    /// boundary (no copy), else copies them into a new aligned buffer.
    pub(crate) fn from_vec(amps: Vec<C>) -> Result<Self, TryReserveError> {
        if amps.as_ptr().addr().is_multiple_of(ALIGN) {
            let len = amps.len();
            return Ok(Self { raw: amps, start: 0, len });
        }
        let mut out = Self::zeroed(amps.len())?;
        out.copy_from_slice(&amps);
        Ok(out)
    }

    /// The amplitudes as a plain `Vec` of exactly `len` elements, in the
    /// same allocation: when the view did not start at the block's first
    /// amplitude, the amplitudes are moved down by `start` places (one
    /// pass over memory, no allocation).
    pub(crate) fn into_vec(self) -> Vec<C> {
        let Self { mut raw, start, .. } = self;
        raw.drain(..start);
        raw
    }

    /// The whole allocation, for a pool to reuse (its contents are stale).
    pub(crate) fn into_raw(self) -> Vec<C> {
        self.raw
    }
}

/// The index of the first amplitude of `raw`'s block that sits [`ALIGN`]
/// bytes past a [`PAGE`] boundary, or 0 if none within [`SLACK`] does (a
/// block not 16-byte aligned). The block must have room for `SLACK`
/// amplitudes beyond those to be held.
fn aligned_start(block: *const C) -> usize {
    let gap = (ALIGN + PAGE - block.addr() % PAGE) % PAGE;
    if gap.is_multiple_of(size_of::<C>()) { gap / size_of::<C>() } else { 0 }
}

impl Deref for Amplitudes {
    type Target = [C];

    fn deref(&self) -> &[C] {
        &self.raw[self.start..self.start + self.len]
    }
}

impl DerefMut for Amplitudes {
    fn deref_mut(&mut self) -> &mut [C] {
        &mut self.raw[self.start..self.start + self.len]
    }
}

/// A copy in a new aligned allocation. Like cloning a `Vec`, running out
/// of memory here aborts: code that must fail cleanly allocates with
/// [`Amplitudes::zeroed`] and copies instead.
impl Clone for Amplitudes {
    fn clone(&self) -> Self {
        let mut raw = Vec::with_capacity(self.len + SLACK);
        let start = aligned_start(raw.as_ptr());
        raw.resize(start, ZERO);
        raw.extend_from_slice(self);
        Self { raw, start, len: self.len }
    }
}

impl PartialEq for Amplitudes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl fmt::Debug for Amplitudes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aligned(a: &[C]) -> bool {
        a.as_ptr().addr() % PAGE == ALIGN
    }

    #[test]
    fn views_are_aligned_and_zero() {
        for len in [1usize, 2, 4, 8, 1 << 10, 1 << 16, 1 << 20] {
            let a = Amplitudes::zeroed(len).expect("small");
            assert_eq!(a.len(), len);
            assert!(aligned(&a), "len {len}");
            assert!(a.iter().all(|x| *x == ZERO));
            assert!(aligned(&a.clone()), "clone of len {len}");
        }
    }

    #[test]
    fn reuse_keeps_the_block_and_the_alignment() {
        let a = Amplitudes::zeroed(1 << 12).expect("small");
        let ptr = a.as_ptr();
        let b = Amplitudes::reusing(a.into_raw(), 1 << 11).expect("reuse");
        assert_eq!(b.as_ptr(), ptr);
        // A returned plain Vec (moved down to the block's start) is
        // realigned in place.
        let c = Amplitudes::reusing(b.into_vec(), 1 << 12).expect("reuse");
        assert_eq!(c.as_ptr(), ptr);
    }

    #[test]
    fn vec_round_trip_keeps_the_values() {
        for len in [1usize, 2, 64, 1 << 14] {
            let v: Vec<C> = (0..len).map(|i| C::new(i as f64, -(i as f64))).collect();
            let a = Amplitudes::from_vec(v.clone()).expect("small");
            assert!(a.as_ptr().addr().is_multiple_of(ALIGN));
            assert_eq!(&*a, &v[..]);
            assert_eq!(a.into_vec(), v);
        }
        // Every start within the slack: the values move down intact.
        for shift in 0..=SLACK {
            let mut raw = Vec::with_capacity(8 + SLACK);
            raw.resize(shift, ZERO);
            raw.extend((0..8).map(|i| C::new(f64::from(i), 0.5)));
            let a = Amplitudes { raw, start: shift, len: 8 };
            let v = a.into_vec();
            assert_eq!(v.len(), 8);
            assert!(v.iter().enumerate().all(|(i, x)| *x == C::new(i as f64, 0.5)));
        }
    }

    #[test]
    fn huge_request_is_an_error() {
        assert!(Amplitudes::zeroed(usize::MAX / 32).is_err());
    }
}
