//! A bounded priority queue per device: a fixed number of levels, one FIFO
//! per level, O(1) enqueue and dequeue, with aging so that low priority is
//! never starved.

use std::collections::VecDeque;

/// Number of priority levels (0 = lowest, `PRIORITY_LEVELS - 1` = highest).
pub const PRIORITY_LEVELS: usize = 8;

/// After this many dequeues in a row taken from the highest non-empty level
/// while a lower level waited, one item is taken from a lower level instead
/// (the lower levels take turns), so every level keeps moving.
pub const AGING_QUANTUM: u32 = 16;

/// The priority queue. Not synchronised: the device wraps it in a lock.
#[derive(Debug)]
pub struct PriorityQueue<T> {
    levels: [VecDeque<T>; PRIORITY_LEVELS],
    /// Bit `p` set when level `p` is non-empty.
    nonempty: u32,
    len: usize,
    capacity: usize,
    /// Dequeues from the top level since a lower level was last served.
    streak: u32,
    /// Where the next aged pick starts looking (round robin over levels).
    aged_cursor: usize,
}

impl<T> PriorityQueue<T> {
    /// An empty queue holding at most `capacity` items.
    pub fn new(capacity: usize) -> Self {
        PriorityQueue { levels: Default::default(), nonempty: 0, len: 0, capacity, streak: 0, aged_cursor: 0 }
    }

    /// Items queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bound.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether the bound is reached.
    pub fn is_full(&self) -> bool {
        self.len >= self.capacity
    }

    /// Appends at `priority` (clamped to the top level). Fails with the item
    /// when full.
    pub fn push(&mut self, priority: u8, item: T) -> Result<(), T> {
        if self.is_full() {
            return Err(item);
        }
        self.push_unbounded(priority, item);
        Ok(())
    }

    /// Appends even past the bound: for work already admitted by the engine
    /// (the next step of a route, or work moved off a broken device), whose
    /// total the engine's in-flight limit bounds.
    pub fn push_unbounded(&mut self, priority: u8, item: T) {
        let p = usize::from(priority).min(PRIORITY_LEVELS - 1);
        self.levels[p].push_back(item);
        self.nonempty |= 1 << p;
        self.len += 1;
    }

    /// Takes the next item: the oldest of the highest non-empty level, or,
    /// once every `AGING_QUANTUM` dequeues, the oldest of a lower level.
    pub fn pop(&mut self) -> Option<T> {
        if self.nonempty == 0 {
            return None;
        }
        let top = 31 - self.nonempty.leading_zeros() as usize;
        let lower = self.nonempty & ((1u32 << top) - 1);
        let level = if lower != 0 && self.streak >= AGING_QUANTUM {
            self.streak = 0;
            self.next_aged(lower)
        } else {
            if lower != 0 {
                self.streak += 1;
            } else {
                self.streak = 0;
            }
            top
        };
        let item = self.levels[level].pop_front();
        if self.levels[level].is_empty() {
            self.nonempty &= !(1 << level);
        }
        self.len -= 1;
        item
    }

    /// The next lower level to serve, round robin from the cursor, so that
    /// middle levels are not starved by the lowest either.
    fn next_aged(&mut self, lower: u32) -> usize {
        for i in 0..PRIORITY_LEVELS {
            let l = (self.aged_cursor + i) % PRIORITY_LEVELS;
            if lower & (1 << l) != 0 {
                self.aged_cursor = (l + 1) % PRIORITY_LEVELS;
                return l;
            }
        }
        unreachable_level(lower)
    }

    /// Removes and returns everything, highest priority first (for rehash,
    /// removal and shutdown).
    pub fn drain_all(&mut self) -> Vec<(u8, T)> {
        let mut out = Vec::with_capacity(self.len);
        for p in (0..PRIORITY_LEVELS).rev() {
            out.extend(self.levels[p].drain(..).map(|t| (p as u8, t)));
        }
        self.nonempty = 0;
        self.len = 0;
        out
    }
}

/// `lower` is non-zero whenever `next_aged` is called, so a set bit below
/// PRIORITY_LEVELS always exists; fall back to its lowest bit.
fn unreachable_level(lower: u32) -> usize {
    lower.trailing_zeros() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_within_a_level_and_highest_first() {
        let mut q = PriorityQueue::new(10);
        q.push(1, "a").unwrap();
        q.push(5, "b").unwrap();
        q.push(1, "c").unwrap();
        q.push(5, "d").unwrap();
        assert_eq!(q.pop(), Some("b"));
        assert_eq!(q.pop(), Some("d"));
        assert_eq!(q.pop(), Some("a"));
        assert_eq!(q.pop(), Some("c"));
        assert_eq!(q.pop(), None);
        assert!(q.is_empty());
    }

    #[test]
    fn bounded() {
        let mut q = PriorityQueue::new(2);
        q.push(0, 1).unwrap();
        q.push(7, 2).unwrap();
        assert_eq!(q.push(3, 3), Err(3));
        q.push_unbounded(3, 3);
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn aging_serves_every_level() {
        let mut q = PriorityQueue::new(100_000);
        for i in 0..1000 {
            q.push(7, (7, i)).unwrap();
            q.push(3, (3, i)).unwrap();
            q.push(0, (0, i)).unwrap();
        }
        // In the first 200 dequeues, the lower levels are each served.
        let first: Vec<_> = (0..200).map(|_| q.pop().unwrap()).collect();
        assert!(first.iter().any(|x| x.0 == 3));
        assert!(first.iter().any(|x| x.0 == 0));
        // But high priority dominates.
        assert!(first.iter().filter(|x| x.0 == 7).count() >= 180);
        // FIFO per level is kept.
        let lows: Vec<_> = first.iter().filter(|x| x.0 == 0).map(|x| x.1).collect();
        assert!(lows.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn drain_all_empties() {
        let mut q = PriorityQueue::new(10);
        q.push(0, 1).unwrap();
        q.push(7, 2).unwrap();
        assert_eq!(q.drain_all(), vec![(7, 2), (0, 1)]);
        assert!(q.is_empty());
        assert_eq!(q.pop(), None);
    }
}
