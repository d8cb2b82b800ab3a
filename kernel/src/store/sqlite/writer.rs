//! The writer: the only write connection, and the group commits it runs.
//!
//! Who writes: a commit that arrives while nothing else is waiting or being
//! written runs at once on the caller's thread (see [`Writer::try_commit`]);
//! every other goes to one OS thread that applies them as group commits.
//! The first case is a lone client's, whose job then costs no thread
//! hand-off at all: on a virtual machine, waking a parked thread and being
//! woken back costs more than the commit itself. The second is a busy
//! server's, where one transaction takes a whole group, and the runtime is
//! never blocked on SQLite for long.
//!
//! Why a thread of its own for groups: SQLite is a synchronous library, and
//! a commit is a few dozen microseconds of CPU and `pwrite`s. Run on the
//! thread that holds the connection, a whole group costs the callers
//! exactly one hand-off in (the channel wakes the thread) and one out (each
//! caller's answer wakes its task), whatever the number of statements; no
//! step of a transaction waits for the async runtime, and the runtime is
//! never woken per statement.
//!
//! A group is every batch that arrived while the previous transaction was
//! committing, up to [`MAX_GROUP`]. It is one transaction; each batch in it
//! runs inside a savepoint, so a batch that fails (a duplicate idempotency
//! key, a duplicate event) is rolled back alone and the others commit. If
//! the transaction as a whole fails (it cannot begin or commit, or SQLite
//! rolled it back, as it does on an I/O error), nothing of it is stored and
//! each batch is retried in a transaction of its own, so it fails alone or
//! not at all. Each caller is answered once the transaction holding its
//! batch committed (or failed).
//!
//! Order: batches commit in the order they were handed in. A caller commits
//! inline only when it holds the connection and no batch handed in before
//! it is still waiting ([`Writer::pending`] counts them from before they
//! are queued until after they are answered), so it never overtakes one.

use super::super::{StoreError, StoreErrorKind, Write, to_micros};
use super::schema::unavailable;
use crate::gateway::JobResults;
use crate::job::{JobId, TaskState};
use rusqlite::{Connection, params};
use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;
use tokio::sync::{mpsc, oneshot};

/// The largest number of batches one group commit takes.
const MAX_GROUP: usize = 512;

/// After about this many written rows the WAL is copied back into the
/// database file (SQLite's own default is 1000 pages, a few thousand rows).
const CHECKPOINT_EVERY_WRITES: usize = 2000;

/// How a caller is answered.
pub(super) type Ack = oneshot::Sender<Result<(), StoreError>>;

/// What the writer is asked to do.
pub(super) enum Command {
    /// Commit a batch atomically.
    Commit(Vec<Write>, Ack),
    /// Delete jobs that finished before a time; answer their ids.
    Prune(SystemTime, oneshot::Sender<Result<Vec<JobId>, StoreError>>),
    /// Checkpoint what the checkpointer's last sweep left (see
    /// [`checkpoint_loop`]); nobody waits for it.
    CheckpointTail,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Commit(w, _) => write!(f, "Commit({} writes)", w.len()),
            Self::Prune(t, _) => write!(f, "Prune({t:?})"),
            Self::CheckpointTail => write!(f, "CheckpointTail"),
        }
    }
}

/// Whether the tokio runtime that opened the store still runs.
///
/// The writer is a thread of its own, which a runtime shutting down does
/// not stop; yet a runtime dropped mid-work is how tests stand in for
/// `kill -9`, and a store that went on committing what was queued for it
/// would race the next kernel opening the same file. So a task of that
/// runtime holds [`RuntimeGuard`] for as long as the writer runs, and the
/// writer commits nothing more once the guard is dropped with the runtime
/// (as the writer task of an async store would have stopped with it).
#[derive(Debug, Clone)]
pub(super) struct RuntimeAlive(Arc<AtomicBool>);

/// Clears its [`RuntimeAlive`] when dropped.
#[derive(Debug)]
pub(super) struct RuntimeGuard(Arc<AtomicBool>);

