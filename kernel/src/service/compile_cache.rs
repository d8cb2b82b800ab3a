//! A small bounded cache of compilations: services see the same program
//! submitted again and again (sweeps re-run a circuit, benchmarks, retries),
//! and compiling it is most of a submit's CPU time.
//!
//! Keyed by what the compiler's output depends on: the program text, its
//! format, the device (whose target is fixed while the kernel runs) with its
//! calibration, and the options. The compiler is deterministic, so a hit is
//! exactly what compiling again would give. The full key is kept and
//! compared, so a hash collision is a miss, never a wrong circuit.

use super::exec::ExecHistory;
use crate::compiler::{CompileOptions, Compiled, ProgramFormat};
use eigen_hal::{Executable, Target};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

/// Compilations kept.
const CAPACITY: usize = 256;
/// Programs longer than this are not kept (bounds the cache's memory:
/// at most `CAPACITY` times this in program text).
pub(crate) const MAX_PROGRAM_BYTES: usize = 16 * 1024;

struct Key {
    program: String,
    format: ProgramFormat,
    device: String,
    calibration: String,
    optimization_level: u8,
}

/// A compilation, shared by every job of the same key, with what its runs
/// cost so far.
pub(crate) struct Hit {
    pub compiled: Arc<Compiled>,
    pub executable: Arc<Executable>,
    pub history: Arc<ExecHistory>,
}

struct Entry {
    key: Key,
    compiled: Arc<Compiled>,
    executable: Arc<Executable>,
    history: Arc<ExecHistory>,
    used: u64,
}

/// Least-recently-used cache of successful compilations.
#[derive(Default)]
pub(crate) struct CompileCache {
    inner: Mutex<State>,
}

#[derive(Default)]
struct State {
    entries: HashMap<u64, Entry>,
    tick: u64,
}

fn key(program: &str, format: ProgramFormat, target: &Target, options: &CompileOptions) -> Key {
    Key {
        program: program.to_string(),
        format,
        device: target.id.clone(),
        calibration: target.calibration_id.clone(),
        optimization_level: options.optimization_level,
    }
}

fn hash_of(program: &str, format: ProgramFormat, target: &Target, options: &CompileOptions) -> u64 {
    let mut h = DefaultHasher::new();
    program.hash(&mut h);
    std::mem::discriminant(&format).hash(&mut h);
    target.id.hash(&mut h);
    target.calibration_id.hash(&mut h);
    options.optimization_level.hash(&mut h);
    h.finish()
}

impl CompileCache {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Each critical section leaves the map consistent.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached compilation of `program` for `target`, if any.
    pub fn get(
        &self,
        program: &str,
        format: ProgramFormat,
        target: &Target,
        options: &CompileOptions,
    ) -> Option<Hit> {
        if program.len() > MAX_PROGRAM_BYTES {
            return None;
        }
        let h = hash_of(program, format, target, options);
        let mut s = self.state();
        s.tick += 1;
        let tick = s.tick;
        let e = s.entries.get_mut(&h)?;
        let k = &e.key;
        if k.program != program
            || k.format != format
            || k.device != target.id
            || k.calibration != target.calibration_id
            || k.optimization_level != options.optimization_level
        {
            return None;
        }
        e.used = tick;
        Some(Hit {
            compiled: e.compiled.clone(),
            executable: e.executable.clone(),
            history: e.history.clone(),
        })
    }

    /// Keeps a successful compilation, evicting the least recently used
    /// one when full.
    pub fn put(
        &self,
        program: &str,
        format: ProgramFormat,
        target: &Target,
        options: &CompileOptions,
        hit: &Hit,
    ) {
        if program.len() > MAX_PROGRAM_BYTES {
            return;
        }
        let h = hash_of(program, format, target, options);
        let entry = Entry {
            key: key(program, format, target, options),
            compiled: hit.compiled.clone(),
            executable: hit.executable.clone(),
            history: hit.history.clone(),
            used: 0,
        };
        let mut s = self.state();
        s.tick += 1;
        let tick = s.tick;
        if s.entries.len() >= CAPACITY
            && !s.entries.contains_key(&h)
            && let Some(oldest) = s.entries.iter().min_by_key(|(_, e)| e.used).map(|(h, _)| *h)
        {
            s.entries.remove(&oldest);
        }
        s.entries.insert(h, Entry { used: tick, ..entry });
    }

    /// Compilations held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.state().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compiler::compile;

    const BELL: &str = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\nqubit[2] q;\nbit[2] c;\n\
                        h q[0];\ncx q[0], q[1];\nc = measure q;\n";

    fn target() -> Target {
        Target {
            id: "sim".into(),
            name: "all-to-all, every gate".into(),
            kind: eigen_hal::DeviceKind::Simulator,
            num_qubits: 4,
            coupling_map: None,
            native_gates: Vec::new(),
            qubits: Vec::new(),
            dt: None,
            limits: eigen_hal::Limits { max_shots: 100_000, max_qubits: 4 },
            calibration_id: "c1".into(),
        }
    }

    fn put(cache: &CompileCache, program: &str, options: &CompileOptions) {
        let t = target();
        let compiled = compile(program, ProgramFormat::Detect, &t, options).expect("compiles");
        let exe = Arc::new(Executable::Circuit(compiled.circuit.clone()));
        let hit = Hit { compiled: Arc::new(compiled), executable: exe, history: Arc::default() };
        cache.put(program, ProgramFormat::Detect, &t, options, &hit);
    }

    #[test]
    fn a_hit_is_the_same_compilation_and_other_keys_miss() {
        let cache = CompileCache::default();
        let (t, o) = (target(), CompileOptions::default());
        assert!(cache.get(BELL, ProgramFormat::Detect, &t, &o).is_none());
        put(&cache, BELL, &o);
        let hit = cache.get(BELL, ProgramFormat::Detect, &t, &o).expect("hit");
        let fresh = compile(BELL, ProgramFormat::Detect, &t, &o).expect("compiles");
        assert_eq!(*hit.compiled, fresh);
        let other = CompileOptions { optimization_level: 3 };
        assert_ne!(other, o);
        assert!(cache.get(BELL, ProgramFormat::Detect, &t, &other).is_none());
        assert!(cache.get(&format!("{BELL}x q[0];\n"), ProgramFormat::Detect, &t, &o).is_none());
        let mut recalibrated = t.clone();
        recalibrated.calibration_id = "another".into();
        assert!(cache.get(BELL, ProgramFormat::Detect, &recalibrated, &o).is_none());
    }

    #[test]
    fn it_stays_bounded_and_keeps_the_recently_used() {
        let cache = CompileCache::default();
        let o = CompileOptions::default();
        let t = target();
        put(&cache, BELL, &o);
        for i in 0..CAPACITY + 10 {
            // Touch BELL so it is never the least recently used.
            assert!(cache.get(BELL, ProgramFormat::Detect, &t, &o).is_some(), "evicted at {i}");
            put(&cache, &format!("{BELL}// {i}\n"), &o);
        }
        assert_eq!(cache.len(), CAPACITY);
        assert!(cache.get(&format!("{BELL}// 0\n"), ProgramFormat::Detect, &t, &o).is_none());
    }
}
