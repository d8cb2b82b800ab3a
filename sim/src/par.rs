//! When work is worth handing to rayon's workers.
//!
//! Waking a worker costs microseconds (a futex wake-up and a cache-cold
//! thread), more than simulating a small circuit, and a job service running
//! thousands of tiny circuits per second would spend its time in thread
//! hand-offs. So every parallel loop of the crate first asks [`worth_it`]:
//! below [`MIN_PARALLEL`] items (amplitudes, or shots) the loop runs on the
//! calling thread and does not touch the pool at all; even a one-item
//! `par_iter` called from outside the pool is a hand-off to a worker.
//!
//! Results never depend on this choice: every parallel loop computes the
//! same values in the same order as its sequential twin.

/// Items of work (amplitudes or shots) below which a loop stays on the
/// calling thread: 2^14 amplitudes are 256 KiB, about 20 microseconds of
/// memory traffic, the order of a worker's wake-up.
pub(crate) const MIN_PARALLEL: usize = 1 << 14;

/// Whether `items` units of work are worth running on the pool.
#[inline]
pub(crate) fn worth_it(items: usize) -> bool {
    items >= MIN_PARALLEL
}
