//! The state vector, its memory accounting, and the buffer pool that lets a
//! device reuse one allocation from job to job.

use crate::buffer::{self, Amplitudes};
use crate::exec;
use crate::ops::{self, C};
use crate::plan::{self, Blocking};
use eigen_hal::{DeviceError, ErrorKind, Gate};
use rayon::prelude::*;
use std::sync::Mutex;

/// Bytes per amplitude (complex128).
pub const BYTES_PER_AMPLITUDE: u64 = 16;

/// The memory a state of `n` qubits needs, or `None` when it overflows.
#[must_use]
pub fn state_bytes(n: u32) -> Option<u64> {
    if n >= 60 { None } else { Some(BYTES_PER_AMPLITUDE << n) }
}

/// Memory the kernel says is available (`MemAvailable` in /proc/meminfo),
/// or `None` where that is unknown.
#[must_use]
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_available(&text)
}

fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut words = line.split_whitespace().skip(1);
    let value: u64 = words.next()?.parse().ok()?;
    let scale = match words.next() {
        Some("kB") | None => 1024,
        Some(_) => return None,
    };
    value.checked_mul(scale)
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1u32 << 30)
}

/// Checks that a state of `n` qubits (times `copies`) fits in `limit` bytes.
pub(crate) fn check_memory(n: u32, copies: u64, limit: u64) -> Result<u64, DeviceError> {
    let need = state_bytes(n).and_then(|b| b.checked_mul(copies));
    match need {
        Some(need) if need <= limit => Ok(need),
        Some(need) => Err(DeviceError::new(
            ErrorKind::InvalidProgram,
            format!(
                "{n} qubits need {:.2} GiB for the state vector, over the simulator's memory limit of {:.2} GiB; use fewer qubits",
                gib(need),
                gib(limit)
            ),
        )),
        None => Err(DeviceError::new(
            ErrorKind::InvalidProgram,
            format!("{n} qubits are far beyond what a state-vector simulator can hold"),
        )),
    }
}

/// A state of `n` qubits as `2^n` complex128 amplitudes; qubit 0 is the
/// least significant bit of an amplitude's index. The amplitudes start on
/// a 64-byte boundary (see the `buffer` module), so the sampler's groups of 8
/// sit on 2 cache lines and the kernels' vector loads split none.
#[derive(Debug, Clone)]
pub struct StateVector {
    n: u32,
    amps: Amplitudes,
    /// The sampler's scratch (see [`crate::masses`], 1/14 of the state's
    /// bytes once used): kept with the state, and pooled with it by a
    /// device, so repeated sampling does not page-fault a fresh buffer.
    /// Its contents are stale between uses; not part of the state's value.
    pub(crate) masses: Vec<f64>,
}

/// Two states are equal when their qubit counts and amplitudes are; the
/// sampler's scratch does not count.
impl PartialEq for StateVector {
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n && self.amps == other.amps
    }
}

impl StateVector {
    /// |0...0> on `n` qubits, or an error when the buffer cannot be allocated.
    pub fn zero(n: u32) -> Result<Self, DeviceError> {
        let len = state_len(n)?;
        let mut amps = Amplitudes::zeroed(len).map_err(|e| alloc_error(n, &e))?;
        amps[0] = C::new(1.0, 0.0);
        Ok(Self { n, amps, masses: Vec::new() })
    }

    /// |0...0> in a reused buffer (its contents are overwritten), or in a
    /// new one when `buf` has no room for `2^n` amplitudes and the few
    /// spare ones that alignment needs ([`BufferPool::take`] hands out
    /// such buffers).
    pub fn zero_in(n: u32, buf: Vec<C>) -> Result<Self, DeviceError> {
        let len = state_len(n)?;
        let amps = Amplitudes::reusing(buf, len).map_err(|e| alloc_error(n, &e))?;
        let mut s = Self { n, amps, masses: Vec::new() };
        s.reset_zero();
        Ok(s)
    }