impl Drop for RuntimeGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl RuntimeAlive {
    /// A flag and its guard, to be held by a task of the current runtime.
    pub(super) fn new() -> (Self, RuntimeGuard) {
        let flag = Arc::new(AtomicBool::new(true));
        (Self(Arc::clone(&flag)), RuntimeGuard(flag))
    }

    fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The write connection and the bookkeeping that goes with it; whoever
/// holds it (the writer thread, or a caller committing inline) writes.
struct WriteSide {
    conn: Connection,
    /// Rows written since the checkpointer was last asked to run.
    since_checkpoint: usize,
    checkpoint: std::sync::mpsc::SyncSender<()>,
    sweeps: Arc<Sweeps>,
}

/// What the checkpointer tells the writer (see [`checkpoint_loop`]).
#[derive(Debug, Default)]
struct Sweeps {
    /// Set after each sweep; taken by the writer, which then copies the tail.
    ended: AtomicBool,
    /// Sweeps done so far.
    count: AtomicUsize,
}

impl WriteSide {
    /// Counts `rows` written and asks for a checkpoint when enough were;
    /// true when a sweep ended since the last call, so that its tail is
    /// due (see [`checkpoint_loop`]).
    fn wrote(&mut self, rows: usize) -> bool {
        self.since_checkpoint += rows;
        // A full channel means one is already asked for.
        if self.since_checkpoint >= CHECKPOINT_EVERY_WRITES && self.checkpoint.try_send(()).is_ok()
        {
            self.since_checkpoint = 0;
        }
        self.sweeps.ended.swap(false, Ordering::AcqRel)
    }
}

/// The store's write side, shared by the store's handles and the writer
/// thread.
#[derive(Debug)]
pub(super) struct Writer {
    side: Mutex<WriteSide>,
    /// Batches handed in and not answered yet (queued or being written).
    pending: AtomicUsize,
    /// Whether callers may commit on their own thread: not when every
    /// commit is an fsync, which would block the runtime for milliseconds.
    inline: bool,
    alive: RuntimeAlive,
}

impl std::fmt::Debug for WriteSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteSide").field("since_checkpoint", &self.since_checkpoint).finish()
    }
}

impl Writer {
    fn side(&self) -> MutexGuard<'_, WriteSide> {
        // The side holds whole values only between statements; SQLite
        // itself keeps a transaction atomic if a panic cut one short.
        self.side.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Commits `batch` on this thread if the connection is free and nothing
    /// handed in earlier still waits; gives the batch back otherwise, to be
    /// queued with [`Writer::queued`]. With the outcome comes whether a
    /// [`Command::CheckpointTail`] is due: the caller queues it, so that
    /// the writer thread runs it and no caller waits for it.
    pub(super) fn try_commit(
        &self,
        batch: Vec<Write>,
    ) -> Result<(Result<(), StoreError>, bool), Vec<Write>> {
        if !self.inline || self.pending.load(Ordering::Acquire) != 0 {
            return Err(batch);
        }
        let mut side = match self.side.try_lock() {
            Ok(side) => side,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Err(batch),
        };
        // Looked at again under the lock: a batch queued in between must
        // commit first.
        if self.pending.load(Ordering::Acquire) != 0 {
            return Err(batch);
        }
        let outcome = transaction(&side.conn, &[batch.as_slice()])
            .and_then(|mut o| o.pop().unwrap_or(Ok(())));
        let tail_due = side.wrote(batch.len());
        Ok((outcome, tail_due))
    }

    /// Counts a batch about to be queued for the writer thread.
    pub(super) fn queued(&self) {
        self.pending.fetch_add(1, Ordering::AcqRel);
    }

