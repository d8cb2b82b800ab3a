//! Reservations: who holds which device slot until when, and the one task
//! that lets them lapse.
//!
//! The [`ReservationBook`] is the record; [`ReservationBook::run_expiry`] is
//! the only place a reservation ends. It sleeps until the earliest deadline
//! (on the tokio clock, so tests drive it with paused time), hands every
//! lapsed reservation to a callback, and wakes early when a new reservation
//! could lapse sooner.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::sync::Notify;
use tokio::time::Instant;

/// A held reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Its id.
    pub id: String,
    /// The tenant holding it.
    pub tenant: String,
    /// The device.
    pub device: String,
    /// Why it was taken.
    pub purpose: String,
    /// When it lapses, on the wall clock (for clients).
    pub expires_at: SystemTime,
    /// When it lapses, on the tokio clock (for the expiry task).
    pub deadline: Instant,
}

/// The reservations held now.
#[derive(Debug, Default)]
pub struct ReservationBook {
    held: Mutex<HashMap<String, Held>>,
    changed: Notify,
}

impl ReservationBook {
    /// An empty book.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        // A panic while holding the lock cannot leave the map half-updated:
        // every critical section is a single insert, remove or read.
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records `held`; the expiry task will end it at its deadline.
    pub fn insert(&self, held: Held) {
        self.lock().insert(held.id.clone(), held);
        self.changed.notify_one();
    }

    /// The reservation `id`, if held.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<Held> {
        self.lock().get(id).cloned()
    }

    /// How many reservations `tenant` holds.
    #[must_use]
    pub fn count_for(&self, tenant: &str) -> usize {
        self.lock().values().filter(|h| h.tenant == tenant).count()
    }

    /// Ends every reservation whose deadline has passed, returning them.
    pub fn take_lapsed(&self, now: Instant) -> Vec<Held> {
        let mut held = self.lock();
        let lapsed: Vec<String> =
            held.values().filter(|h| h.deadline <= now).map(|h| h.id.clone()).collect();
        lapsed.iter().filter_map(|id| held.remove(id)).collect()
    }

    fn earliest(&self) -> Option<Instant> {
        self.lock().values().map(|h| h.deadline).min()
    }

    /// The expiry task: runs until the book is dropped by everyone else,
    /// calling `on_lapse` with each reservation as it lapses.
    pub async fn run_expiry(self: Arc<Self>, on_lapse: impl Fn(Held) + Send + Sync + 'static) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            for held in self.take_lapsed(Instant::now()) {
                on_lapse(held);
            }
            if Arc::strong_count(&self) == 1 {
                return;
            }
            match self.earliest() {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = &mut changed => {}
                    }
                }
                None => {
                    // Re-check now and then so the task ends once the kernel
                    // drops the book.
                    tokio::select! {
                        () = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
                        () = &mut changed => {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn held(id: &str, tenant: &str, ttl: Duration) -> Held {
        Held {
            id: id.into(),
            tenant: tenant.into(),
            device: "sim".into(),
            purpose: "test".into(),
            expires_at: SystemTime::now() + ttl,
            deadline: Instant::now() + ttl,
        }
    }

    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn reservations_lapse_exactly_at_their_ttl() {
        let book = Arc::new(ReservationBook::new());
        let lapsed = Arc::new(Mutex::new(Vec::new()));
        let sink = lapsed.clone();
        let task = tokio::spawn(book.clone().run_expiry(move |h| sink.lock().unwrap().push(h.id)));
        book.insert(held("long", "acme", Duration::from_secs(120)));
        settle().await;
        book.insert(held("short", "acme", Duration::from_secs(60)));
        settle().await;
        assert_eq!(book.count_for("acme"), 2);

        tokio::time::advance(Duration::from_secs(59)).await;
        settle().await;
        assert!(lapsed.lock().unwrap().is_empty(), "nothing lapses before its TTL");
        assert!(book.get("short").is_some());

        tokio::time::advance(Duration::from_secs(2)).await;
        settle().await;
        assert_eq!(*lapsed.lock().unwrap(), ["short"]);
        assert!(book.get("short").is_none());
        assert_eq!(book.count_for("acme"), 1);

        tokio::time::advance(Duration::from_secs(60)).await;
        settle().await;
        assert_eq!(*lapsed.lock().unwrap(), ["short", "long"]);
        assert_eq!(book.count_for("acme"), 0);
        drop(book);
        tokio::time::advance(Duration::from_secs(61)).await;
        settle().await;
        assert!(task.is_finished(), "the expiry task ends with the book");
    }

    #[tokio::test(start_paused = true)]
    async fn a_sooner_reservation_wakes_the_task_early() {
        let book = Arc::new(ReservationBook::new());
        let lapsed = Arc::new(Mutex::new(Vec::new()));
        let sink = lapsed.clone();
        tokio::spawn(book.clone().run_expiry(move |h| sink.lock().unwrap().push(h.id)));
        book.insert(held("hour", "a", Duration::from_secs(3600)));
        settle().await;
        book.insert(held("second", "b", Duration::from_secs(1)));
        settle().await;
        tokio::time::advance(Duration::from_millis(1001)).await;
        settle().await;
        assert_eq!(*lapsed.lock().unwrap(), ["second"]);
        assert_eq!(book.count_for("a"), 1);
    }
}
