//! In-process kernel benchmark (issue 5): submit -> DONE of a 2-qubit Bell
//! circuit with 1,000 shots on `sim` (the real simulator), with the durable
//! SQLite store on, in a temporary directory.
//!
//! Reports:
//! - jobs/s with 1 and with 64 concurrent submitters (each submits, follows
//!   the job's event stream to its terminal event, checks it is DONE with
//!   1,000 shots of only `00`/`11`, and submits the next);
//! - p50/p99 of one durable submit (`enqueue_job` returns once the job and
//!   its first events are committed; a short job on an idle simulator is
//!   run while it is submitted and committed finished, in the same one
//!   transaction, so its submit includes the run), measured while 64 submitters load the
//!   kernel, one at a time (the 1-submitter scenario: nothing else is being
//!   submitted or run), and back to back (one submitter that does not wait
//!   for DONE, so each submit shares the store with earlier jobs' commits);
//! - the floor under a submit: one store commit of the same writes, with no
//!   kernel around the store, and one of what a job finished at submit
//!   commits (the job, its whole event log, its results);
//! - both store modes: `process` (commit survives a crash or kill -9 of the
//!   process; the default) and `power` (every group commit fsynced).
//!
//! Targets on 2 cores: >= 5,000 jobs/s with 64 submitters; p50 durable
//! submit <= 200 us.
//!
//! Run: `cargo bench -p eigen-benches --bench kernel`
//! (`EIGEN_BENCH_JOBS=N` jobs per scenario, default 5000;
//! `EIGEN_BENCH_SLOTS=N` execution slots on `sim`, default 2;
//! `EIGEN_BENCH_SYNC=process|power` runs one store mode only;
//! `EIGEN_BENCH_STORE_ONLY=1` measures only the store commits, N of each.)

use eigen_hal::Device;
use eigen_kernel::gateway::{
    ExecutionMetadata, JobEvent, JobResults, KernelGateway, RequestContext, SubmitJob,
};
use eigen_kernel::job::JobStatus;
use eigen_kernel::job::{ExecStage, JobId, TaskState};
use eigen_kernel::store::{JobStore, SqliteStore, StoredJob, SyncMode, Write};
use eigen_kernel::{Kernel, KernelConfig};
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BELL: &str = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\nqubit[2] q;\nbit[2] c;\n\
                    h q[0];\ncx q[0], q[1];\nc = measure q;\n";
const SHOTS: u32 = 1000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn bell() -> SubmitJob {
    SubmitJob {
        name: "bell".into(),
        program: BELL.into(),
        target: "sim".into(),
        shots: SHOTS,
        ..SubmitJob::default()
    }
}

async fn start(dir: &std::path::Path, sync: SyncMode, slots: usize) -> Kernel {
    let mut config = KernelConfig::new(dir);
    config.sync = sync;
    config.slots.insert("sim".into(), slots);
    config.queued_jobs_quota_per_tenant = 1_000_000;
    let sim: Arc<dyn Device> = Arc::new(eigen_sim::SimDevice::ideal().expect("sim device"));
    Kernel::start(config, vec![sim]).await.expect("kernel starts")
}

