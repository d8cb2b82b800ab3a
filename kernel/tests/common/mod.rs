//! Shared helpers of the kernel's integration tests.
//!
//! `TestDevice` is a test double, on purpose: the kernel must not depend on
//! `eigen-sim` (not even as a dev-dependency), and what these tests check
//! is scheduling, lifecycle and durability, not physics. It is a real
//! `eigen_hal::Device` nonetheless: it evaluates classical circuits
//! (X, CX, barriers, measurements, diagonal gates) exactly, reports
//! progress, honours the cancel token, and has a configurable run time,
//! status and injected failures.
#![allow(dead_code)]

use eigen_hal::circuit::Operation;
use eigen_hal::{
    Device, DeviceError, DeviceKind, DeviceStatus, ErrorKind, ExecContext, ExecOptions, ExecResult,
    Executable, Gate, Limits, Target,
};
use eigen_kernel::gateway::{JobEvent, KernelGateway, RequestContext, SubmitJob};
use eigen_kernel::job::{JobId, JobStatus, TaskState};
use eigen_kernel::{Kernel, KernelConfig};
use futures::StreamExt;
use num_complex::Complex64;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `x q[0]` then measure both: always "01".
pub const X0: &str =
    "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\ncreg c[2];\nx q[0];\nmeasure q -> c;\n";

pub struct TestDevice {
    target: Target,
    pub status: Mutex<DeviceStatus>,
    /// How long one execution takes (polled for cancel every millisecond).
    pub run_time: Mutex<Duration>,
    /// Errors the next executions return, in order.
    pub fail_next: Mutex<Vec<ErrorKind>>,
    /// Ignore the cancel token (a device that cannot stop early).
    pub ignore_cancel: Mutex<bool>,
    pub running: AtomicUsize,
    pub max_running: AtomicUsize,
    pub executions: AtomicUsize,
    /// The `shots` of each execution, in start order (tests tag jobs by
    /// their shot count).
    pub started: Mutex<Vec<u32>>,
    /// The thread of each execution, in start order.
    pub threads: Mutex<Vec<std::thread::ThreadId>>,
    /// Panic in the next execution (a device bug).
    pub panic_next: AtomicBool,
}

impl TestDevice {
    pub fn new(id: &str) -> Arc<Self> {
        Arc::new(Self {
            target: Target {
                id: id.into(),
                name: format!("test device {id}"),
                kind: DeviceKind::Simulator,
                num_qubits: 8,
                coupling_map: None,
                native_gates: Vec::new(),
                qubits: Vec::new(),
                dt: None,
                limits: Limits { max_shots: 1_000_000, max_qubits: 8 },
                calibration_id: format!("{id}-cal-1"),
            },
            status: Mutex::new(DeviceStatus::Online),
            run_time: Mutex::new(Duration::ZERO),
            fail_next: Mutex::new(Vec::new()),
            ignore_cancel: Mutex::new(false),
            running: AtomicUsize::new(0),
            max_running: AtomicUsize::new(0),
            executions: AtomicUsize::new(0),
            started: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
            panic_next: AtomicBool::new(false),
        })
    }

    pub fn with_run_time(self: Arc<Self>, d: Duration) -> Arc<Self> {
        *self.run_time.lock().expect("test lock") = d;
        self
    }

    pub fn set_status(&self, s: DeviceStatus) {
        *self.status.lock().expect("test lock") = s;
    }

    fn evaluate(circuit: &eigen_hal::Circuit) -> Result<(u64, u64), DeviceError> {
        let (mut qubits, mut outcome) = (0u64, 0u64);
        for op in &circuit.ops {
            match op {
                Operation::Gate { gate, qubits: q, .. } => match gate {
                    Gate::X => qubits ^= 1 << q[0],
                    Gate::Cx if qubits >> q[0] & 1 == 1 => qubits ^= 1 << q[1],
                    Gate::U(theta, ..) if (theta.abs() - std::f64::consts::PI).abs() < 1e-9 => {
                        qubits ^= 1 << q[0];
                    }
                    Gate::Cx | Gate::I | Gate::Z | Gate::S | Gate::T | Gate::Rz(_) | Gate::P(_) => {
                    }
                    Gate::U(theta, ..) if theta.abs() < 1e-9 => {}
                    other => {
                        return Err(DeviceError::new(
                            ErrorKind::InvalidProgram,
                            format!(
                                "the test device runs classical circuits only, not {}",
                                other.name()
                            ),
                        ));
                    }
                },
                Operation::Measure { qubit, clbit } => {
                    outcome = (outcome & !(1 << clbit)) | ((qubits >> qubit & 1) << clbit);
                }
                _ => {}
            }
        }
        Ok((qubits, outcome))
    }
}

impl Device for TestDevice {
    fn target(&self) -> &Target {
        &self.target
    }

    fn status(&self) -> DeviceStatus {
        *self.status.lock().expect("test lock")
    }

