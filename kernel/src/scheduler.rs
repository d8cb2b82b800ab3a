//! The scheduler: one queue per device, execution slots, reservations.
//!
//! Plain data, no I/O and no clock of its own (callers pass `now`), so the
//! policy is unit-tested directly:
//! - higher priority first; within a priority, tenants take turns (round
//!   robin), so one tenant's 10,000 jobs do not starve another's one; FIFO
//!   within a tenant;
//! - a device has N slots; a reservation takes one of them for its tenant
//!   and only jobs carrying its id run there (they queue on it alone);
//! - a slot is returned by [`Scheduler::release`] when the device is really
//!   free again (after a cancelled execution has stopped, not before).

use crate::job::JobId;
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// A job waiting on a device queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedJob {
    /// The job.
    pub id: JobId,
    /// Its tenant (fairness is between tenants).
    pub tenant: String,
    /// Higher runs first.
    pub priority: i32,
    /// The reservation whose slot it must run in.
    pub reservation: Option<String>,
    /// While the device is not accepting jobs, the job ends ERROR after this.
    pub wait_deadline: Option<Instant>,
}

/// Which slot a dispatched job occupies; give it back to `release`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// One of the device's shared slots.
    Shared,
    /// The slot held by this reservation.
    Reserved(String),
}

/// Why a reservation cannot be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReserveRefusal {
    /// The device is not known.
    UnknownDevice,
    /// Every slot is reserved or running a job.
    NoFreeSlot,
}

#[derive(Debug, Default)]
struct Level {
    turns: VecDeque<String>,
    by_tenant: HashMap<String, VecDeque<QueuedJob>>,
}

#[derive(Debug)]
struct ReservedSlot {
    busy: bool,
    queue: VecDeque<QueuedJob>,
}

#[derive(Debug)]
struct DeviceQueue {
    slots: usize,
    /// Jobs running in shared slots (and in slots of lapsed reservations).
    running: usize,
    levels: BTreeMap<Reverse<i32>, Level>,
    shared_len: usize,
    reserved: BTreeMap<String, ReservedSlot>,
    /// A moving average of recent execution times.
    exec_average: Option<Duration>,
}

impl DeviceQueue {
    fn free_shared(&self) -> usize {
        self.slots.saturating_sub(self.reserved.len() + self.running)
    }
}

/// Every device's queue.
#[derive(Debug, Default)]
pub struct Scheduler {
    devices: HashMap<String, DeviceQueue>,
}

/// Where a job is in its queue, and when it may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Jobs that will start before it.
    pub ahead: u64,
    /// How long until it is expected to start.
    pub start_in: Duration,
    /// The expected execution time.
    pub exec_time: Duration,
}

impl Scheduler {
    /// A scheduler with no devices.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a device with `slots` execution slots.
    pub fn add_device(&mut self, device: &str, slots: usize) {
        self.devices.insert(
            device.to_string(),
            DeviceQueue {
                slots: slots.max(1),
                running: 0,
                levels: BTreeMap::new(),
                shared_len: 0,
                reserved: BTreeMap::new(),
                exec_average: None,
            },
        );
    }

    /// True when `device` is known.
    #[must_use]
    pub fn has_device(&self, device: &str) -> bool {
        self.devices.contains_key(device)
    }

    /// Jobs waiting for `device`.
    #[must_use]
    pub fn queue_length(&self, device: &str) -> u64 {
        self.devices.get(device).map_or(0, |d| {
            (d.shared_len + d.reserved.values().map(|r| r.queue.len()).sum::<usize>()) as u64
        })
    }

