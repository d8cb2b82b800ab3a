use super::*;
use crate::job::TaskState;
use futures::StreamExt;
use std::sync::Mutex;
use std::time::SystemTime;

/// An in-memory source: the "store" holds every event, the log its tail.
#[derive(Default)]
struct Source {
    stored: Mutex<Vec<JobEvent>>,
    log: Mutex<EventLog>,
    finished: Mutex<bool>,
    live: Mutex<bool>,
}

impl Source {
    fn emit(&self, state: TaskState) {
        let mut log = self.log.lock().unwrap();
        let ev = event(log.last_seq() + 1, state);
        self.stored.lock().unwrap().push(ev.clone());
        if state.is_terminal() {
            *self.finished.lock().unwrap() = true;
        }
        log.publish(ev);
    }
}

#[async_trait]
impl EventSource for Source {
    fn attach(&self, _job: &JobId, after_seq: u64) -> Option<Attach> {
        if !*self.live.lock().unwrap() {
            return None;
        }
        let finished = *self.finished.lock().unwrap();
        Some(self.log.lock().unwrap().attach(after_seq, finished))
    }

    async fn stored_after(&self, _job: &JobId, after_seq: u64, limit: u32) -> Vec<JobEvent> {
        self.stored
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.event_seq > after_seq)
            .take(limit as usize)
            .cloned()
            .collect()
    }
}

/// Event `seq` of job "j", entering `state`.
fn event(seq: u64, state: TaskState) -> JobEvent {
    JobEvent {
        job_id: JobId("j".into()),
        event_seq: seq,
        state,
        status: state.status(),
        stage: None,
        progress: None,
        message: String::new(),
        timestamp: SystemTime::now(),
    }
}

fn source() -> Arc<Source> {
    let s = Arc::new(Source::default());
    *s.live.lock().unwrap() = true;
    s
}

fn seqs(events: &[JobEvent]) -> Vec<u64> {
    events.iter().map(|e| e.event_seq).collect()
}

#[tokio::test]
async fn replay_then_live_then_end_after_terminal() {
    let src = source();
    src.emit(TaskState::Pending);
    src.emit(TaskState::Validating);
    let mut stream = event_stream(src.clone(), JobId("j".into()), 0);
    assert_eq!(stream.next().await.unwrap().event_seq, 1);
    assert_eq!(stream.next().await.unwrap().event_seq, 2);
    src.emit(TaskState::Compiling);
    src.emit(TaskState::Failed);
    let rest: Vec<JobEvent> = stream.collect().await;
    assert_eq!(seqs(&rest), [3, 4]);
}

#[tokio::test]
async fn resume_after_a_sequence_number() {
    let src = source();
    for s in [TaskState::Pending, TaskState::Validating, TaskState::Compiling, TaskState::Cancelled]
    {
        src.emit(s);
    }
    let all: Vec<JobEvent> = event_stream(src.clone(), JobId("j".into()), 2).collect().await;
    assert_eq!(seqs(&all), [3, 4]);
    let none: Vec<JobEvent> = event_stream(src, JobId("j".into()), 4).collect().await;
    assert!(none.is_empty());
}

#[tokio::test]
async fn a_stalled_subscriber_never_blocks_and_catches_up_gaplessly() {
    let src = source();
    src.emit(TaskState::Pending);
    let mut stream = event_stream(src.clone(), JobId("j".into()), 0);
    assert_eq!(stream.next().await.unwrap().event_seq, 1);
    // Publish far more than the subscriber buffer and the tail hold, while
    // the subscriber reads nothing: publishing must not wait.
    src.emit(TaskState::Validating);
    src.emit(TaskState::Compiling);
    src.emit(TaskState::Queued);
    for _ in 0..(TAIL_LEN + SUBSCRIBER_BUFFER) * 2 {
        // The log does not check transitions (the kernel does): any state
        // makes an event.
        src.emit(TaskState::Allocating);
    }
    assert_eq!(src.log.lock().unwrap().subscriber_count(), 0, "the slow one was dropped");
    src.emit(TaskState::Completed);
    let rest: Vec<JobEvent> = stream.collect().await;
    let expected: Vec<u64> = (2..=src.log.lock().unwrap().last_seq()).collect();
    assert_eq!(seqs(&rest), expected);
}

