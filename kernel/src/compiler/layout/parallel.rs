//! Sharing a compile's independent work items (layout trials, routing
//! attempts) with one helper thread.
//!
//! The process has at most one helper thread, started on first use when
//! the machine has a second core, and kept for the life of the process: a
//! compile neither spawns a thread nor waits for one to start. The calling
//! thread always works through the items itself; the helper, when it is
//! free and scheduled, takes some of them. Compiles that run at the same
//! time share the one helper (each offer waits in a short queue; a full
//! queue means no help), so compiling never adds more than one thread
//! however many jobs compile at once.
//!
//! Contract: [`run_indexed`] returns `work(i)` for every `i` in order, the
//! same whichever thread ran which item.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::Duration;

/// Offers waiting for the helper beyond which new offers are dropped (the
/// helper is busy; their callers just do the work themselves).
const MAX_QUEUED: usize = 2;

/// How long a caller waits for an item the helper took before running it
/// itself (only an item whose thread was lost can take this long; a
/// panicking item reports at once).
const PATIENCE: Duration = Duration::from_secs(10);

type Task = Box<dyn FnOnce() + Send>;

/// The helper thread's queue of offers.
struct Helper {
    tasks: Mutex<VecDeque<Task>>,
    wake: Condvar,
}

/// The helper, or `None` on a single core or when it could not start.
fn helper() -> Option<&'static Arc<Helper>> {
    static HELPER: OnceLock<Option<Arc<Helper>>> = OnceLock::new();
    HELPER
        .get_or_init(|| {
            // Read once: on Linux each call reads cgroup files (about 2%
            // of a level-2 QFT compile when read per compile).
            let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
            if cores < 2 {
                return None;
            }
            let helper =
                Arc::new(Helper { tasks: Mutex::new(VecDeque::new()), wake: Condvar::new() });
            let own = Arc::clone(&helper);
            // A failed spawn (out of threads) only means no help.
            std::thread::Builder::new()
                .name("eigen-compile-helper".into())
                .spawn(move || serve(&own))
                .ok()
                .map(|_| helper)
        })
        .as_ref()
}

/// The helper thread: runs offers one after another, forever.
fn serve(helper: &Helper) {
    loop {
        let task = {
            let mut tasks = helper.tasks.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if let Some(t) = tasks.pop_front() {
                    break t;
                }
                tasks = helper.wake.wait(tasks).unwrap_or_else(PoisonError::into_inner);
            }
        };
        // A panicking item is reported by its guard (see `Batch::drain`);
        // the helper lives on for the next offer.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(task));
    }
}

/// Offers `task` to the helper; false when there is none or it is busy.
fn offer(task: Task) -> bool {
    let Some(helper) = helper() else { return false };
    let mut tasks = helper.tasks.lock().unwrap_or_else(PoisonError::into_inner);
    if tasks.len() >= MAX_QUEUED {
        return false;
    }
    tasks.push_back(task);
    drop(tasks);
    helper.wake.notify_one();
    true
}

/// One call's items.
struct Batch<C, S, T> {
    ctx: C,
    count: usize,
    work: fn(&C, &mut S, usize) -> T,
    /// The next item not yet taken.
    next: AtomicUsize,
    /// Finished items, and items abandoned by a panic (`None`).
    done: Mutex<Vec<(usize, Option<T>)>>,
    finished: Condvar,
}

/// Reports an item abandoned when its thread unwinds.
struct Guard<'a, C, S, T> {
    batch: &'a Batch<C, S, T>,
    item: usize,
    armed: bool,
}

impl<C, S, T> Drop for Guard<'_, C, S, T> {
    fn drop(&mut self) {
        if self.armed {
            self.batch.report(self.item, None);
        }
    }
}

impl<C, S, T> Batch<C, S, T> {
    fn report(&self, item: usize, result: Option<T>) {
        let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        done.push((item, result));
        drop(done);
        self.finished.notify_all();
    }
}

impl<C, S: Default, T> Batch<C, S, T> {
    /// Takes and runs items until none is left, with one `S` for all.
    fn drain(&self) {
        let mut state = S::default();
        loop {
            let item = self.next.fetch_add(1, Ordering::Relaxed);
            if item >= self.count {
                return;
            }
            let mut guard = Guard { batch: self, item, armed: true };
            let result = (self.work)(&self.ctx, &mut state, item);
            guard.armed = false;
            self.report(item, Some(result));
        }
    }
}

/// Runs `work(ctx, state, i)` for every `i` in `0..count` and returns the
/// results in order. Each thread passes the same `state` (made with
/// `S::default()`) to all the items it runs, e.g. working memory.
///
/// The calling thread takes items one by one; the helper thread, when there
/// is one and it is free, takes them too. The caller never waits for the
/// helper to start: on a busy machine the caller simply runs every item,
/// and the helper finds none left when it gets to the offer. The caller
/// waits only for items the helper has already taken.
pub(crate) fn run_indexed<C, S, T>(ctx: C, count: usize, work: fn(&C, &mut S, usize) -> T) -> Vec<T>
where
    C: Send + Sync + 'static,
    S: Default + 'static,
    T: Send + 'static,
{
    let batch = Arc::new(Batch {
        ctx,
        count,
        work,
        next: AtomicUsize::new(0),
        done: Mutex::new(Vec::with_capacity(count)),
        finished: Condvar::new(),
    });
    if count > 1 {
        let shared = Arc::clone(&batch);
        offer(Box::new(move || shared.drain()));
    }
    batch.drain();
    let mut done = batch.done.lock().unwrap_or_else(PoisonError::into_inner);
    let mut waited = Duration::ZERO;
    while done.len() < count && waited < PATIENCE {
        let step = Duration::from_millis(50);
        done = batch.finished.wait_timeout(done, step).unwrap_or_else(PoisonError::into_inner).0;
        waited += step;
    }
    let mut slots: Vec<Option<T>> = std::iter::repeat_with(|| None).take(count).collect();
    for (item, result) in done.drain(..) {
        slots[item] = result;
    }
    drop(done);
    // Items lost with the helper (a panic, or patience run out) run here.
    let mut state = S::default();
    slots
        .into_iter()
        .enumerate()
        .map(|(item, slot)| slot.unwrap_or_else(|| (batch.work)(&batch.ctx, &mut state, item)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_once_in_order() {
        let ctx: Vec<u64> = (0..50).collect();
        let got = run_indexed(ctx, 50, |c: &Vec<u64>, calls: &mut u32, i| {
            *calls += 1;
            c[i] * c[i]
        });
        assert_eq!(got, (0..50u64).map(|i| i * i).collect::<Vec<_>>());
    }

    #[test]
    fn concurrent_callers_all_finish() {
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                std::thread::spawn(move || {
                    run_indexed(t, 20, |&t: &u64, (): &mut (), i| t * 100 + i as u64)
                })
            })
            .collect();
        for (t, h) in threads.into_iter().enumerate() {
            let got = h.join().expect("no panic");
            assert_eq!(got, (0..20).map(|i| t as u64 * 100 + i).collect::<Vec<_>>());
        }
    }
}
