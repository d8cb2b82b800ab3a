//! Work that must run to its end even when its caller goes away.
//!
//! Accepting a job is such work: once the batch is handed to the store the
//! job may be durable, so it must also be scheduled (or finished) in memory,
//! whether or not the RPC that asked for it is still waiting. Spawning that
//! work and awaiting its `JoinHandle` guarantees this but costs every submit
//! a task hand-off (and on a multi-threaded runtime often a wake-up of
//! another worker). [`FinishOnDrop`] runs the work on the caller's task and
//! spawns only what is left of it, and only if the caller is dropped first.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A future polled in place by its caller; dropped before it completes,
/// it hands the rest of the work to a task of its own on the current tokio
/// runtime (whose output is then discarded).
///
/// Dropped outside a runtime (only at process teardown), the rest of the
/// work is dropped too: there is nowhere left to run it.
pub(crate) struct FinishOnDrop<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    /// `None` once the work has completed.
    work: Option<Pin<Box<F>>>,
}

impl<F> FinishOnDrop<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    pub(crate) fn new(work: F) -> Self {
        Self { work: Some(Box::pin(work)) }
    }
}

impl<F> Future for FinishOnDrop<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let Some(work) = self.work.as_mut() else {
            // Polled again after it completed: a caller's bug, as with any
            // future; never resolves rather than panicking in the kernel.
            return Poll::Pending;
        };
        let out = work.as_mut().poll(cx);
        if out.is_ready() {
            self.work = None;
        }
        out
    }
}

impl<F> Drop for FinishOnDrop<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn drop(&mut self) {
        if let Some(rest) = self.work.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(rest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FinishOnDrop;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn completes_on_the_callers_task() {
        let caller = tokio::task::try_id();
        let out = FinishOnDrop::new(async move {
            assert_eq!(tokio::task::try_id(), caller, "ran on another task");
            7
        })
        .await;
        assert_eq!(out, 7);
    }

    #[tokio::test]
    async fn the_rest_runs_when_the_caller_is_dropped() {
        let (go, wait) = oneshot::channel::<()>();
        let (done_tx, done) = oneshot::channel();
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        let work = FinishOnDrop::new(async move {
            let _ = wait.await;
            flag.store(true, Ordering::SeqCst);
            let _ = done_tx.send(());
        });
        // The caller gives up while the work waits half-way.
        let gave_up = tokio::time::timeout(Duration::from_millis(1), work).await;
        assert!(gave_up.is_err());
        assert!(!finished.load(Ordering::SeqCst));
        go.send(()).unwrap();
        done.await.unwrap();
        assert!(finished.load(Ordering::SeqCst));
    }

    #[test]
    fn dropped_outside_a_runtime_drops_the_rest() {
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        drop(FinishOnDrop::new(async move { flag.store(true, Ordering::SeqCst) }));
        assert!(!ran.load(Ordering::SeqCst));
    }
}