#[tokio::test]
async fn a_finished_evicted_job_streams_from_the_store() {
    let src = source();
    src.emit(TaskState::Pending);
    src.emit(TaskState::Failed);
    *src.live.lock().unwrap() = false;
    let all: Vec<JobEvent> = event_stream(src, JobId("j".into()), 0).collect().await;
    assert_eq!(seqs(&all), [1, 2]);
}

#[tokio::test]
async fn many_subscribers_each_get_every_event() {
    let src = source();
    src.emit(TaskState::Pending);
    let streams: Vec<_> =
        (0..1000).map(|i| event_stream(src.clone(), JobId("j".into()), i % 2)).collect();
    src.emit(TaskState::Validating);
    src.emit(TaskState::Cancelled);
    for (i, s) in streams.into_iter().enumerate() {
        let got: Vec<JobEvent> = s.collect().await;
        let from = 1 + (i as u64 % 2);
        assert_eq!(seqs(&got), (from..=3).collect::<Vec<_>>());
    }
}

#[test]
fn a_finished_job_attaches_from_its_recent_events_or_the_store() {
    let src = source();
    for s in [TaskState::Pending, TaskState::Validating, TaskState::Compiling, TaskState::Failed] {
        src.emit(s);
    }
    let log = src.log.lock().unwrap();
    assert_eq!(seqs(&log.recent(2)), [3, 4], "the last ones, in order");
    assert_eq!(seqs(&log.recent(16)), [1, 2, 3, 4]);
    let recent = log.recent(2);
    let backlog = |after| match attach_finished(&recent, after) {
        Attach::Live { backlog, live: None } => Some(seqs(&backlog)),
        Attach::Live { live: Some(_), .. } => panic!("a finished job has no live channel"),
        Attach::FromStore { upto } => {
            assert_eq!(upto, 4, "the store is read up to the terminal event");
            None
        }
    };
    assert_eq!(backlog(2), Some(vec![3, 4]));
    assert_eq!(backlog(3), Some(vec![4]));
    assert_eq!(backlog(4), Some(vec![]), "nothing after the terminal event");
    assert_eq!(backlog(1), None, "event 2 is only in the store");
    assert_eq!(backlog(0), None);
}

#[tokio::test]
async fn a_stream_never_reads_past_what_is_published() {
    // A recovered job: events 1..=3 are only in the store; event 4 (DONE)
    // is durable but not yet published, as between a commit and its
    // publish.
    let src = source();
    *src.log.lock().unwrap() = EventLog::resumed(3);
    let path = [TaskState::Pending, TaskState::Validating, TaskState::Compiling];
    for (seq, state) in (1..).zip(path) {
        src.stored.lock().unwrap().push(event(seq, state));
    }
    let done = event(4, TaskState::Completed);
    src.stored.lock().unwrap().push(done.clone());
    let source: Arc<dyn EventSource> = src.clone();
    let mut stream = event_stream(source, JobId("j".into()), 0);
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(stream.next().await.expect("stored events"));
    }
    assert_eq!(seqs(&got), [1, 2, 3]);
    // The terminal event is not delivered before it is published...
    let early = tokio::time::timeout(std::time::Duration::from_millis(50), stream.next()).await;
    assert!(early.is_err(), "delivered an unpublished event: {early:?}");
    // ...and is once it is, then the stream ends.
    *src.finished.lock().unwrap() = true;
    src.log.lock().unwrap().publish(done);
    let last = stream.next().await.expect("the terminal event");
    assert_eq!(last.event_seq, 4);
    assert!(stream.next().await.is_none());
}