    /// Queues `job` on `device`. A job for a reservation the device does not
    /// hold is refused (returned).
    pub fn enqueue(&mut self, device: &str, job: QueuedJob) -> Result<(), QueuedJob> {
        let Some(d) = self.devices.get_mut(device) else {
            return Err(job);
        };
        match &job.reservation {
            Some(r) => match d.reserved.get_mut(r) {
                Some(slot) => slot.queue.push_back(job),
                None => return Err(job),
            },
            None => {
                let level = d.levels.entry(Reverse(job.priority)).or_default();
                let q = level.by_tenant.entry(job.tenant.clone()).or_default();
                if q.is_empty() {
                    level.turns.push_back(job.tenant.clone());
                }
                q.push_back(job);
                d.shared_len += 1;
            }
        }
        Ok(())
    }

    /// Takes the next job that may start on `device` now and occupies its
    /// slot. Call only while the device accepts jobs.
    pub fn next(&mut self, device: &str) -> Option<(QueuedJob, Slot)> {
        let d = self.devices.get_mut(device)?;
        for (id, slot) in &mut d.reserved {
            if !slot.busy
                && let Some(job) = slot.queue.pop_front()
            {
                slot.busy = true;
                return Some((job, Slot::Reserved(id.clone())));
            }
        }
        if d.free_shared() == 0 {
            return None;
        }
        let (&key, level) = d.levels.iter_mut().next()?;
        let tenant = level.turns.pop_front()?;
        let q = level.by_tenant.get_mut(&tenant)?;
        let job = q.pop_front()?;
        if q.is_empty() {
            level.by_tenant.remove(&tenant);
        } else {
            level.turns.push_back(tenant);
        }
        if level.turns.is_empty() {
            d.levels.remove(&key);
        }
        d.shared_len -= 1;
        d.running += 1;
        Some((job, Slot::Shared))
    }

    /// Occupies a shared slot of `device` for a job that has not been
    /// queued, if one is free and no job waits for a shared slot (so it
    /// overtakes nobody): true when taken. Give it back to
    /// [`Scheduler::release`] as [`Slot::Shared`]. Call only while the
    /// device accepts jobs.
    pub fn claim_idle(&mut self, device: &str) -> bool {
        let Some(d) = self.devices.get_mut(device) else {
            return false;
        };
        if d.shared_len > 0 || d.free_shared() == 0 {
            return false;
        }
        d.running += 1;
        true
    }

    /// Gives a slot back.
    pub fn release(&mut self, device: &str, slot: &Slot) {
        let Some(d) = self.devices.get_mut(device) else {
            return;
        };
        match slot {
            Slot::Reserved(id) if d.reserved.contains_key(id) => {
                if let Some(s) = d.reserved.get_mut(id) {
                    s.busy = false;
                }
            }
            // A shared slot, or the slot of a reservation that lapsed while
            // its job ran (it was counted as running then).
            _ => d.running = d.running.saturating_sub(1),
        }
    }

    /// Removes a waiting job (cancelled, failed); true if it was queued.
    pub fn remove(&mut self, device: &str, id: &JobId) -> bool {
        let Some(d) = self.devices.get_mut(device) else {
            return false;
        };
        for slot in d.reserved.values_mut() {
            if let Some(i) = slot.queue.iter().position(|j| &j.id == id) {
                slot.queue.remove(i);
                return true;
            }
        }
        let mut emptied = None;
        let mut found = false;
        for (key, level) in &mut d.levels {
            for (tenant, q) in &mut level.by_tenant {
                if let Some(i) = q.iter().position(|j| &j.id == id) {
                    q.remove(i);
                    found = true;
                    if q.is_empty() {
                        emptied = Some((*key, tenant.clone()));
                    }
                    break;
                }
            }
            if found {
                break;
            }
        }
        if let Some((key, tenant)) = emptied
            && let Some(level) = d.levels.get_mut(&key)
        {
            level.by_tenant.remove(&tenant);
            level.turns.retain(|t| t != &tenant);
            if level.turns.is_empty() {
                d.levels.remove(&key);
            }
        }
        if found {
            d.shared_len -= 1;
        }
        found
    }