    /// Uncounts a batch that could not be queued after all.
    pub(super) fn unqueued(&self) {
        self.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
impl Writer {
    /// Holds the connection on a thread of its own (as a long commit
    /// would) until the returned sender is dropped.
    pub(super) fn hold(self: &Arc<Self>) -> std::sync::mpsc::Sender<()> {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (held, is_held) = std::sync::mpsc::channel();
        let me = Arc::clone(self);
        std::thread::spawn(move || {
            let _side = me.side();
            let _ = held.send(());
            let _ = released.recv();
        });
        is_held.recv().expect("the holding thread runs");
        release
    }

    /// Batches handed in and not answered yet.
    pub(super) fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// Checkpointer sweeps done so far.
    pub(super) fn sweeps(&self) -> usize {
        self.side().sweeps.count.load(Ordering::Acquire)
    }
}

/// Starts the writer thread on `conn` (migrated) and the checkpointer on
/// `checkpoints` (a second connection to the same file); returns the write
/// side that callers share. Both threads end once every sender of `rx` is
/// gone, or once `alive` is cleared; `exited` is dropped when the writer
/// ends. Callers commit inline only if `inline`.
pub(super) fn spawn(
    conn: Connection,
    checkpoints: Connection,
    rx: mpsc::Receiver<Command>,
    alive: RuntimeAlive,
    inline: bool,
    exited: oneshot::Sender<()>,
) -> Result<Arc<Writer>, StoreError> {
    let (ask, asked) = std::sync::mpsc::sync_channel(1);
    let sweeps = Arc::new(Sweeps::default());
    let swept = Arc::clone(&sweeps);
    std::thread::Builder::new()
        .name("eigen-store-ckpt".into())
        .spawn(move || checkpoint_loop(&checkpoints, &asked, &swept))
        .map_err(|e| unavailable(format!("cannot start the store's checkpointer: {e}")))?;
    let writer = Arc::new(Writer {
        side: Mutex::new(WriteSide { conn, since_checkpoint: 0, checkpoint: ask, sweeps }),
        pending: AtomicUsize::new(0),
        inline,
        alive,
    });
    let mine = Arc::clone(&writer);
    std::thread::Builder::new()
        .name("eigen-store-writer".into())
        .spawn(move || {
            write_loop(&mine, rx);
            drop(exited);
        })
        .map_err(|e| unavailable(format!("cannot start the store writer: {e}")))?;
    Ok(writer)
}

/// Checkpoints the WAL whenever the writer asks, while the writer goes on
/// (a PASSIVE checkpoint never blocks writers or readers). Driven by
/// writes, not by a timer, so an idle store does nothing.
///
/// Such a sweep copies the frames that were in the WAL when it began; the
/// writer appends more meanwhile. SQLite starts the WAL over from its
/// beginning only once *every* frame is copied, which a sweep racing a
/// steady writer never achieves: the WAL would grow without end (hundreds
/// of megabytes after some thousand jobs), and each commit would extend
/// the file instead of rewriting pages already cached. So after each
/// sweep `swept.ended` is set, and the writer, between two commits, copies the
/// few frames left itself ([`checkpoint_tail`]): the WAL is then wholly
/// copied, and the next commit starts it over.
fn checkpoint_loop(conn: &Connection, asked: &std::sync::mpsc::Receiver<()>, swept: &Sweeps) {
    while asked.recv().is_ok() {
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            Ok(()) => {
                swept.count.fetch_add(1, Ordering::AcqRel);
                swept.ended.store(true, Ordering::Release);
            }
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; the next one retries"),
        }
    }
}

/// Copies what is left in the WAL on the write connection, where no other
/// writer can append meanwhile (see [`checkpoint_loop`]).
fn checkpoint_tail(conn: &Connection) {
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "WAL checkpoint failed; the next one retries");
    }
}

