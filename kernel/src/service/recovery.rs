//! Start-up recovery, reservation expiry and retention pruning.
//!
//! Recovery makes sure no accepted job is lost or stuck: every job without
//! a terminal state is brought back to Queued (recompiling it from the
//! program as submitted) and scheduled. A job whose execution a restart
//! interrupted is re-queued once; interrupted again, it ends ERROR. (A run
//! short enough to execute inline commits nothing before it ends, see
//! `exec`: a restart during one finds its job Queued and runs it again.)

use super::Inner;
use super::live::{Change, LiveJob};
use super::submit::prepare;
use crate::job::{ExecStage, TaskState};
use crate::reservations::Held;
use crate::store::{StoredJob, Write};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

pub(crate) async fn recover(inner: &Arc<Inner>) -> Result<(), crate::gateway::KernelError> {
    let unavailable =
        |e: crate::store::StoreError| crate::gateway::KernelError::Unavailable(e.to_string());
    let now = SystemTime::now();
    for r in inner.store.reservations().await.map_err(unavailable)? {
        let left = r.expires_at.duration_since(now).unwrap_or(Duration::ZERO);
        if left.is_zero() || inner.sched().reserve(&r.device, &r.id).is_err() {
            inner.store.commit(vec![Write::DeleteReservation(r.id)]).await.map_err(unavailable)?;
            continue;
        }
        inner.book.insert(Held {
            id: r.id,
            tenant: r.tenant,
            device: r.device,
            purpose: r.purpose,
            expires_at: r.expires_at,
            deadline: tokio::time::Instant::now() + left,
        });
    }
    let jobs = inner.store.unfinished_jobs().await.map_err(unavailable)?;
    if !jobs.is_empty() {
        tracing::info!(jobs = jobs.len(), "recovering unfinished jobs");
    }
    let mut ready = Vec::with_capacity(jobs.len());
    for stored in jobs {
        if let Some(job) = recover_job(inner, stored).await? {
            ready.push(job);
        }
    }
    for job in ready {
        inner.schedule(&job).await;
    }
    Ok(())
}

async fn recover_job(
    inner: &Arc<Inner>,
    stored: StoredJob,
) -> Result<Option<Arc<LiveJob>>, crate::gateway::KernelError> {
    let unavailable =
        |e: crate::store::StoreError| crate::gateway::KernelError::Unavailable(e.to_string());
    let last = inner.store.last_event(&stored.id).await.map_err(unavailable)?;
    let (state, seq) = last.map_or((TaskState::Pending, 0), |e| (e.state, e.event_seq));
    let job = Arc::new(LiveJob::new(
        stored.id.clone(),
        stored.tenant.clone(),
        stored.trace_id.clone(),
        stored.spec.clone(),
        stored.created_at,
        state,
        seq,
    ));
    job.recoveries.store(stored.recoveries, Ordering::SeqCst);
    // Count it against the tenant's quota if it is waiting (a move from a
    // non-waiting state into `state`).
    inner.count_waiting(&job.tenant, TaskState::Executing(ExecStage::Run), state);
    inner.live_insert(job.clone());
    let fail = |msg: String| {
        let (inner, job) = (inner.clone(), job.clone());
        async move { inner.emit(&job, Change::To(TaskState::Failed), None, msg, vec![]).await }
    };
    if seq == 0 {
        // Accepted without its first event cannot happen (they are one
        // write); treat it as a fresh job all the same.
        tracing::warn!(parent: &job.span, "job had no events; recovering from Pending");
    }
    let Some(entry) = inner.devices.get(job.device()) else {
        fail(format!("device {} is no longer configured", job.device())).await?;
        return Ok(None);
    };
    match prepare(&inner.compile_cache, &job.spec, &entry.target).await {
        Ok(p) => {
            let _ = job.prepared.set(Arc::new(p));
        }
        Err(e) => {
            fail(format!("the program no longer compiles after a restart: {e}")).await?;
            return Ok(None);
        }
    }
    let requeue = "re-queued after a kernel restart";
    match state {
        TaskState::Pending | TaskState::Validating | TaskState::Compiling => {
            for next in [TaskState::Validating, TaskState::Compiling, TaskState::Queued] {
                if job.state().transition(next).is_ok() {
                    inner.emit(&job, Change::To(next), None, "", vec![]).await?;
                }
            }
        }
        TaskState::Queued => {}
        TaskState::Allocating => {
            inner.emit(&job, Change::To(TaskState::Queued), None, requeue, vec![]).await?;
        }
        TaskState::Executing(_) => {
            if stored.recoveries >= 1 {
                let msg = "execution interrupted by a kernel restart twice; not retried again";
                fail(msg.to_string()).await?;
                return Ok(None);
            }
            let count = stored.recoveries + 1;
            job.recoveries.store(count, Ordering::SeqCst);
            let extra = vec![Write::Recoveries { job_id: job.id.clone(), count }];
            let msg = "execution interrupted by a kernel restart; re-queued once";
            inner.emit(&job, Change::To(TaskState::Queued), None, msg, extra).await?;
        }
        _ => {
            // Terminal in the log but not marked finished: the Finish write
            // is in the same batch as the terminal event, so this is a store
            // written by something else. Leave the log as it is.
            return Ok(None);
        }
    }
    Ok(Some(job))
}

/// The reservation expiry task: the only place reservations end.
pub(crate) fn expiry_task(inner: &Arc<Inner>) -> impl std::future::Future<Output = ()> + use<> {
    let weak = Arc::downgrade(inner);
    inner.book.clone().run_expiry(move |held| {
        let Some(me) = weak.upgrade() else { return };
        tracing::info!(reservation = %held.id, device = %held.device, "reservation lapsed");
        let orphans = me.sched().unreserve(&held.device, &held.id);
        me.wake_device(&held.device);
        tokio::spawn(async move {
            if let Err(e) = me.store.commit(vec![Write::DeleteReservation(held.id.clone())]).await {
                tracing::warn!(error = %e, "cannot delete a lapsed reservation");
            }
            for q in orphans {
                if let Some(job) = me.live_get(&q.id) {
                    let msg = format!("reservation {} lapsed before the job ran", held.id);
                    let _ = me.emit(&job, Change::To(TaskState::Failed), None, msg, vec![]).await;
                }
            }
        });
    })
}

/// Prunes finished jobs and their artifacts older than the retention.
pub(crate) async fn prune_loop(inner: Weak<Inner>) {
    let Some(me) = inner.upgrade() else { return };
    let mut tick = tokio::time::interval(me.config.prune_interval);
    drop(me);
    loop {
        tick.tick().await;
        let Some(me) = inner.upgrade() else { return };
        if let Err(e) = prune_once(&me).await {
            tracing::warn!(error = %e, "pruning finished jobs failed");
        }
    }
}

pub(crate) async fn prune_once(inner: &Inner) -> Result<usize, crate::store::StoreError> {
    let before = SystemTime::now() - inner.config.retention;
    let pruned = inner.store.prune_finished(before).await?;
    for id in &pruned {
        inner.artifacts.remove_job(id);
        inner.forget_finished(id);
    }
    if !pruned.is_empty() {
        tracing::info!(jobs = pruned.len(), "pruned finished jobs past retention");
    }
    Ok(pruned.len())
}