    /// Holds one free slot of `device` for reservation `id`.
    pub fn reserve(&mut self, device: &str, id: &str) -> Result<(), ReserveRefusal> {
        let d = self.devices.get_mut(device).ok_or(ReserveRefusal::UnknownDevice)?;
        if d.free_shared() == 0 {
            return Err(ReserveRefusal::NoFreeSlot);
        }
        d.reserved.insert(id.to_string(), ReservedSlot { busy: false, queue: VecDeque::new() });
        Ok(())
    }

    /// Gives a reservation's slot back; returns the jobs still waiting for it.
    pub fn unreserve(&mut self, device: &str, id: &str) -> Vec<QueuedJob> {
        let Some(d) = self.devices.get_mut(device) else {
            return Vec::new();
        };
        match d.reserved.remove(id) {
            Some(slot) => {
                if slot.busy {
                    d.running += 1;
                }
                slot.queue.into_iter().collect()
            }
            None => Vec::new(),
        }
    }

    /// Removes and returns the jobs whose wait deadline has passed (called
    /// while the device does not accept jobs).
    pub fn take_overdue(&mut self, device: &str, now: Instant) -> Vec<QueuedJob> {
        let Some(d) = self.devices.get(device) else {
            return Vec::new();
        };
        let overdue: Vec<QueuedJob> = d
            .levels
            .values()
            .flat_map(|l| l.by_tenant.values().flatten())
            .chain(d.reserved.values().flat_map(|r| r.queue.iter()))
            .filter(|j| j.wait_deadline.is_some_and(|t| t <= now))
            .cloned()
            .collect();
        for j in &overdue {
            self.remove(device, &j.id);
        }
        overdue
    }

    /// Feeds the moving average of execution times used for estimates.
    pub fn record_execution(&mut self, device: &str, took: Duration) {
        if let Some(d) = self.devices.get_mut(device) {
            d.exec_average = Some(match d.exec_average {
                None => took,
                Some(avg) => avg.mul_f64(0.8) + took.mul_f64(0.2),
            });
        }
    }

    /// The moving average of recent execution times on `device`.
    #[must_use]
    pub fn exec_average(&self, device: &str) -> Option<Duration> {
        self.devices.get(device).and_then(|d| d.exec_average)
    }

    /// Where `id` stands on `device`'s queue and when it may start, given
    /// `fallback` as execution time when nothing ran yet.
    #[must_use]
    pub fn position(&self, device: &str, id: &JobId, fallback: Duration) -> Option<Position> {
        let d = self.devices.get(device)?;
        let exec_time = d.exec_average.unwrap_or(fallback);
        for slot in d.reserved.values() {
            if let Some(i) = slot.queue.iter().position(|j| &j.id == id) {
                let ahead = i as u64 + u64::from(slot.busy);
                let start_in = exec_time.saturating_mul(u32::try_from(ahead).unwrap_or(u32::MAX));
                return Some(Position { ahead, start_in, exec_time });
            }
        }
        let mut ahead = 0u64;
        for level in d.levels.values() {
            let Some((tenant, k)) = level
                .by_tenant
                .iter()
                .find_map(|(t, q)| q.iter().position(|j| &j.id == id).map(|k| (t.clone(), k)))
            else {
                ahead += level.by_tenant.values().map(|q| q.len() as u64).sum::<u64>();
                continue;
            };
            let my_turn = level.turns.iter().position(|t| *t == tenant).unwrap_or(0);
            for (i, t) in level.turns.iter().enumerate() {
                let len = level.by_tenant.get(t).map_or(0, VecDeque::len);
                let rounds = if i < my_turn { k + 1 } else { k };
                ahead += len.min(rounds) as u64;
            }
            let slots = d.slots.saturating_sub(d.reserved.len()).max(1) as u64;
            let busy = d.running as u64;
            let waves = (ahead + busy) / slots;
            let start_in = exec_time.saturating_mul(u32::try_from(waves).unwrap_or(u32::MAX));
            return Some(Position { ahead, start_in, exec_time });
        }
        None
    }
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