fn write_loop(writer: &Writer, mut rx: mpsc::Receiver<Command>) {
    let mut group: Vec<(Vec<Write>, Ack)> = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.blocking_recv() {
        let mut prune = None;
        let mut tails = 0usize;
        match first {
            Command::Commit(w, ack) => group.push((w, ack)),
            Command::Prune(t, ack) => prune = Some((t, ack)),
            Command::CheckpointTail => tails += 1,
        }
        while prune.is_none() && group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(Command::Commit(w, ack)) => group.push((w, ack)),
                Ok(Command::Prune(t, ack)) => prune = Some((t, ack)),
                Ok(Command::CheckpointTail) => tails += 1,
                Err(_) => break,
            }
        }
        if !writer.alive.get() {
            // The runtime is gone, and every caller with it.
            return;
        }
        let answered = group.len() + usize::from(prune.is_some()) + tails;
        let mut side = writer.side();
        let mut tail_due = tails > 0;
        if !group.is_empty() {
            tail_due |= side.wrote(group.iter().map(|(w, _)| w.len()).sum::<usize>());
            commit_group(&side.conn, &mut group);
        }
        if let Some((before, ack)) = prune {
            let _ = ack.send(prune_in(&mut side.conn, before));
        }
        if tail_due {
            // After the answers: no caller waits for it.
            checkpoint_tail(&side.conn);
        }
        writer.pending.fetch_sub(answered, Ordering::AcqRel);
    }
}

/// Commits `group` (drained) and answers each of its callers.
fn commit_group(conn: &Connection, group: &mut Vec<(Vec<Write>, Ack)>) {
    let batches: Vec<&[Write]> = group.iter().map(|(w, _)| w.as_slice()).collect();
    match transaction(conn, &batches) {
        Ok(outcomes) => {
            for ((_, ack), outcome) in group.drain(..).zip(outcomes) {
                let _ = ack.send(outcome);
            }
        }
        Err(e) if group.len() == 1 => {
            for (_, ack) in group.drain(..) {
                let _ = ack.send(Err(e.clone()));
            }
        }
        Err(_) => {
            // Nothing of the group is stored: each batch alone, so only
            // the batches that cannot commit fail.
            for (writes, ack) in group.drain(..) {
                let outcome = transaction(conn, &[writes.as_slice()])
                    .and_then(|mut o| o.pop().unwrap_or(Ok(())));
                let _ = ack.send(outcome);
            }
        }
    }
}

/// Runs `batches` as one transaction: `Ok` with each batch's outcome once
/// it committed (a failed batch was rolled back alone), `Err` when the
/// transaction as a whole failed and stored nothing.
fn transaction(
    conn: &Connection,
    batches: &[&[Write]],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let outcome = transaction_in(conn, batches);
    if outcome.is_err() && !conn.is_autocommit() {
        // Undo what is left of it (an error here means no transaction was
        // open any more, which is what we want).
        let _ = conn.execute_batch("ROLLBACK");
    }
    outcome
}

fn transaction_in(
    conn: &Connection,
    batches: &[&[Write]],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    exec(conn, "BEGIN IMMEDIATE")?;
    let mut outcomes = Vec::with_capacity(batches.len());
    if let [only] = batches {
        // Alone, a batch is the transaction: no savepoint needed.
        apply(conn, only)?;
        outcomes.push(Ok(()));
    } else {
        for batch in batches {
            exec(conn, "SAVEPOINT batch")?;
            match apply(conn, batch) {
                Ok(()) => exec(conn, "RELEASE batch")?,
                Err(e) => {
                    if conn.is_autocommit() {
                        // SQLite rolled the whole transaction back.
                        return Err(e);
                    }
                    exec(conn, "ROLLBACK TO batch")?;
                    exec(conn, "RELEASE batch")?;
                    outcomes.push(Err(e));
                    continue;
                }
            }
            outcomes.push(Ok(()));
        }
    }
    exec(conn, "COMMIT")?;
    Ok(outcomes)
}

/// Runs one statement without parameters, prepared once per connection.
fn exec(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(|_| ()).map_err(classify)
}

/// What a failed statement means to the caller.
pub(super) fn classify(e: rusqlite::Error) -> StoreError {
    use rusqlite::ffi;
    match e.sqlite_error() {
        Some(f)
            if f.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            StoreError::new(StoreErrorKind::Conflict, e.to_string())
        }
        _ => unavailable(e),
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(StoreErrorKind::Corrupt, e.to_string())
}

const INSERT_JOB: &str = "INSERT INTO jobs (id, tenant, trace_id, device, spec, idempotency_key, \
                          created_at, recoveries, final_state, finished_at, log, results) \
                          VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