    /// Overwrites the state with |0...0>, in parallel for large states.
    pub fn reset_zero(&mut self) {
        let zero = C::new(0.0, 0.0);
        if crate::par::worth_it(self.amps.len()) {
            self.amps.par_chunks_mut(1 << 14).for_each(|c| c.fill(zero));
        } else {
            self.amps.fill(zero);
        }
        self.amps[0] = C::new(1.0, 0.0);
    }

    /// Copies `other` into this state (same qubit count).
    pub(crate) fn copy_from(&mut self, other: &StateVector) {
        self.n = other.n;
        if crate::par::worth_it(self.amps.len()) {
            self.amps
                .par_chunks_mut(1 << 14)
                .zip(other.amps.par_chunks(1 << 14))
                .for_each(|(d, s)| d.copy_from_slice(s));
        } else {
            self.amps.copy_from_slice(&other.amps);
        }
    }

    /// A state from explicit amplitudes (length must be a power of two).
    /// They are copied into an aligned buffer unless `amps` already starts
    /// on a 64-byte boundary (not on the hot path: tests and callers that
    /// bring their own state).
    pub fn from_amplitudes(amps: Vec<C>) -> Result<Self, DeviceError> {
        if !amps.len().is_power_of_two() {
            return Err(DeviceError::new(
                ErrorKind::InvalidProgram,
                format!("{} amplitudes is not a power of two", amps.len()),
            ));
        }
        let n = amps.len().trailing_zeros();
        let amps = Amplitudes::from_vec(amps).map_err(|e| alloc_error(n, &e))?;
        Ok(Self { n, amps, masses: Vec::new() })
    }

    /// The number of qubits.
    #[must_use]
    pub fn num_qubits(&self) -> u32 {
        self.n
    }

    /// The amplitudes.
    #[must_use]
    pub fn amplitudes(&self) -> &[C] {
        &self.amps
    }

    pub(crate) fn amplitudes_mut(&mut self) -> &mut [C] {
        &mut self.amps
    }

    /// The amplitudes, giving up the state (e.g. to return its buffer to a
    /// pool). The `Vec` is the state's own allocation, with the amplitudes
    /// moved down to its start when they sat a few places in for alignment
    /// (one pass over memory, no allocation).
    #[must_use]
    pub fn into_amplitudes(self) -> Vec<C> {
        self.amps.into_vec()
    }

    /// Squared norm, summed in fixed blocks so it is the same on any thread count.
    #[must_use]
    pub fn norm_sqr(&self) -> f64 {
        crate::sample::block_masses(&self.amps, 14).iter().sum()
    }

    /// |amplitude|^2 of every basis state.
    #[must_use]
    pub fn probabilities(&self) -> Vec<f64> {
        if crate::par::worth_it(self.amps.len()) {
            self.amps.par_iter().with_min_len(1 << 12).map(|a| a.norm_sqr()).collect()
        } else {
            self.amps.iter().map(|a| a.norm_sqr()).collect()
        }
    }

    /// Samples `shots` measurements of every qubit: the basis indices, in
    /// increasing order (shuffle them for a shot-by-shot record).
    /// Deterministic for a seed on any thread count.
    #[must_use]
    pub fn sample(&self, shots: u64, seed: u64) -> Vec<u64> {
        crate::shots::expand(&self.sample_runs(shots, seed))
    }

    /// Samples `shots` measurements of every qubit: basis index -> count.
    /// Deterministic for a seed on any thread count.
    #[must_use]
    pub fn sample_counts(&self, shots: u64, seed: u64) -> std::collections::BTreeMap<u64, u64> {
        // The pairs come in increasing index order: the map is built in bulk.
        self.sample_runs(shots, seed).into_iter().collect()
    }

    /// Samples `shots` measurements of every qubit: (basis index, count)
    /// for each index drawn, in increasing index order, without one entry
    /// per shot. Deterministic for a seed on any thread count.
    #[must_use]
    pub fn sample_runs(&self, shots: u64, seed: u64) -> Vec<(u64, u64)> {
        crate::shots::Recording::new(self.amps.len(), shots, seed, Vec::new())
            .sample(&self.amps, false, shots, seed)
            .0
    }

