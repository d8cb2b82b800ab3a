//! Tiny circuits run on the caller's thread and never hand work to rayon's
//! pool (a job service running thousands of them per second would spend
//! its time waking workers).
//!
//! The check: every worker of the global pool is held busy, then tiny jobs
//! run on another thread. Any parallel loop (even a one-item `par_iter`,
//! or `install`) would queue behind the held workers and never finish, so
//! the jobs finishing at all (the generous timeout only turns such a hang
//! into a failure) shows they stayed on their thread. This file holds one
//! test so that no other test shares the global pool.

use eigen_hal::{Circuit, Device, ExecContext, ExecOptions, Executable, Gate};
use eigen_sim::{SimConfig, SimDevice, StateVector};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::Duration;

fn tiny_jobs() -> u64 {
    let mut total = 0;
    for threads in [None, Some(2)] {
        let cfg = SimConfig { threads, ..SimConfig::default() };
        let dev = SimDevice::new(eigen_sim::targets::ideal_target(), false, cfg).expect("device");
        let ctx = ExecContext::detached();
        // GHZ-5, 1024 shots, terminal measurement (sampling), with memory.
        let mut ghz = Circuit::new(5, 5);
        ghz.gate(Gate::H, &[0]);
        for q in 0..4 {
            ghz.gate(Gate::Cx, &[q, q + 1]);
        }
        for q in 0..5 {
            ghz.measure(q, q);
        }
        let opts = ExecOptions { shots: 1024, seed: Some(3), memory: true, ..Default::default() };
        let r = dev.execute(&Executable::Circuit(ghz), &opts, &ctx).expect("runs");
        total += r.counts.values().sum::<u64>();
        // Two qubits with a mid-circuit measurement (trajectories).
        let mut mid = Circuit::new(2, 2);
        mid.gate(Gate::H, &[0]).measure(0, 0).gate(Gate::Cx, &[0, 1]).measure(1, 1);
        let opts = ExecOptions { shots: 200, seed: Some(4), ..Default::default() };
        let r = dev.execute(&Executable::Circuit(mid), &opts, &ctx).expect("runs");
        total += r.counts.values().sum::<u64>();
    }
    // The state-vector API on a small state.
    let mut sv = StateVector::zero(10).expect("small");
    let layer: Vec<_> = (0..10).map(|q| (Gate::H, vec![q])).collect();
    sv.apply_gates(&layer, Default::default()).expect("valid");
    sv.apply_gate(&Gate::Cz, &[0, 9]).expect("valid");
    assert!((sv.norm_sqr() - 1.0).abs() < 1e-12);
    assert_eq!(sv.probabilities().len(), 1024);
    total + sv.sample_counts(1000, 1).values().sum::<u64>()
}

#[test]
fn tiny_circuits_never_wake_rayon_workers() {
    let workers = rayon::current_num_threads();
    let held = Arc::new((Mutex::new(false), Condvar::new()));
    let started = Arc::new(AtomicUsize::new(0));
    for _ in 0..workers {
        let (held, started) = (held.clone(), started.clone());
        rayon::spawn(move || {
            started.fetch_add(1, Ordering::SeqCst);
            let (lock, cv) = &*held;
            let mut released = lock.lock().expect("lock");
            while !*released {
                released = cv.wait(released).expect("lock");
            }
        });
    }
    while started.load(Ordering::SeqCst) < workers {
        std::thread::yield_now();
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(tiny_jobs()));
    let outcome = rx.recv_timeout(Duration::from_secs(60));
    let (lock, cv) = &*held;
    *lock.lock().expect("lock") = true;
    cv.notify_all();
    let total = outcome.expect("tiny jobs finished while every pool worker was held");
    assert_eq!(total, 2 * (1024 + 200) + 1000);
}
