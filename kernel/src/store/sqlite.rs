//! [`SqliteStore`]: the embedded default [`JobStore`], one SQLite file in
//! WAL mode under the data directory.
//!
//! Writes go through one writer task that owns the only write connection
//! and applies *group commits*: every batch that arrived while the previous
//! transaction was committing goes into the next transaction, so a thousand
//! concurrent submits cost a handful of commits, not a thousand. Each caller
//! is answered after the transaction holding its batch committed. If a group
//! fails, its batches are retried one by one so one bad batch (say, a
//! duplicate idempotency key) fails alone. A group is sent to SQLite as one
//! request (`BEGIN; ...; COMMIT`), since sqlx runs every request on the
//! connection's own thread and each request costs a thread hand-off; small
//! groups keep their statements prepared. Reads use a small pool of their
//! own connections (WAL lets them run beside the writer).

use super::{
    JobStore, ReservationRecord, StoreError, StoreErrorKind, StoredJob, Write, from_micros,
    to_micros,
};
use crate::gateway::{JobEvent, JobResults, SubmitJob};
use crate::job::{JobId, TaskState};
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, QueryBuilder, Row, Sqlite};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, oneshot};

/// How hard a commit tries to reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// The commit is in the operating system's hands when it returns: it
    /// survives a crash or `kill -9` of the process, not a power cut
    /// (SQLite `synchronous=NORMAL` in WAL mode). The default.
    #[default]
    Process,
    /// Every group commit is fsynced: it survives a power cut too, at the
    /// price of one disk flush per commit (SQLite `synchronous=FULL`).
    Power,
}

/// The largest number of batches one group commit takes.
const MAX_GROUP: usize = 512;
/// Rows per multi-row INSERT (SQLite allows 32,766 bound values).
const ROWS_PER_INSERT: usize = 500;
/// Groups of at most this many writes keep their statements prepared.
const KEEP_PREPARED_WRITES: usize = 16;

type Ack = oneshot::Sender<Result<(), StoreError>>;

enum Command {
    Commit(Vec<Write>, Ack),
    Prune(SystemTime, oneshot::Sender<Result<Vec<JobId>, StoreError>>),
}

/// The SQLite job store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: mpsc::Sender<Command>,
    reads: SqlitePool,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Commit(w, _) => write!(f, "Commit({} writes)", w.len()),
            Self::Prune(t, _) => write!(f, "Prune({t:?})"),
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(StoreErrorKind::Unavailable, e.to_string())
}

fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::new(StoreErrorKind::Conflict, db.message().to_string())
        }
        _ => unavailable(e),
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(StoreErrorKind::Corrupt, e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/eigen.db`, applies migrations and
    /// starts the writer task. Must be called inside a tokio runtime.
    pub async fn open(dir: &Path, sync: SyncMode) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| unavailable(format!("cannot create {}: {e}", dir.display())))?;
        let options = SqliteConnectOptions::new()
            .filename(dir.join("eigen.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match sync {
                SyncMode::Process => SqliteSynchronous::Normal,
                SyncMode::Power => SqliteSynchronous::Full,
            })
            .busy_timeout(Duration::from_secs(10))
            // Checkpoints run beside the writer (see `checkpoint_loop`), not
            // inside a commit, where their disk flushes would stall every
            // caller waiting on that group.
            .pragma("wal_autocheckpoint", "0")
            .statement_cache_capacity(256);
        let mut conn = options.connect().await.map_err(unavailable)?;
        sqlx::migrate!("./migrations")
            .run(&mut conn)
            .await
            .map_err(|e| unavailable(format!("migrating the job store: {e}")))?;
        let reads = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            // A connection to a local file does not go stale: pinging it
            // before each read would cost a round trip to its thread.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(unavailable)?;
        let (writer, rx) = mpsc::channel(16_384);
        let (checkpoint, asked) = mpsc::channel(1);
        tokio::spawn(write_loop(conn, rx, checkpoint));
        tokio::spawn(checkpoint_loop(asked, reads.clone()));
        Ok(Self { writer, reads })
    }

    async fn send(&self, cmd: Command) -> Result<(), StoreError> {
        self.writer.send(cmd).await.map_err(|_| unavailable("the store writer has stopped"))
    }
}

/// After about this many written rows the WAL is copied back into the
/// database file (SQLite's own default is 1000 pages, a few thousand rows).
const CHECKPOINT_EVERY_WRITES: usize = 2000;

/// Checkpoints the WAL from a read connection whenever the writer asks,
/// while the writer goes on (a PASSIVE checkpoint never blocks writers or
/// readers). Ends with the writer. Driven by writes, not by a timer, so an
/// idle store does nothing.
async fn checkpoint_loop(mut asked: mpsc::Receiver<()>, reads: SqlitePool) {
    while asked.recv().await.is_some() {
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&reads).await {
            tracing::warn!(error = %e, "WAL checkpoint failed; the next one retries");
        }
    }
}

async fn write_loop(
    mut conn: SqliteConnection,
    mut rx: mpsc::Receiver<Command>,
    checkpoint: mpsc::Sender<()>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    let mut since_checkpoint = 0usize;
    while let Some(first) = rx.recv().await {
        let mut prune = None;
        match first {
            Command::Commit(w, ack) => group.push((w, ack)),
            Command::Prune(t, ack) => prune = Some((t, ack)),
        }
        while prune.is_none() && group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(Command::Commit(w, ack)) => group.push((w, ack)),
                Ok(Command::Prune(t, ack)) => prune = Some((t, ack)),
                Err(_) => break,
            }
        }
        if !group.is_empty() {
            since_checkpoint += group.iter().map(|(w, _)| w.len()).sum::<usize>();
            commit_group(&mut conn, &mut group).await;
            // A full channel means one is already asked for.
            if since_checkpoint >= CHECKPOINT_EVERY_WRITES && checkpoint.try_send(()).is_ok() {
                since_checkpoint = 0;
            }
        }
        if let Some((before, ack)) = prune {
            let _ = ack.send(prune_in(&mut conn, before).await);
        }
    }
}

async fn commit_group(conn: &mut SqliteConnection, group: &mut Vec<(Vec<Write>, Ack)>) {
    let all: Vec<&Write> = group.iter().flat_map(|(w, _)| w.iter()).collect();
    if apply(conn, &all).await.is_ok() {
        for (_, ack) in group.drain(..) {
            let _ = ack.send(Ok(()));
        }
        return;
    }
    // One batch spoiled the group: apply each alone so only it fails.
    for (writes, ack) in group.drain(..) {
        let refs: Vec<&Write> = writes.iter().collect();
        let _ = ack.send(apply(conn, &refs).await);
    }
}

/// Applies `writes` as one transaction sent to SQLite in *one* request:
/// `BEGIN; <multi-row statements>; COMMIT` with every value bound. sqlx
/// runs each request on its connection's own thread, so a transaction built
/// from separate `begin`/`execute`/`commit` calls would cost one thread
/// hand-off (two context switches) per statement; this costs one per group.
async fn apply(conn: &mut SqliteConnection, writes: &[&Write]) -> Result<(), StoreError> {
    let q = transaction_of(writes)?;
    // Small groups repeat a few shapes (a submit, an outcome): their
    // statements are kept prepared, so SQLite does not parse them again.
    // Large ones vary and are prepared afresh (a cached statement of
    // thousands of parameters would hold its memory for nothing).
    let keep = writes.len() <= KEEP_PREPARED_WRITES;
    run_transaction(conn, q, keep).await
}

/// The whole transaction of `writes` as one request.
fn transaction_of(writes: &[&Write]) -> Result<QueryBuilder<'static, Sqlite>, StoreError> {
    let mut q: QueryBuilder<'static, Sqlite> = QueryBuilder::new("BEGIN;");
    push_writes(&mut q, writes)?;
    q.push("COMMIT;");
    Ok(q)
}

async fn run_transaction(
    conn: &mut SqliteConnection,
    mut q: QueryBuilder<'static, Sqlite>,
    keep_prepared: bool,
) -> Result<(), StoreError> {
    let outcome = q.build().persistent(keep_prepared).execute(&mut *conn).await;
    if let Err(e) = outcome {
        // A failed statement leaves the transaction open: undo it (an error
        // here means no transaction was open, which is what we want).
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        return Err(classify(e));
    }
    Ok(())
}

/// Appends the statements of `writes` to `q`: one multi-row statement per
/// kind of write (jobs, events, terminal states, results), then the rare
/// ones one by one, each ending in `;`.
fn push_writes(q: &mut QueryBuilder<'static, Sqlite>, writes: &[&Write]) -> Result<(), StoreError> {
    let jobs: Vec<&StoredJob> = writes
        .iter()
        .filter_map(|w| if let Write::InsertJob(j) = w { Some(&**j) } else { None })
        .collect();
    let mut finishes: Vec<(&JobId, &TaskState, &SystemTime)> = writes
        .iter()
        .filter_map(|w| match w {
            Write::Finish { job_id, state, at } => Some((job_id, state, at)),
            _ => None,
        })
        .collect();
    // A job inserted and finished in the same transaction (a run done while
    // it was submitted) is inserted finished: its row is written once, by
    // one statement fewer.
    let mut inserted_finished: HashMap<&JobId, (&TaskState, &SystemTime)> = HashMap::new();
    if !jobs.is_empty() && !finishes.is_empty() {
        let inserted: HashSet<&JobId> = jobs.iter().map(|j| &j.id).collect();
        finishes.retain(|(id, state, at)| {
            let folded = inserted.contains(id);
            if folded {
                inserted_finished.insert(id, (state, at));
            }
            !folded
        });
    }
    for chunk in jobs.chunks(ROWS_PER_INSERT) {
        let specs = chunk
            .iter()
            .map(|j| serde_json::to_string(&j.spec))
            .collect::<Result<Vec<_>, _>>()
            .map_err(corrupt)?;
        q.push(
            "INSERT INTO jobs (id, tenant, trace_id, device, spec, idempotency_key, created_at, \
             recoveries, final_state, finished_at) ",
        );
        q.push_values(chunk.iter().zip(specs), |mut b, (j, spec)| {
            let (final_state, finished_at) = match inserted_finished.get(&j.id) {
                Some((state, at)) => (Some(**state), Some(**at)),
                None => (j.final_state, j.finished_at),
            };
            b.push_bind(j.id.0.clone())
                .push_bind(j.tenant.clone())
                .push_bind(j.trace_id.clone())
                .push_bind(j.spec.target.clone())
                .push_bind(spec)
                .push_bind(j.spec.idempotency_key.clone())
                .push_bind(to_micros(j.created_at))
                .push_bind(i64::from(j.recoveries))
                .push_bind(final_state.map(|s| s.as_str()))
                .push_bind(finished_at.map(to_micros));
        });
        q.push(";");
    }
    let events: Vec<&JobEvent> = writes
        .iter()
        .filter_map(|w| if let Write::Event(e) = w { Some(e) } else { None })
        .collect();
    for chunk in events.chunks(ROWS_PER_INSERT) {
        q.push("INSERT INTO events (job_id, seq, state, stage, progress, message, ts) ");
        q.push_values(chunk, |mut b, e| {
            b.push_bind(e.job_id.0.clone())
                .push_bind(i64::try_from(e.event_seq).unwrap_or(i64::MAX))
                .push_bind(e.state.as_str())
                .push_bind(e.stage.clone())
                .push_bind(e.progress)
                .push_bind(e.message.clone())
                .push_bind(to_micros(e.timestamp));
        });
        q.push(";");
    }
    // Terminal states and results: one multi-row statement each per group,
    // not one per job.
    for chunk in finishes.chunks(ROWS_PER_INSERT) {
        q.push("UPDATE jobs SET final_state = v.column2, finished_at = v.column3 FROM (");
        q.push_values(chunk, |mut b, (id, state, at)| {
            b.push_bind(id.0.clone()).push_bind(state.as_str()).push_bind(to_micros(**at));
        });
        q.push(") AS v WHERE jobs.id = v.column1;");
    }
    let results = writes
        .iter()
        .filter_map(|w| match w {
            Write::Results { job_id, results } => {
                Some(serde_json::to_string(results).map(|body| (job_id, body)))
            }
            _ => None,
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(corrupt)?;
    for chunk in results.chunks(ROWS_PER_INSERT) {
        q.push("INSERT OR REPLACE INTO results (job_id, body) ");
        q.push_values(chunk, |mut b, (id, body)| {
            b.push_bind(id.0.clone()).push_bind(body.clone());
        });
        q.push(";");
    }
    for w in writes {
        match w {
            Write::InsertJob(_)
            | Write::Event(_)
            | Write::Finish { .. }
            | Write::Results { .. } => {}
            Write::Recoveries { job_id, count } => {
                q.push("UPDATE jobs SET recoveries = ");
                q.push_bind(i64::from(*count));
                q.push(" WHERE id = ");
                q.push_bind(job_id.0.clone());
                q.push(";");
            }
            Write::PutReservation(r) => {
                q.push(
                    "INSERT OR REPLACE INTO reservations (id, tenant, device, purpose, expires_at) ",
                );
                q.push_values([r], |mut b, r| {
                    b.push_bind(r.id.clone())
                        .push_bind(r.tenant.clone())
                        .push_bind(r.device.clone())
                        .push_bind(r.purpose.clone())
                        .push_bind(to_micros(r.expires_at));
                });
                q.push(";");
            }
            Write::DeleteReservation(id) => {
                q.push("DELETE FROM reservations WHERE id = ");
                q.push_bind(id.clone());
                q.push(";");
            }
        }
    }
    Ok(())
}

async fn prune_in(
    conn: &mut SqliteConnection,
    before: SystemTime,
) -> Result<Vec<JobId>, StoreError> {
    let mut tx = conn.begin().await.map_err(classify)?;
    let cutoff = to_micros(before);
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ?")
            .bind(cutoff)
            .fetch_all(&mut *tx)
            .await
            .map_err(classify)?;
    for id in &ids {
        for sql in [
            "DELETE FROM events WHERE job_id = ?",
            "DELETE FROM results WHERE job_id = ?",
            "DELETE FROM jobs WHERE id = ?",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await.map_err(classify)?;
        }
    }
    tx.commit().await.map_err(classify)?;
    Ok(ids.into_iter().map(JobId).collect())
}

fn job_from_row(row: &SqliteRow) -> Result<StoredJob, StoreError> {
    let spec: String = row.try_get("spec").map_err(corrupt)?;
    let spec: SubmitJob = serde_json::from_str(&spec).map_err(corrupt)?;
    let final_state: Option<String> = row.try_get("final_state").map_err(corrupt)?;
    let final_state = match final_state {
        Some(s) => Some(TaskState::parse(&s).ok_or_else(|| corrupt(format!("state {s}")))?),
        None => None,
    };
    let finished_at: Option<i64> = row.try_get("finished_at").map_err(corrupt)?;
    let recoveries: i64 = row.try_get("recoveries").map_err(corrupt)?;
    Ok(StoredJob {
        id: JobId(row.try_get("id").map_err(corrupt)?),
        tenant: row.try_get("tenant").map_err(corrupt)?,
        trace_id: row.try_get("trace_id").map_err(corrupt)?,
        spec,
        created_at: from_micros(row.try_get("created_at").map_err(corrupt)?),
        recoveries: u32::try_from(recoveries).unwrap_or(u32::MAX),
        final_state,
        finished_at: finished_at.map(from_micros),
    })
}

fn event_from_row(row: &SqliteRow) -> Result<JobEvent, StoreError> {
    let state: String = row.try_get("state").map_err(corrupt)?;
    let state = TaskState::parse(&state).ok_or_else(|| corrupt(format!("state {state}")))?;
    let seq: i64 = row.try_get("seq").map_err(corrupt)?;
    Ok(JobEvent {
        job_id: JobId(row.try_get("job_id").map_err(corrupt)?),
        event_seq: u64::try_from(seq).map_err(corrupt)?,
        state,
        status: state.status(),
        stage: row.try_get("stage").map_err(corrupt)?,
        progress: row.try_get("progress").map_err(corrupt)?,
        message: row.try_get("message").map_err(corrupt)?,
        timestamp: from_micros(row.try_get("ts").map_err(corrupt)?),
    })
}

const JOB_COLUMNS: &str =
    "id, tenant, trace_id, spec, created_at, recoveries, final_state, finished_at";

#[async_trait]
impl JobStore for SqliteStore {
    async fn commit(&self, batch: Vec<Write>) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Commit(batch, tx)).await?;
        rx.await.map_err(|_| unavailable("the store writer has stopped"))?
    }

    async fn job(&self, id: &JobId) -> Result<Option<StoredJob>, StoreError> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"))
            .bind(&id.0)
            .fetch_optional(&self.reads)
            .await
            .map_err(classify)?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn unfinished_jobs(&self) -> Result<Vec<StoredJob>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE finished_at IS NULL ORDER BY created_at, id"
        ))
        .fetch_all(&self.reads)
        .await
        .map_err(classify)?;
        rows.iter().map(job_from_row).collect()
    }

    async fn events_after(
        &self,
        id: &JobId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<JobEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT job_id, seq, state, stage, progress, message, ts FROM events \
             WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(&id.0)
        .bind(i64::try_from(after_seq).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.reads)
        .await
        .map_err(classify)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn last_event(&self, id: &JobId) -> Result<Option<JobEvent>, StoreError> {
        let row = sqlx::query(
            "SELECT job_id, seq, state, stage, progress, message, ts FROM events \
             WHERE job_id = ? ORDER BY seq DESC LIMIT 1",
        )
        .bind(&id.0)
        .fetch_optional(&self.reads)
        .await
        .map_err(classify)?;
        row.as_ref().map(event_from_row).transpose()
    }

    async fn results(&self, id: &JobId) -> Result<Option<JobResults>, StoreError> {
        let body: Option<String> = sqlx::query_scalar("SELECT body FROM results WHERE job_id = ?")
            .bind(&id.0)
            .fetch_optional(&self.reads)
            .await
            .map_err(classify)?;
        body.map(|b| serde_json::from_str(&b).map_err(corrupt)).transpose()
    }

    async fn job_by_idempotency_key(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<JobId>, StoreError> {
        let id: Option<String> =
            sqlx::query_scalar("SELECT id FROM jobs WHERE tenant = ? AND idempotency_key = ?")
                .bind(tenant)
                .bind(key)
                .fetch_optional(&self.reads)
                .await
                .map_err(classify)?;
        Ok(id.map(JobId))
    }

    async fn reservations(&self) -> Result<Vec<ReservationRecord>, StoreError> {
        let rows = sqlx::query("SELECT id, tenant, device, purpose, expires_at FROM reservations")
            .fetch_all(&self.reads)
            .await
            .map_err(classify)?;
        rows.iter()
            .map(|r| {
                Ok(ReservationRecord {
                    id: r.try_get("id").map_err(corrupt)?,
                    tenant: r.try_get("tenant").map_err(corrupt)?,
                    device: r.try_get("device").map_err(corrupt)?,
                    purpose: r.try_get("purpose").map_err(corrupt)?,
                    expires_at: from_micros(r.try_get("expires_at").map_err(corrupt)?),
                })
            })
            .collect()
    }

    async fn prune_finished(&self, before: SystemTime) -> Result<Vec<JobId>, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Prune(before, tx)).await?;
        rx.await.map_err(|_| unavailable("the store writer has stopped"))?
    }
}

#[cfg(test)]
mod tests;