    /// Applies `gates` (each with its operands) with fusion and cache
    /// blocking, exactly as a device run does. Operands must be distinct
    /// and below [`StateVector::num_qubits`].
    pub fn apply_gates(
        &mut self,
        gates: &[(Gate, Vec<u32>)],
        blocking: Blocking,
    ) -> Result<(), DeviceError> {
        let mut ops = Vec::with_capacity(gates.len());
        for (gate, qubits) in gates {
            crate::program::check_operands(gate, qubits, self.n)?;
            ops.extend(ops::lower(gate, qubits));
        }
        let stages = plan::plan(&ops::fuse(ops), self.n, blocking);
        exec::run_stages(&mut self.amps, &stages);
        Ok(())
    }

    /// Applies `gates` like [`StateVector::apply_gates`], the last pass
    /// also recording the masses the sampler needs while the amplitudes
    /// are in cache, then samples `shots` measurements of every qubit like
    /// [`StateVector::sample_runs`] (the same draws for a seed): the way a
    /// device runs a circuit whose measurements are all at the end, with no
    /// pass over the state for sampling besides reading the chunks that
    /// hold shots.
    pub fn apply_gates_and_sample(
        &mut self,
        gates: &[(Gate, Vec<u32>)],
        blocking: Blocking,
        shots: u64,
        seed: u64,
    ) -> Result<Vec<(u64, u64)>, DeviceError> {
        let mut ops = Vec::with_capacity(gates.len());
        for (gate, qubits) in gates {
            crate::program::check_operands(gate, qubits, self.n)?;
            ops.extend(ops::lower(gate, qubits));
        }
        let stages = plan::plan(&ops::fuse(ops), self.n, blocking);
        let spare = std::mem::take(&mut self.masses);
        let mut record = crate::shots::Recording::new(self.amps.len(), shots, seed, spare);
        let mut recorded = false;
        for (k, stage) in stages.iter().enumerate() {
            if k + 1 == stages.len() {
                recorded =
                    exec::run_stage_with(&mut self.amps, stage, u64::MAX, Some(record.target()));
            } else {
                exec::run_stage(&mut self.amps, stage);
            }
        }
        let (found, spare) = record.sample(&self.amps, recorded, shots, seed);
        self.masses = spare;
        Ok(found)
    }

    /// Applies one gate on its own: one pass over memory, no fusion.
    pub fn apply_gate(&mut self, gate: &Gate, qubits: &[u32]) -> Result<(), DeviceError> {
        crate::program::check_operands(gate, qubits, self.n)?;
        if let Some(op) = ops::lower(gate, qubits) {
            let stages = plan::plan(std::slice::from_ref(&op), self.n, Blocking::default());
            exec::run_stages(&mut self.amps, &stages);
        }
        Ok(())
    }
}

fn state_len(n: u32) -> Result<usize, DeviceError> {
    if n >= usize::BITS - 5 {
        return Err(DeviceError::new(
            ErrorKind::InvalidProgram,
            format!("{n} qubits are far beyond what a state-vector simulator can hold"),
        ));
    }
    Ok(1usize << n)
}

fn alloc_error(n: u32, e: &std::collections::TryReserveError) -> DeviceError {
    DeviceError::new(
        ErrorKind::Other,
        format!("could not allocate the state vector of {n} qubits: {e}"),
    )
}

/// State buffers kept between jobs so a device does not page-fault a fresh
/// allocation in every run. Holds at most a few buffers.
#[derive(Debug, Default)]
pub struct BufferPool {
    buffers: Mutex<Vec<Vec<C>>>,
    /// The largest sampler scratch returned (see [`StateVector::masses`]).
    masses: Mutex<Vec<f64>>,
}

impl BufferPool {
    const KEEP: usize = 2;