    fn execute(
        &self,
        executable: &Executable,
        options: &ExecOptions,
        ctx: &ExecContext,
    ) -> Result<ExecResult, DeviceError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        self.executions.fetch_add(1, Ordering::SeqCst);
        self.started.lock().expect("test lock").push(options.shots);
        self.threads.lock().expect("test lock").push(std::thread::current().id());
        if self.panic_next.swap(false, Ordering::SeqCst) {
            self.running.fetch_sub(1, Ordering::SeqCst);
            panic!("injected device panic");
        }
        let result = self.run(executable, options, ctx);
        self.running.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

impl TestDevice {
    fn run(
        &self,
        executable: &Executable,
        options: &ExecOptions,
        ctx: &ExecContext,
    ) -> Result<ExecResult, DeviceError> {
        let started = Instant::now();
        {
            let mut fails = self.fail_next.lock().expect("test lock");
            if !fails.is_empty() {
                let kind = fails.remove(0);
                return Err(DeviceError::new(kind, format!("injected {kind:?} failure")));
            }
        }
        ctx.report("upload", 1.0);
        let run_time = *self.run_time.lock().expect("test lock");
        let ignore_cancel = *self.ignore_cancel.lock().expect("test lock");
        ctx.report("run", 0.0);
        while started.elapsed() < run_time {
            if !ignore_cancel {
                ctx.check_cancelled()?;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let Executable::Circuit(circuit) = executable else {
            return Err(DeviceError::new(ErrorKind::InvalidProgram, "circuits only"));
        };
        let (state, outcome) = Self::evaluate(circuit)?;
        ctx.report("readout", 1.0);
        let statevector = options.statevector.then(|| {
            let mut v = vec![Complex64::new(0.0, 0.0); 1 << circuit.num_qubits];
            v[state as usize] = Complex64::new(1.0, 0.0);
            v
        });
        Ok(ExecResult {
            counts: BTreeMap::from([(outcome, u64::from(options.shots))]),
            memory: options.memory.then(|| vec![outcome; options.shots as usize]),
            statevector,
            seed: options.seed.unwrap_or(7),
            duration: started.elapsed(),
        })
    }
}

pub fn ctx(tenant: &str) -> RequestContext {
    RequestContext { tenant: tenant.into(), trace_id: format!("trace-{tenant}") }
}

pub fn job(shots: u32) -> SubmitJob {
    SubmitJob {
        name: "x0".into(),
        program: X0.into(),
        target: "dev".into(),
        shots,
        ..SubmitJob::default()
    }
}

pub fn config(dir: &std::path::Path) -> KernelConfig {
    let mut c = KernelConfig::new(dir);
    c.device_poll_interval = Duration::from_millis(20);
    c.heartbeat_interval = Some(Duration::from_secs(3600));
    // Whether a run goes inline is decided by its predicted time; 2 ms keeps
    // the tests' instant runs inline even on a loaded machine in a debug
    // build, and their slow (>= 3 ms) runs on blocking threads.
    c.inline_run_limit = Duration::from_millis(2);
    c
}

pub async fn start(dir: &std::path::Path, devices: &[Arc<TestDevice>]) -> Kernel {
    start_with(config(dir), devices).await
}

pub async fn start_with(config: KernelConfig, devices: &[Arc<TestDevice>]) -> Kernel {
    let devices: Vec<Arc<dyn Device>> =
        devices.iter().map(|d| d.clone() as Arc<dyn Device>).collect();
    Kernel::start(config, devices).await.expect("kernel starts")
}

/// Every event of the job until the stream ends (bounded in time).
pub async fn events(k: &Kernel, ctx: &RequestContext, id: &JobId, after: u64) -> Vec<JobEvent> {
    let stream = k.job_events(ctx, id, after).await.expect("stream");
    tokio::time::timeout(Duration::from_secs(30), stream.collect::<Vec<_>>())
        .await
        .expect("the stream ends after the terminal event")
}

/// Waits (bounded) until the job is terminal; returns its status.
pub async fn wait_terminal(k: &Kernel, ctx: &RequestContext, id: &JobId) -> JobStatus {
    let evs = events(k, ctx, id, 0).await;
    let last = evs.last().expect("at least one event");
    assert!(last.status.is_terminal(), "stream ended on {:?}", last.state);
    last.status
}

/// Polls `cond` every 5 ms for up to 10 s.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Checks a complete event log: seqs 1..=n gapless, exactly one terminal
/// event and it is last.
/// The states of a job that runs to completion, in order: every state up
/// to `Completed`, the order [`TaskState::ALL`] lists them in.
pub fn happy_path() -> Vec<TaskState> {
    let end = TaskState::ALL.iter().position(|s| *s == TaskState::Completed).expect("listed");
    TaskState::ALL[..=end].to_vec()
}

pub fn assert_well_formed(evs: &[JobEvent]) {
    for (i, e) in evs.iter().enumerate() {
        assert_eq!(e.event_seq, i as u64 + 1, "gapless from 1: {evs:#?}");
    }
    let terminals = evs.iter().filter(|e| e.status.is_terminal()).count();
    assert_eq!(terminals, 1, "exactly one terminal event: {evs:#?}");
    assert!(evs.last().expect("events").status.is_terminal());
}