/// Submits one job and follows it to DONE; returns the submit latency.
async fn one_job(k: &Kernel, ctx: &RequestContext) -> Duration {
    let t = Instant::now();
    let accepted = k.enqueue_job(ctx, bell()).await.expect("submit");
    let submit = t.elapsed();
    let mut events = k.job_events(ctx, &accepted.job_id, 0).await.expect("events");
    let mut last = None;
    while let Some(e) = events.next().await {
        last = Some(e.status);
    }
    assert_eq!(last, Some(JobStatus::Done), "job {} did not end DONE", accepted.job_id);
    let results = k.get_job_results(ctx, &accepted.job_id).await.expect("results");
    assert_eq!(results.counts.values().sum::<u64>(), u64::from(SHOTS));
    assert!(results.counts.keys().all(|k| k == "00" || k == "11"), "{:?}", results.counts);
    submit
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn scenario(k: &Kernel, submitters: usize, jobs: usize) -> (f64, Vec<Duration>) {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..submitters {
        let (k, next) = (k.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let ctx = RequestContext { tenant: format!("t{}", s % 8), trace_id: "bench".into() };
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < jobs {
                latencies.push(one_job(&k, &ctx).await);
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(jobs);
    for t in tasks {
        latencies.extend(t.await.expect("submitter"));
    }
    let rate = jobs as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    (rate, latencies)
}

/// Latency of durable submits alone (the device offline would change the
/// path; here jobs run, but each submit is timed on its own, one at a time).
async fn lone_submits(k: &Kernel, n: usize) -> Vec<Duration> {
    let ctx = RequestContext { tenant: "lone".into(), trace_id: "bench".into() };
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        k.enqueue_job(&ctx, bell()).await.expect("submit");
        out.push(t.elapsed());
    }
    // Let them finish so the next scenario starts clean.
    while k.live_jobs() > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    out.sort();
    out
}

/// What a submit writes: the job and its first four events; with
/// `finished`, also what a job run while it is submitted adds to the same
/// transaction (its execution events, its terminal state and its results):
/// the batch every short simulator job commits.
fn submit_batch(finished: bool) -> Vec<Write> {
    let id = JobId::new();
    let now = eigen_kernel::store::now();
    let mut batch = vec![Write::InsertJob(Box::new(StoredJob {
        id: id.clone(),
        tenant: "t".into(),
        trace_id: "bench".into(),
        spec: bell(),
        created_at: now,
        recoveries: 0,
        final_state: None,
        finished_at: None,
    }))];
    let mut path = vec![
        (TaskState::Pending, "accepted"),
        (TaskState::Validating, ""),
        (TaskState::Compiling, ""),
        (TaskState::Queued, "compiled: depth 3, 1 two-qubit gates"),
    ];
    if finished {
        path.extend([
            (TaskState::Allocating, ""),
            (TaskState::Executing(ExecStage::Upload), ""),
            (TaskState::Executing(ExecStage::Run), ""),
            (TaskState::Executing(ExecStage::Readout), ""),
            (TaskState::Completed, "completed"),
        ]);
    }
    for (seq, (state, message)) in (1..).zip(path) {
        batch.push(Write::Event(JobEvent {
            job_id: id.clone(),
            event_seq: seq,
            state,
            status: state.status(),
            stage: state.stage().map(Into::into),
            progress: None,
            message: message.into(),
            timestamp: now,
        }));
    }
    if finished {
        let results = JobResults {
            counts: [("00".to_string(), 507), ("11".to_string(), 493)].into_iter().collect(),
            metadata: ExecutionMetadata {
                device: "sim".into(),
                shots: SHOTS,
                seed: 0x5eed,
                execution_duration: Duration::from_micros(30),
                calibration_id: "ideal".into(),
                compiler_version: "0.1.0".into(),
                ..ExecutionMetadata::default()
            },
            ..JobResults::default()
        };
        batch.push(Write::Results { job_id: id.clone(), results: Arc::new(results) });
        batch.push(Write::Finish { job_id: id, state: TaskState::Completed, at: now });
    }
    batch
}

/// The floor under a durable submit: one store commit of what a submit
/// writes (see [`submit_batch`]), one at a time, on a store of its own (no
/// kernel around the store).
async fn store_commits(sync: SyncMode, n: usize, finished: bool) -> Vec<Duration> {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path(), sync).await.expect("store");
    // Warm up (statement caches, the file's first pages).
    for _ in 0..100 {
        store.commit(submit_batch(finished)).await.expect("commit");
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let batch = submit_batch(finished);
        let t = Instant::now();
        store.commit(batch).await.expect("commit");
        out.push(t.elapsed());
    }
    out.sort();
    out
}

fn main() {
    let jobs = env_usize("EIGEN_BENCH_JOBS", 5000);
    let slots = env_usize("EIGEN_BENCH_SLOTS", 2);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!(
        "kernel: submit -> DONE, Bell, {SHOTS} shots on sim, durable SQLite store, \
         {jobs} jobs per scenario, {slots} slots on sim, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let only = std::env::var("EIGEN_BENCH_SYNC").ok();
    let store_only = std::env::var("EIGEN_BENCH_STORE_ONLY").is_ok_and(|v| v == "1");
    for (name, sync) in [("process", SyncMode::Process), ("power", SyncMode::Power)] {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        if store_only {
            rt.block_on(async {
                let commits = store_commits(sync, jobs, false).await;
                let finished = store_commits(sync, jobs, true).await;
                println!("[sync={name}]");
                print_commits(&commits, &finished);
            });
            continue;
        }
        rt.block_on(async {
            let dir = tempfile::tempdir().expect("tempdir");
            let k = start(dir.path(), sync, slots).await;
            // Warm up (statement caches, allocator, simulator buffers).
            scenario(&k, 8, 200).await;
            let (rate1, lat1) = scenario(&k, 1, jobs.min(2000)).await;
            let (rate64, lat64) = scenario(&k, 64, jobs).await;
            let lone = lone_submits(&k, 1000).await;
            k.shutdown().await;
            let commits = store_commits(sync, 1000, false).await;
            let finished = store_commits(sync, 1000, true).await;
            println!("[sync={name}]");
            println!(
                "  1 submitter:    {rate1:>9.0} jobs/s  (one durable submit at a time: p50 {:>7.1} us, p99 {:>7.1} us)",
                micros(percentile(&lat1, 0.5)),
                micros(percentile(&lat1, 0.99))
            );
            println!(
                "  64 submitters:  {rate64:>9.0} jobs/s  (submit p50 {:>7.1} us, p99 {:>7.1} us)",
                micros(percentile(&lat64, 0.5)),
                micros(percentile(&lat64, 0.99))
            );
            println!(
                "  submits back to back, not waiting for DONE (earlier jobs still run): p50 {:>7.1} us, p99 {:>7.1} us",
                micros(percentile(&lone, 0.5)),
                micros(percentile(&lone, 0.99))
            );
            print_commits(&commits, &finished);
        });
    }
}

fn print_commits(commits: &[Duration], finished: &[Duration]) {
    println!(
        "  store commit alone (job + 4 events, no kernel): p50 {:>7.1} us, p99 {:>7.1} us",
        micros(percentile(commits, 0.5)),
        micros(percentile(commits, 0.99))
    );
    println!(
        "  store commit alone, job finished at submit (job + 9 events + results): \
         p50 {:>7.1} us, p99 {:>7.1} us",
        micros(percentile(finished, 0.5)),
        micros(percentile(finished, 0.99))
    );
}