const INSERT_EVENT: &str = "INSERT INTO events (job_id, seq, state, stage, progress, message, ts) \
                            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
const FINISH: &str = "UPDATE jobs SET final_state = ?2, finished_at = ?3 WHERE id = ?1";
const RESULTS: &str = "INSERT OR REPLACE INTO results (job_id, body) VALUES (?1, ?2)";
const RECOVERIES: &str = "UPDATE jobs SET recoveries = ?2 WHERE id = ?1";
const PUT_RESERVATION: &str = "INSERT OR REPLACE INTO reservations \
                               (id, tenant, device, purpose, expires_at) \
                               VALUES (?1, ?2, ?3, ?4, ?5)";
const DELETE_RESERVATION: &str = "DELETE FROM reservations WHERE id = ?1";

/// Applies one batch's writes inside the open transaction: its new jobs
/// first, then the rest in order. Each statement is prepared once per
/// connection and kept.
fn apply(conn: &Connection, writes: &[Write]) -> Result<(), StoreError> {
    let sql = classify;
    // A job inserted and finished in the same batch (a run done while it
    // was submitted) is inserted finished, with its event log and results
    // in its own row (migration 0002): one row written instead of rows in
    // four b-trees.
    let inserted: FxHashSet<&JobId> = writes
        .iter()
        .filter_map(|w| if let Write::InsertJob(j) = w { Some(&j.id) } else { None })
        .collect();
    let folded: FxHashMap<&JobId, (TaskState, SystemTime)> = writes
        .iter()
        .filter_map(|w| match w {
            Write::Finish { job_id, state, at } if inserted.contains(job_id) => {
                Some((job_id, (*state, *at)))
            }
            _ => None,
        })
        .collect();
    let inline = inline_outcomes(writes, &folded)?;
    for w in writes {
        let Write::InsertJob(j) = w else { continue };
        let (final_state, finished_at) = match folded.get(&j.id) {
            Some((state, at)) => (Some(*state), Some(*at)),
            None => (j.final_state, j.finished_at),
        };
        let (log, results) = match inline.get(&j.id) {
            Some(o) => (Some(o.log.as_str()), o.results.as_deref()),
            None => (None, None),
        };
        let spec = serde_json::to_string(&j.spec).map_err(corrupt)?;
        conn.prepare_cached(INSERT_JOB)
            .and_then(|mut s| {
                s.execute(params![
                    j.id.0,
                    j.tenant,
                    j.trace_id,
                    j.spec.target,
                    spec,
                    j.spec.idempotency_key,
                    to_micros(j.created_at),
                    i64::from(j.recoveries),
                    final_state.map(TaskState::as_str),
                    finished_at.map(to_micros),
                    log,
                    results,
                ])
            })
            .map_err(sql)?;
    }
    for w in writes {
        match w {
            Write::InsertJob(_) => {}
            Write::Event(e) if inline.contains_key(&e.job_id) => {}
            Write::Results { job_id, .. } if inline.contains_key(job_id) => {}
            Write::Event(e) => conn
                .prepare_cached(INSERT_EVENT)
                .and_then(|mut s| {
                    s.execute(params![
                        e.job_id.0,
                        i64::try_from(e.event_seq).unwrap_or(i64::MAX),
                        e.state.as_str(),
                        e.stage,
                        e.progress,
                        e.message,
                        to_micros(e.timestamp),
                    ])
                })
                .map(drop)
                .map_err(sql)?,
            Write::Finish { job_id, .. } if folded.contains_key(job_id) => {}
            Write::Finish { job_id, state, at } => conn
                .prepare_cached(FINISH)
                .and_then(|mut s| s.execute(params![job_id.0, state.as_str(), to_micros(*at)]))
                .map(drop)
                .map_err(sql)?,
            Write::Results { job_id, results } => {
                let body = serde_json::to_string(&**results).map_err(corrupt)?;
                conn.prepare_cached(RESULTS)
                    .and_then(|mut s| s.execute(params![job_id.0, body]))
                    .map(drop)
                    .map_err(sql)?;
            }
            Write::Recoveries { job_id, count } => conn
                .prepare_cached(RECOVERIES)
                .and_then(|mut s| s.execute(params![job_id.0, i64::from(*count)]))
                .map(drop)
                .map_err(sql)?,
            Write::PutReservation(r) => conn
                .prepare_cached(PUT_RESERVATION)
                .and_then(|mut s| {
                    s.execute(params![r.id, r.tenant, r.device, r.purpose, to_micros(r.expires_at)])
                })
                .map(drop)
                .map_err(sql)?,
            Write::DeleteReservation(id) => conn
                .prepare_cached(DELETE_RESERVATION)
                .and_then(|mut s| s.execute(params![id]))
                .map(drop)
                .map_err(sql)?,
        }
    }
    Ok(())
}

