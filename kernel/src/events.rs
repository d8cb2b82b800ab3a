//! Job events: the in-memory tail of a live job's log, its subscribers, and
//! the resumable stream a client reads.
//!
//! Every event is in the store before it is published here, so a
//! subscriber can always fill a gap from the store. The reverse does not
//! hold: a job's next events may be durable a moment before they are
//! published (and before the job's status moves with them), so a stream
//! reads from the store only up to the last event published, and never
//! shows a client a DONE that the job's status does not show yet. Publishing never waits:
//! each subscriber has a small bounded buffer, and one that is full is
//! dropped from the live list; its stream notices (its channel closes
//! without a terminal event) and catches up from the tail or the store after
//! the last sequence number it delivered, then goes live again. So a stalled
//! client costs the kernel nothing but its buffer, and 10,000 open streams
//! cost 10,000 small buffers.

use crate::gateway::JobEvent;
use crate::job::JobId;
use async_trait::async_trait;
use futures::stream::BoxStream;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Events kept in memory per live job (older ones are read from the store).
pub const TAIL_LEN: usize = 32;
/// Events buffered per subscriber before it is moved to catch-up.
pub const SUBSCRIBER_BUFFER: usize = 16;
/// Events read from the store per page.
const STORE_PAGE: u32 = 256;

/// The published log of one live job: its recent tail and its subscribers.
#[derive(Debug, Default)]
pub struct EventLog {
    tail: VecDeque<JobEvent>,
    last_seq: u64,
    subscribers: Vec<mpsc::Sender<JobEvent>>,
}

/// What a subscriber gets when it attaches to a job.
#[derive(Debug)]
pub enum Attach {
    /// The events after its sequence number, then (unless the job is
    /// finished) a live channel.
    Live {
        /// Events already published after the asked sequence number.
        backlog: Vec<JobEvent>,
        /// Live events, `None` when the job is finished.
        live: Option<mpsc::Receiver<JobEvent>>,
    },
    /// Older events than the tail holds are needed: read the store first,
    /// up to and including `upto` (the last event published; later ones
    /// come from a fresh attach).
    FromStore {
        /// The last sequence number the store may be read up to.
        upto: u64,
    },
}

impl EventLog {
    /// A log whose events up to `last_seq` are in the store only.
    #[must_use]
    pub fn resumed(last_seq: u64) -> Self {
        Self { tail: VecDeque::new(), last_seq, subscribers: Vec::new() }
    }

    /// The last published sequence number.
    #[must_use]
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Publishes the next event (already durable). Never waits.
    pub fn publish(&mut self, event: JobEvent) {
        debug_assert_eq!(event.event_seq, self.last_seq + 1, "events are gapless");
        self.last_seq = event.event_seq;
        let terminal = event.state.is_terminal();
        self.subscribers.retain(|s| s.try_send(event.clone()).is_ok());
        if terminal {
            // Streams end after the terminal event: closing the channels
            // tells them so once they drained it.
            self.subscribers.clear();
        }
        if self.tail.len() == TAIL_LEN {
            self.tail.pop_front();
        }
        self.tail.push_back(event);
    }

    /// Attaches a subscriber that has seen every event up to `after_seq`.
    pub fn attach(&mut self, after_seq: u64, finished: bool) -> Attach {
        let first_in_tail = self.tail.front().map_or(self.last_seq + 1, |e| e.event_seq);
        if after_seq + 1 < first_in_tail && after_seq < self.last_seq {
            return Attach::FromStore { upto: self.last_seq };
        }
        let backlog: Vec<JobEvent> =
            self.tail.iter().filter(|e| e.event_seq > after_seq).cloned().collect();
        let live = if finished {
            None
        } else {
            let (tx, rx) = mpsc::channel(SUBSCRIBER_BUFFER);
            self.subscribers.push(tx);
            Some(rx)
        };
        Attach::Live { backlog, live }
    }

    /// The number of live subscribers.
    #[must_use]
    pub fn subscriber_count(&self) -> usize {
        self.subscribers.len()
    }

    /// The last `max` published events (all of them for a short job), in
    /// order: what a finished job keeps in memory so that a client
    /// streaming it right after it finished is answered without a store
    /// read (see [`attach_finished`]).
    #[must_use]
    pub fn recent(&self, max: usize) -> Vec<JobEvent> {
        let skip = self.tail.len().saturating_sub(max);
        self.tail.iter().skip(skip).cloned().collect()
    }
}

