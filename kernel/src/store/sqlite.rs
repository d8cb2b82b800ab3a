//! [`SqliteStore`]: the embedded default [`JobStore`], one SQLite file in
//! WAL mode under the data directory.
//!
//! Writes go through one writer thread that owns the only write connection
//! and applies *group commits*: every batch that arrived while the previous
//! transaction was committing goes into the next transaction, so a thousand
//! concurrent submits cost a handful of commits, not a thousand. Each caller
//! is answered after the transaction holding its batch committed; a batch
//! that fails (say, a duplicate idempotency key) fails alone, since each
//! batch of a group runs in a savepoint of its own (see [`writer`]). The
//! writer drives SQLite directly on its own thread, so a group costs one
//! hand-off in and one out however many statements it runs.
//!
//! Durability is [`SyncMode`]'s: a commit is in the operating system's
//! hands when it is acknowledged (`synchronous=NORMAL` in WAL), or on disk
//! (`synchronous=FULL`). Either way a crash or `kill -9` loses no
//! acknowledged commit and never leaves half a transaction: SQLite's WAL
//! makes each commit atomic.
//!
//! Reads use a small pool of their own connections on the runtime's
//! blocking threads (see [`reads`]). The WAL is checkpointed by a third
//! connection on a thread of its own, beside the writer.
//!
//! Layout: `jobs`, `events (job_id, seq)`, `results`, `reservations`
//! (`migrations/`). A job that finished in the batch that inserted it keeps
//! its event log and results in its own `jobs` row instead (migration 0002:
//! one row written instead of rows in four b-trees, about half the WAL
//! pages of such a commit); the reads of events and results fall back to
//! that row.

mod reads;
mod schema;
mod writer;

use super::{JobStore, ReservationRecord, StoreError, StoredJob, Write};
use crate::gateway::{JobEvent, JobResults};
use crate::job::JobId;
use async_trait::async_trait;
use reads::{EVENT_COLUMNS, INLINE_EVENT_COLUMNS, JOB_COLUMNS, Reads, query};
use rusqlite::params;
use schema::unavailable;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::{mpsc, oneshot};
use writer::Command;

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

/// Batches waiting for the writer before callers wait to hand theirs in.
const QUEUED_COMMANDS: usize = 16_384;

