//! Reads: a small pool of connections of their own, used on the runtime's
//! blocking threads (WAL lets them read beside the writer, each from the
//! last committed state), and the decoding of rows.
//!
//! Reads are off the hot path of a job (a recent job is answered from the
//! kernel's memory), so each costs one hand-off to a blocking thread and
//! back; a connection is opened when none is idle and kept afterwards, up to
//! [`MAX_IDLE`].

use super::super::{ReservationRecord, StoreError, StoreErrorKind, StoredJob, from_micros};
use super::SyncMode;
use super::schema::{connect, unavailable};
use super::writer::classify;
use crate::gateway::{JobEvent, SubmitJob};
use crate::job::{JobId, TaskState};
use rusqlite::{Connection, Params, Row};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

/// Idle read connections kept open.
const MAX_IDLE: usize = 4;

/// The read side of the store. Cheap to share.
#[derive(Debug)]
pub(super) struct Reads {
    path: PathBuf,
    sync: SyncMode,
    idle: Mutex<Vec<Connection>>,
}

impl Reads {
    /// A pool for the database at `path`, holding `first` (already open).
    pub(super) fn new(path: PathBuf, sync: SyncMode, first: Connection) -> Arc<Self> {
        Arc::new(Self { path, sync, idle: Mutex::new(vec![first]) })
    }

    /// Runs `f` on a read connection on a blocking thread.
    pub(super) async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            // The list holds whole connections only: a panic elsewhere
            // cannot leave it half changed.
            let idle = me.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let conn = match idle {
                Some(c) => c,
                None => connect(&me.path, me.sync)?,
            };
            let out = f(&conn);
            let mut idle = me.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
            out
        })
        .await
        .map_err(|e| unavailable(format!("a store read did not finish: {e}")))?
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(StoreErrorKind::Corrupt, e.to_string())
}

/// Every row `sql` yields for `params`, each decoded by `decode`.
pub(super) fn query<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(classify)?;
    let mut rows = stmt.query(params).map_err(classify)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(classify)? {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// The columns [`job_from_row`] reads, in its order.
pub(super) const JOB_COLUMNS: &str =
    "id, tenant, trace_id, spec, created_at, recoveries, final_state, finished_at";

/// The columns [`event_from_row`] reads, in its order.
pub(super) const EVENT_COLUMNS: &str = "job_id, seq, state, stage, progress, message, ts";

/// [`EVENT_COLUMNS`] from an entry `e` of a job's inline log (migration
/// 0002: `[seq, state, stage, progress, message, ts]`).
pub(super) const INLINE_EVENT_COLUMNS: &str = "jobs.id, e.value ->> 0, e.value ->> 1, \
     e.value ->> 2, e.value ->> 3, e.value ->> 4, e.value ->> 5";

fn state(name: &str) -> Result<TaskState, StoreError> {
    TaskState::parse(name).ok_or_else(|| corrupt(format!("state {name}")))
}

/// A job from a row of [`JOB_COLUMNS`].
pub(super) fn job_from_row(row: &Row<'_>) -> Result<StoredJob, StoreError> {
    let spec: String = row.get(3).map_err(corrupt)?;
    let spec: SubmitJob = serde_json::from_str(&spec).map_err(corrupt)?;
    let final_state: Option<String> = row.get(6).map_err(corrupt)?;
    let finished_at: Option<i64> = row.get(7).map_err(corrupt)?;
    let recoveries: i64 = row.get(5).map_err(corrupt)?;
    Ok(StoredJob {
        id: JobId(row.get(0).map_err(corrupt)?),
        tenant: row.get(1).map_err(corrupt)?,
        trace_id: row.get(2).map_err(corrupt)?,
        spec,
        created_at: from_micros(row.get(4).map_err(corrupt)?),
        recoveries: u32::try_from(recoveries).unwrap_or(u32::MAX),
        final_state: final_state.as_deref().map(state).transpose()?,
        finished_at: finished_at.map(from_micros),
    })
}

/// An event from a row of [`EVENT_COLUMNS`].
pub(super) fn event_from_row(row: &Row<'_>) -> Result<JobEvent, StoreError> {
    let state = state(&row.get::<_, String>(2).map_err(corrupt)?)?;
    let seq: i64 = row.get(1).map_err(corrupt)?;
    Ok(JobEvent {
        job_id: JobId(row.get(0).map_err(corrupt)?),
        event_seq: u64::try_from(seq).map_err(corrupt)?,
        state,
        status: state.status(),
        stage: row.get(3).map_err(corrupt)?,
        progress: row.get(4).map_err(corrupt)?,
        message: row.get(5).map_err(corrupt)?,
        timestamp: from_micros(row.get(6).map_err(corrupt)?),
    })
}

/// A reservation from a row of `id, tenant, device, purpose, expires_at`.
pub(super) fn reservation_from_row(row: &Row<'_>) -> Result<ReservationRecord, StoreError> {
    Ok(ReservationRecord {
        id: row.get(0).map_err(corrupt)?,
        tenant: row.get(1).map_err(corrupt)?,
        device: row.get(2).map_err(corrupt)?,
        purpose: row.get(3).map_err(corrupt)?,
        expires_at: from_micros(row.get(4).map_err(corrupt)?),
    })
}

/// A text column, for a results body or an id.
pub(super) fn text(row: &Row<'_>) -> Result<String, StoreError> {
    row.get(0).map_err(corrupt)
}

/// Decodes a stored results body.
pub(super) fn decode_results(body: &str) -> Result<crate::gateway::JobResults, StoreError> {
    serde_json::from_str(body).map_err(corrupt)
}
