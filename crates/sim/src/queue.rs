//! The event heap: a binary heap ordered by (virtual time, insertion sequence). Two events
//! at the same instant run in the order they were scheduled, so a run is a pure function
//! of the scenario and the seed. Pushing and popping cost O(log n) and no allocation
//! beyond the heap's own growth (the spec's budget is ≤ 100 ns per event).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::time::SimTime;

struct Entry<E> {
    time: SimTime,
    sequence: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.sequence == other.sequence
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    /// Reversed: `BinaryHeap` is a max-heap and we want the earliest event first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.sequence).cmp(&(self.time, self.sequence))
    }
}

/// A min-heap of timed events.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    sequence: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            sequence: 0,
        }
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `event` at `time`.
    pub fn push(&mut self, time: SimTime, event: E) {
        self.sequence += 1;
        self.heap.push(Entry {
            time,
            sequence: self.sequence,
            event,
        });
    }

    /// The earliest event, if any.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.heap.pop().map(|e| (e.time, e.event))
    }

    /// When the earliest event is due.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| e.time)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_out_by_time_then_by_insertion_order() {
        let mut q = EventQueue::new();
        q.push(5, "c");
        q.push(1, "a");
        q.push(5, "d");
        q.push(1, "b");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![(1, "a"), (1, "b"), (5, "c"), (5, "d")]);
    }

    /// The heap's own cost per event (the spec's budget: ≤ 100 ns). Run with
    /// `cargo test --release -p corral-sim --lib queue_cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn queue_cost_per_event() {
        let mut q = EventQueue::new();
        let mut rng = corral_core::SimRng::seed_from_u64(1);
        let n = 1_000_000u64;
        let started = std::time::Instant::now();
        let mut now = 0;
        for i in 0..n {
            q.push(now + rng.below(60_000_000_000), i);
            if q.len() > 10_000 {
                now = q.pop().map_or(now, |(t, _)| t);
            }
        }
        while q.pop().is_some() {}
        let per_event = started.elapsed().as_nanos() as f64 / n as f64;
        println!("event heap: {per_event:.0} ns per event (push + pop, 10,000 pending)");
    }
}