/// The event log and results a folded job (inserted and finished in this
/// batch) keeps in its own row.
struct InlineOutcome {
    /// JSON array of `[seq, state, stage, progress, message, ts]`.
    log: String,
    /// JobResults as JSON, if the batch has them.
    results: Option<String>,
}

/// The inline outcome of each folded job whose events in `writes` run
/// gaplessly from 1 (as every job's log does); a job whose events do not
/// is written the usual way, so the events table's key still judges them.
fn inline_outcomes<'w>(
    writes: &'w [Write],
    folded: &FxHashMap<&'w JobId, (TaskState, SystemTime)>,
) -> Result<FxHashMap<&'w JobId, InlineOutcome>, StoreError> {
    // A tuple serializes as a JSON array.
    type Entry<'e> = (u64, &'e str, Option<&'e str>, Option<f64>, &'e str, i64);
    let mut logs: FxHashMap<&JobId, Vec<Entry<'w>>> = FxHashMap::default();
    let mut results: FxHashMap<&JobId, &JobResults> = FxHashMap::default();
    let mut gapped: FxHashSet<&JobId> = FxHashSet::default();
    for w in writes {
        match w {
            Write::Event(e) if folded.contains_key(&e.job_id) => {
                let log = logs.entry(&e.job_id).or_default();
                if e.event_seq != log.len() as u64 + 1 {
                    gapped.insert(&e.job_id);
                }
                log.push((
                    e.event_seq,
                    e.state.as_str(),
                    e.stage.as_deref(),
                    e.progress,
                    &e.message,
                    to_micros(e.timestamp),
                ));
            }
            Write::Results { job_id, results: r } if folded.contains_key(job_id) => {
                results.insert(job_id, r);
            }
            _ => {}
        }
    }
    let mut out = FxHashMap::default();
    for (id, log) in logs {
        if gapped.contains(id) {
            continue;
        }
        let log = serde_json::to_string(&log).map_err(corrupt)?;
        let results = results.remove(id).map(serde_json::to_string).transpose().map_err(corrupt)?;
        out.insert(id, InlineOutcome { log, results });
    }
    Ok(out)
}

/// Deletes the jobs (with their events and results) that finished before
/// `before`, in one transaction; returns their ids.
fn prune_in(conn: &mut Connection, before: SystemTime) -> Result<Vec<JobId>, StoreError> {
    let tx = conn.transaction().map_err(classify)?;
    let ids: Vec<String> = {
        let mut s = tx
            .prepare_cached(
                "SELECT id FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ?1",
            )
            .map_err(classify)?;
        let rows = s.query_map(params![to_micros(before)], |r| r.get(0)).map_err(classify)?;
        rows.collect::<Result<_, _>>().map_err(classify)?
    };
    for id in &ids {
        for sql in [
            "DELETE FROM events WHERE job_id = ?1",
            "DELETE FROM results WHERE job_id = ?1",
            "DELETE FROM jobs WHERE id = ?1",
        ] {
            tx.prepare_cached(sql).and_then(|mut s| s.execute(params![id])).map_err(classify)?;
        }
    }
    tx.commit().map_err(classify)?;
    Ok(ids.into_iter().map(JobId).collect())
}