    /// A buffer with room for a state of `len` amplitudes (with the spare
    /// ones alignment needs) if one is pooled (the smallest such), else an
    /// empty one.
    pub fn take(&self, len: usize) -> Vec<C> {
        let room = len.saturating_add(buffer::SLACK);
        let mut bufs = self.buffers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let best = bufs
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= room)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        match best {
            Some(i) => bufs.swap_remove(i),
            None => Vec::new(),
        }
    }

    /// Returns a buffer for later jobs (dropping the smallest beyond the cap).
    pub fn put(&self, buf: Vec<C>) {
        if buf.capacity() == 0 {
            return;
        }
        let mut bufs = self.buffers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        bufs.push(buf);
        if bufs.len() > Self::KEEP {
            bufs.sort_by_key(|b| std::cmp::Reverse(b.capacity()));
            bufs.truncate(Self::KEEP);
        }
    }

    /// Bytes held by pooled buffers (they count as available to a new job).
    pub fn pooled_bytes(&self) -> u64 {
        let bufs = self.buffers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let masses = self.masses.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        bufs.iter().map(|b| b.capacity() as u64 * BYTES_PER_AMPLITUDE).sum::<u64>()
            + masses.capacity() as u64 * 8
    }

    /// |0...0> on `n` qubits in pooled buffers (the state's and the
    /// sampler's scratch), or an error when they cannot be allocated.
    pub fn take_state(&self, n: u32) -> Result<StateVector, DeviceError> {
        let mut sv = StateVector::zero_in(n, self.take(1 << n))?;
        sv.masses = std::mem::take(
            &mut *self.masses.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        Ok(sv)
    }

    /// Returns a state's buffers for later jobs.
    pub fn put_state(&self, sv: StateVector) {
        let StateVector { amps, masses, .. } = sv;
        self.put(amps.into_raw());
        let mut kept = self.masses.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if masses.capacity() > kept.capacity() {
            *kept = masses;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_parsing() {
        let text = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(parse_mem_available(text), Some(20_000_000 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 1 kB\n"), None);
    }

    #[test]
    fn memory_limit_is_a_clear_error() {
        let err = check_memory(30, 1, 1 << 30).expect_err("16 GiB > 1 GiB");
        assert_eq!(err.kind(), ErrorKind::InvalidProgram);
        assert!(err.message().contains("30 qubits need 16.00 GiB"), "{}", err.message());
        assert!(check_memory(20, 1, 1 << 30).is_ok());
        assert!(check_memory(70, 1, u64::MAX).is_err());
    }

    #[test]
    fn twenty_eight_qubits_fit_in_24_gib() {
        // The state is 4 GiB; the scratch beside it is small: a 512 KiB
        // block per worker for gathered stages, and for sampling 16 bytes
        // per distinct outcome plus the masses, 9 values per 64 amplitudes
        // (288 MiB at n = 28).
        let machine = 24u64 << 30;
        assert_eq!(state_bytes(28), Some(4 << 30));
        assert!(check_memory(28, 1, machine).is_ok());
        // Also with a copy (a returned statevector or a trajectory prefix).
        assert!(check_memory(28, 2, machine).is_ok());
        assert!(check_memory(31, 1, machine).is_err());
    }

    #[test]
    fn sample_counts_of_a_superposition() {
        let mut s = StateVector::zero(2).expect("small");
        s.apply_gate(&Gate::H, &[1]).expect("valid");
        let counts = s.sample_counts(10_000, 3);
        assert_eq!(counts.keys().copied().collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(counts.values().sum::<u64>(), 10_000);
        assert!((counts[&0] as i64 - 5_000).abs() < 300);
    }

    #[test]
    fn fused_sampling_draws_what_sampling_draws() {
        // 17 qubits, default blocking: a contiguous pass, a gathered one.
        let gates: Vec<_> = (0..17).map(|q| (Gate::Ry(0.1 * f64::from(q + 1)), vec![q])).collect();
        // 100,000 shots take the dense sampler, 500 the search.
        for shots in [100_000, 500] {
            let mut a = StateVector::zero(17).expect("small");
            let mut b = a.clone();
            let fused =
                a.apply_gates_and_sample(&gates, Blocking::default(), shots, 6).expect("valid");
            b.apply_gates(&gates, Blocking::default()).expect("valid");
            assert_eq!(a, b);
            assert_eq!(fused, b.sample_runs(shots, 6));
            assert_eq!(fused.iter().map(|x| x.1).sum::<u64>(), shots);
        }
    }

    #[test]
    fn pool_reuses_buffers() {
        let pool = BufferPool::default();
        let s = StateVector::zero(10).expect("small");
        let ptr = s.amplitudes().as_ptr();
        pool.put(s.into_amplitudes());
        let again = StateVector::zero_in(9, pool.take(1 << 9)).expect("reuse");
        assert_eq!(again.amplitudes().as_ptr(), ptr);
        assert_eq!(again.amplitudes()[0], C::new(1.0, 0.0));
        assert!(again.amplitudes()[1..].iter().all(|a| *a == C::new(0.0, 0.0)));
    }

    fn aligned(s: &StateVector) -> bool {
        s.amplitudes().as_ptr().addr().is_multiple_of(64)
    }

    #[test]
    fn states_are_64_byte_aligned() {
        let pool = BufferPool::default();
        for n in [0, 1, 2, 3, 5, 10, 14, 17, 20] {
            let s = StateVector::zero(n).expect("small");
            assert!(aligned(&s), "zero({n})");
            assert!(aligned(&s.clone()), "clone of zero({n})");
            let mut p = pool.take_state(n).expect("small");
            assert!(aligned(&p), "take_state({n})");
            if n > 0 {
                p.apply_gate(&Gate::X, &[0]).expect("valid");
            }
            pool.put_state(p);
            // Reused (the same buffer when its size fits), aligned, and |0...0>.
            let again = pool.take_state(n).expect("reuse");
            assert!(aligned(&again), "take_state({n}) again");
            assert_eq!(again, s);
            pool.put_state(again);
            let back = StateVector::from_amplitudes(s.into_amplitudes()).expect("power of two");
            assert!(aligned(&back), "from_amplitudes({n})");
            assert_eq!(back.amplitudes().len(), 1 << n);
            assert_eq!(back.amplitudes()[0], C::new(1.0, 0.0));
        }
        // A larger state in a pooled buffer of a smaller one and back.
        let big = pool.take_state(21).expect("small");
        pool.put_state(big);
        let small = pool.take_state(4).expect("reuse");
        assert!(aligned(&small));
        assert_eq!(small, StateVector::zero(4).expect("small"));
    }

    #[test]
    fn amplitudes_survive_the_round_trip() {
        for n in [0u32, 1, 6] {
            let v: Vec<C> = (0..1u32 << n).map(|i| C::new(f64::from(i), 0.25)).collect();
            let s = StateVector::from_amplitudes(v.clone()).expect("power of two");
            assert_eq!(s.num_qubits(), n);
            assert_eq!(s.amplitudes(), &v[..]);
            assert_eq!(s.into_amplitudes(), v);
        }
        assert!(StateVector::from_amplitudes(vec![C::new(1.0, 0.0); 3]).is_err());
    }

    #[test]
    fn pool_keeps_the_sampler_scratch_with_the_state() {
        let pool = BufferPool::default();
        let mut s = pool.take_state(12).expect("small");
        let h: Vec<_> = (0..12).map(|q| (Gate::H, vec![q])).collect();
        let first = s.apply_gates_and_sample(&h, Blocking::default(), 1000, 3).expect("valid");
        let scratch = s.masses.as_ptr();
        assert!(!s.masses.is_empty());
        pool.put_state(s);
        assert!(pool.pooled_bytes() > (1 << 12) * BYTES_PER_AMPLITUDE);
        let mut again = pool.take_state(12).expect("reuse");
        assert_eq!(again.masses.as_ptr(), scratch);
        // Stale scratch changes nothing.
        let second = again.apply_gates_and_sample(&h, Blocking::default(), 1000, 3).expect("valid");
        assert_eq!(first, second);
    }
}
