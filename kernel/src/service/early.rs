//! Running a short simulator job while it is being submitted.
//!
//! A job whose compiled program is known to run in microseconds on an idle
//! simulator (nobody waiting for a shared slot, one free, no dependencies,
//! no reservation, no short timeout) is run by `enqueue_job` itself, before
//! anything is committed; the job, its whole event log and its results
//! then go to the store in *one* transaction, and `enqueue_job` returns once
//! that is durable. So such a job costs one commit instead of two, and its
//! client finds it finished.
//!
//! Why every promise still holds:
//! - durable before OK: the transaction holding the job commits before
//!   `enqueue_job` returns; if it fails, the run is discarded (its outcome
//!   was neither committed nor published) and the client gets the error;
//! - nothing visible before it is durable: the job is not in the live set
//!   while it runs, and its events are published after the commit;
//! - ordered: the job and its outcome are one atomic transaction, so the
//!   outcome can never be stored without the job;
//! - no side effect before durability: only simulator devices run early
//!   (computation, no instruments), so a crash before the commit leaves no
//!   trace, and the client, which got no OK, made no promise either;
//! - fair: the run takes a shared slot only when no job waits for one.

use super::Inner;
use super::exec::{self, Verdict};
use super::live::{LiveJob, Prepared};
use crate::scheduler::Slot;
use eigen_hal::ErrorKind;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Runs `job` (not yet committed, not yet visible) at once on its device if
/// it may (see the module docs) and returns what the run came to, to be
/// committed with the job; `None` when it may not run early: it then takes
/// the usual path through its device's queue.
pub(super) async fn run_early(
    inner: &Arc<Inner>,
    job: &Arc<LiveJob>,
    prepared: &Arc<Prepared>,
) -> Option<Verdict> {
    let device = job.device();
    let entry = inner.devices.get(device)?;
    let eligible = !inner.is_stopped()
        && job.spec.dependencies.is_empty()
        && job.spec.reservation_id.is_none()
        && entry.accepting.load(Ordering::SeqCst)
        // A simulator (no side effects), a short run, no short timeout.
        && exec::runs_inline(inner, entry, job, prepared);
    if !eligible || !inner.sched().claim_idle(device) {
        return None;
    }
    let run = exec::run_inline(job, entry, prepared);
    match &run.result {
        Ok(Ok(_)) => prepared.history.record(run.device_time, job.spec.shots),
        Ok(Err(e)) if e.kind() == ErrorKind::Offline => {
            entry.accepting.store(false, Ordering::SeqCst);
        }
        _ => {}
    }
    let waiting = {
        let mut sched = inner.sched();
        sched.release(device, &Slot::Shared);
        sched.record_execution(device, run.took);
        sched.queue_length(device) > 0
    };
    if waiting {
        // A job queued while this one held the slot.
        inner.wake_device(device);
    }
    Some(exec::verdict(inner, job, prepared, run, Duration::ZERO).await)
}