/// Attaches to a *finished* job whose last events are `recent` (in order,
/// ending with the terminal event, as [`EventLog::recent`] gives them):
/// the events after `after_seq`, or [`Attach::FromStore`] when older ones
/// than `recent` holds are needed.
#[must_use]
pub fn attach_finished(recent: &[JobEvent], after_seq: u64) -> Attach {
    let last = recent.last().map_or(0, |e| e.event_seq);
    let first = recent.first().map_or(last + 1, |e| e.event_seq);
    if after_seq + 1 < first && after_seq < last {
        return Attach::FromStore { upto: last };
    }
    let backlog = recent.iter().filter(|e| e.event_seq > after_seq).cloned().collect();
    Attach::Live { backlog, live: None }
}

/// Where a stream gets its events: the kernel.
#[async_trait]
pub trait EventSource: Send + Sync + 'static {
    /// Attaches to the live job, or `None` when it is not live (finished
    /// and evicted from memory): then the store has its whole log.
    fn attach(&self, job: &JobId, after_seq: u64) -> Option<Attach>;

    /// Up to `limit` stored events after `after_seq`; empty on a store error
    /// (logged by the source), which ends the stream.
    async fn stored_after(&self, job: &JobId, after_seq: u64, limit: u32) -> Vec<JobEvent>;
}

struct StreamState {
    source: Arc<dyn EventSource>,
    job: JobId,
    last: u64,
    buffer: VecDeque<JobEvent>,
    live: Option<mpsc::Receiver<JobEvent>>,
    finished: bool,
}

/// The job's events after `after_seq`, then live ones, ending after the
/// terminal event: gapless and in order whatever the subscriber's speed.
pub fn event_stream(
    source: Arc<dyn EventSource>,
    job: JobId,
    after_seq: u64,
) -> BoxStream<'static, JobEvent> {
    let state = StreamState {
        source,
        job,
        last: after_seq,
        buffer: VecDeque::new(),
        live: None,
        finished: false,
    };
    Box::pin(futures::stream::unfold(state, next_event))
}

async fn next_event(mut s: StreamState) -> Option<(JobEvent, StreamState)> {
    loop {
        if let Some(ev) = s.buffer.pop_front() {
            if ev.event_seq != s.last + 1 {
                // Already delivered (a catch-up overlapping the live channel)
                // or, impossibly, a gap: re-read from the source.
                if ev.event_seq > s.last + 1 {
                    s.buffer.clear();
                    s.live = None;
                }
                continue;
            }
            s.last = ev.event_seq;
            s.finished = ev.state.is_terminal();
            return Some((ev, s));
        }
        if s.finished {
            return None;
        }
        if let Some(live) = &mut s.live {
            match live.recv().await {
                Some(ev) => s.buffer.push_back(ev),
                // Closed without a terminal event: we were too slow and were
                // dropped, or the job was evicted. Re-attach below.
                None => s.live = None,
            }
            continue;
        }
        match s.source.attach(&s.job, s.last) {
            Some(Attach::Live { backlog, live }) => {
                let ended = live.is_none();
                s.buffer.extend(backlog);
                s.live = live;
                if ended && s.buffer.is_empty() {
                    // Finished, and nothing after `last` in memory: the
                    // store has the rest (if any).
                    let page = s.source.stored_after(&s.job, s.last, STORE_PAGE).await;
                    if page.is_empty() {
                        return None;
                    }
                    s.buffer.extend(page);
                }
            }
            Some(Attach::FromStore { upto }) => {
                // Events after `upto` may be durable but not yet published:
                // they come from the next attach, once they are.
                let page = s.source.stored_after(&s.job, s.last, STORE_PAGE).await;
                let before = page.len();
                s.buffer.extend(page.into_iter().filter(|e| e.event_seq <= upto));
                if before == 0 || s.buffer.is_empty() {
                    // Nothing stored up to `upto` after `last`, which the
                    // log promised: the store failed (logged by the source).
                    return None;
                }
            }
            None => {
                // Not live and not remembered: finished, and every event
                // is both stored and long published.
                let page = s.source.stored_after(&s.job, s.last, STORE_PAGE).await;
                if page.is_empty() {
                    return None;
                }
                s.buffer.extend(page);
            }
        }
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