/// The SQLite job store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Arc<writer::Writer>,
    queue: mpsc::Sender<Command>,
    reads: Arc<Reads>,
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/eigen.db`, brings its schema up to
    /// date and starts the writer. Must be called inside a tokio runtime.
    pub async fn open(dir: &Path, sync: SyncMode) -> Result<Self, StoreError> {
        let dir = dir.to_owned();
        let (alive, guard) = writer::RuntimeAlive::new();
        let (exited, writer_gone) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _guard = guard;
            let _ = writer_gone.await;
        });
        tokio::task::spawn_blocking(move || Self::open_blocking(&dir, sync, alive, exited))
            .await
            .map_err(|e| unavailable(format!("opening the job store did not finish: {e}")))?
    }

    fn open_blocking(
        dir: &Path,
        sync: SyncMode,
        alive: writer::RuntimeAlive,
        exited: oneshot::Sender<()>,
    ) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| unavailable(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("eigen.db");
        let mut conn = schema::connect(&path, sync)?;
        schema::migrate(&mut conn)?;
        let reads = Reads::new(path.clone(), sync, schema::connect(&path, sync)?);
        let checkpoints = schema::connect(&path, sync)?;
        let (queue, rx) = mpsc::channel(QUEUED_COMMANDS);
        let inline = sync == SyncMode::Process;
        let writer = writer::spawn(conn, checkpoints, rx, alive, inline, exited)?;
        Ok(Self { writer, queue, reads })
    }

    async fn ask<T>(
        &self,
        cmd: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Command,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        let stopped = || unavailable("the store writer has stopped");
        self.writer.queued();
        if self.queue.send(cmd(tx)).await.is_err() {
            self.writer.unqueued();
            return Err(stopped());
        }
        rx.await.map_err(|_| stopped())?
    }
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn commit(&self, batch: Vec<Write>) -> Result<(), StoreError> {
        match self.writer.try_commit(batch) {
            Ok((outcome, tail_due)) => {
                if tail_due {
                    // Best effort: a full queue means a busy writer, and
                    // the next sweep asks again.
                    self.writer.queued();
                    if self.queue.try_send(Command::CheckpointTail).is_err() {
                        self.writer.unqueued();
                    }
                }
                outcome
            }
            Err(batch) => self.ask(|ack| Command::Commit(batch, ack)).await,
        }
    }

    async fn job(&self, id: &JobId) -> Result<Option<StoredJob>, StoreError> {
        let id = id.0.clone();
        self.reads
            .run(move |c| {
                let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1");
                Ok(query(c, &sql, params![id], reads::job_from_row)?.pop())
            })
            .await
    }

    async fn unfinished_jobs(&self) -> Result<Vec<StoredJob>, StoreError> {
        self.reads
            .run(|c| {
                let sql = format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE finished_at IS NULL \
                     ORDER BY created_at, id"
                );
                query(c, &sql, [], reads::job_from_row)
            })
            .await
    }

    async fn events_after(
        &self,
        id: &JobId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<JobEvent>, StoreError> {
        let id = id.0.clone();
        let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
        self.reads
            .run(move |c| {
                let sql = format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE job_id = ?1 AND seq > ?2 \
                     ORDER BY seq LIMIT ?3"
                );
                let args = params![id, after, i64::from(limit)];
                let rows = query(c, &sql, args, reads::event_from_row)?;
                if !rows.is_empty() {
                    return Ok(rows);
                }
                // A job finished at insert keeps its log in its row.
                let sql = format!(
                    "SELECT {INLINE_EVENT_COLUMNS} FROM jobs, json_each(jobs.log) AS e \
                     WHERE jobs.id = ?1 AND jobs.log IS NOT NULL AND e.value ->> 0 > ?2 \
                     ORDER BY e.value ->> 0 LIMIT ?3"
                );
                query(c, &sql, args, reads::event_from_row)
            })
            .await
    }

    async fn last_event(&self, id: &JobId) -> Result<Option<JobEvent>, StoreError> {
        let id = id.0.clone();
        self.reads
            .run(move |c| {
                let sql = format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE job_id = ?1 \
                     ORDER BY seq DESC LIMIT 1"
                );
                if let Some(last) = query(c, &sql, params![id], reads::event_from_row)?.pop() {
                    return Ok(Some(last));
                }
                let sql = format!(
                    "SELECT {INLINE_EVENT_COLUMNS} FROM jobs, json_each(jobs.log) AS e \
                     WHERE jobs.id = ?1 AND jobs.log IS NOT NULL \
                     ORDER BY e.value ->> 0 DESC LIMIT 1"
                );
                Ok(query(c, &sql, params![id], reads::event_from_row)?.pop())
            })
            .await
    }

    async fn results(&self, id: &JobId) -> Result<Option<JobResults>, StoreError> {
        let id = id.0.clone();
        self.reads
            .run(move |c| {
                let body = query(
                    c,
                    "SELECT body FROM results WHERE job_id = ?1 UNION ALL \
                     SELECT results FROM jobs WHERE id = ?1 AND results IS NOT NULL",
                    params![id],
                    reads::text,
                )?;
                body.first().map(|b| reads::decode_results(b)).transpose()
            })
            .await
    }

    async fn job_by_idempotency_key(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<JobId>, StoreError> {
        let (tenant, key) = (tenant.to_owned(), key.to_owned());
        self.reads
            .run(move |c| {
                let ids = query(
                    c,
                    "SELECT id FROM jobs WHERE tenant = ?1 AND idempotency_key = ?2",
                    params![tenant, key],
                    reads::text,
                )?;
                Ok(ids.into_iter().next().map(JobId))
            })
            .await
    }

    async fn reservations(&self) -> Result<Vec<ReservationRecord>, StoreError> {
        self.reads
            .run(|c| {
                query(
                    c,
                    "SELECT id, tenant, device, purpose, expires_at FROM reservations",
                    [],
                    reads::reservation_from_row,
                )
            })
            .await
    }

    async fn prune_finished(&self, before: SystemTime) -> Result<Vec<JobId>, StoreError> {
        self.ask(|ack| Command::Prune(before, ack)).await
    }
}

#[cfg(test)]
mod tests;
