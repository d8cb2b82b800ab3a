use super::*;

fn job(id: &str, tenant: &str, priority: i32) -> QueuedJob {
    QueuedJob {
        id: JobId(id.into()),
        tenant: tenant.into(),
        priority,
        reservation: None,
        wait_deadline: None,
    }
}

fn drain(s: &mut Scheduler, dev: &str) -> Vec<String> {
    let mut out = Vec::new();
    while let Some((j, slot)) = s.next(dev) {
        out.push(j.id.0);
        s.release(dev, &slot);
    }
    out
}

#[test]
fn priority_first_then_fifo() {
    let mut s = Scheduler::new();
    s.add_device("d", 1);
    for (id, p) in [("a", 0), ("b", 5), ("c", 0), ("d", 5)] {
        s.enqueue("d", job(id, "t", p)).unwrap();
    }
    assert_eq!(drain(&mut s, "d"), ["b", "d", "a", "c"]);
    assert_eq!(s.queue_length("d"), 0);
}

#[test]
fn tenants_take_turns_so_a_flood_does_not_starve_one_job() {
    let mut s = Scheduler::new();
    s.add_device("d", 1);
    for i in 0..10_000 {
        s.enqueue("d", job(&format!("big-{i}"), "big", 0)).unwrap();
    }
    s.enqueue("d", job("small", "small", 0)).unwrap();
    let pos = s.position("d", &JobId("small".into()), Duration::from_millis(10)).unwrap();
    assert_eq!(pos.ahead, 1);
    let first: Vec<String> = (0..2)
        .map(|_| {
            let (j, slot) = s.next("d").unwrap();
            s.release("d", &slot);
            j.id.0
        })
        .collect();
    assert_eq!(first, ["big-0", "small"]);
}

#[test]
fn slots_limit_concurrency_and_release_frees() {
    let mut s = Scheduler::new();
    s.add_device("d", 2);
    for id in ["a", "b", "c"] {
        s.enqueue("d", job(id, "t", 0)).unwrap();
    }
    let (a, sa) = s.next("d").unwrap();
    let (b, _) = s.next("d").unwrap();
    assert_eq!((a.id.0.as_str(), b.id.0.as_str()), ("a", "b"));
    assert!(s.next("d").is_none(), "both slots are busy");
    s.release("d", &sa);
    assert_eq!(s.next("d").unwrap().0.id.0, "c");
}

#[test]
fn reservation_slot_runs_only_its_jobs() {
    let mut s = Scheduler::new();
    s.add_device("d", 2);
    s.reserve("d", "r1").unwrap();
    assert_eq!(s.reserve("d", "r2"), Ok(()));
    assert_eq!(s.reserve("d", "r3"), Err(ReserveRefusal::NoFreeSlot));
    assert_eq!(s.reserve("x", "r4"), Err(ReserveRefusal::UnknownDevice));
    s.enqueue("d", job("shared", "t", 9)).unwrap();
    assert!(s.next("d").is_none(), "every slot is reserved");
    let mut r = job("mine", "t", 0);
    r.reservation = Some("r1".into());
    s.enqueue("d", r).unwrap();
    let (j, slot) = s.next("d").unwrap();
    assert_eq!((j.id.0.as_str(), &slot), ("mine", &Slot::Reserved("r1".into())));
    let mut unknown = job("lost", "t", 0);
    unknown.reservation = Some("nope".into());
    assert!(s.enqueue("d", unknown).is_err());
    // r2 lapses: its slot goes back to shared use.
    assert!(s.unreserve("d", "r2").is_empty());
    assert_eq!(s.next("d").unwrap().0.id.0, "shared");
    s.release("d", &slot);
}

#[test]
fn a_reservation_lapsing_under_a_running_job_keeps_the_slot_busy() {
    let mut s = Scheduler::new();
    s.add_device("d", 1);
    s.reserve("d", "r").unwrap();
    let mut r = job("mine", "t", 0);
    r.reservation = Some("r".into());
    s.enqueue("d", r).unwrap();
    let mut waiting = job("next", "t", 0);
    waiting.reservation = Some("r".into());
    s.enqueue("d", waiting).unwrap();
    let (_, slot) = s.next("d").unwrap();
    let orphans = s.unreserve("d", "r");
    assert_eq!(orphans.len(), 1);
    s.enqueue("d", job("shared", "t", 0)).unwrap();
    assert!(s.next("d").is_none(), "the lapsed reservation's job still runs");
    s.release("d", &slot);
    assert_eq!(s.next("d").unwrap().0.id.0, "shared");
}

#[test]
fn remove_and_overdue() {
    let mut s = Scheduler::new();
    s.add_device("d", 1);
    let now = Instant::now();
    let mut late = job("late", "t", 0);
    late.wait_deadline = Some(now);
    s.enqueue("d", late).unwrap();
    s.enqueue("d", job("a", "u", 0)).unwrap();
    s.enqueue("d", job("b", "u", 0)).unwrap();
    assert!(s.remove("d", &JobId("a".into())));
    assert!(!s.remove("d", &JobId("a".into())));
    let overdue = s.take_overdue("d", now + Duration::from_millis(1));
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0].id.0, "late");
    assert_eq!(drain(&mut s, "d"), ["b"]);
}

#[test]
fn estimates_follow_recent_executions() {
    let mut s = Scheduler::new();
    s.add_device("d", 1);
    for id in ["a", "b", "c"] {
        s.enqueue("d", job(id, "t", 0)).unwrap();
    }
    s.record_execution("d", Duration::from_secs(2));
    let p = s.position("d", &JobId("c".into()), Duration::ZERO).unwrap();
    assert_eq!(p.ahead, 2);
    assert_eq!(p.exec_time, Duration::from_secs(2));
    assert_eq!(p.start_in, Duration::from_secs(4));
    assert!(s.position("d", &JobId("zz".into()), Duration::ZERO).is_none());
}

#[test]
fn an_idle_slot_is_claimed_only_when_nobody_waits_and_a_shared_slot_is_free() {
    let mut s = Scheduler::new();
    s.add_device("d", 2);
    assert!(!s.claim_idle("unknown"));
    assert!(s.claim_idle("d"), "two free slots, empty queue");
    s.reserve("d", "r").unwrap();
    assert!(!s.claim_idle("d"), "the other slot is reserved");
    s.unreserve("d", "r");
    s.enqueue("d", job("a", "t", 0)).unwrap();
    assert!(!s.claim_idle("d"), "a queued job would be overtaken");
    let (a, slot) = s.next("d").unwrap();
    assert_eq!(a.id.0, "a");
    assert!(!s.claim_idle("d"), "both slots busy");
    s.release("d", &slot);
    s.release("d", &Slot::Shared);
    assert!(s.claim_idle("d") && s.claim_idle("d") && !s.claim_idle("d"));
}
