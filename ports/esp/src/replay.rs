//! The anti-replay window of RFC 4303 §3.4.3 (without extended sequence
//! numbers): a sliding bitmap of the last `size` sequence numbers below the
//! highest one accepted.
//!
//! A packet is [`check`](ReplayWindow::check)ed before its ICV is verified
//! (cheap rejection of duplicates and of packets left of the window) and
//! [`commit`](ReplayWindow::commit)ted only once it has verified; commit
//! checks again, since other packets of the same batch may have moved the
//! window or taken the number in between.

/// Default window size (bits), as the issue asks; the kernel's default is 32.
pub const DEFAULT_WINDOW: u32 = 1024;
/// Largest window size accepted.
pub const MAX_WINDOW: u32 = 1 << 16;

/// Why a sequence number is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Sequence number 0 is never sent (RFC 4303 §3.3.3: the first is 1).
    Zero,
    /// Left of the window: too old to tell.
    TooOld,
    /// Already received.
    Duplicate,
}

/// A sliding window of `size` bits, a ring indexed by `seq % size`.
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    size: u32,
    /// Highest sequence number committed (0: none yet).
    top: u32,
    bits: Vec<u64>,
}

impl ReplayWindow {
    /// A window of `size` bits, rounded up to a multiple of 64 (0 turns the
    /// check off except for duplicates of `top`, as `replay-window 0` does
    /// in the kernel: then every number but 0 is accepted).
    pub fn new(size: u32) -> Self {
        let size = size.min(MAX_WINDOW).div_ceil(64) * 64;
        ReplayWindow { size, top: 0, bits: vec![0; (size / 64) as usize] }
    }

    /// The window size in bits (0: no replay protection).
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The highest sequence number committed.
    pub fn top(&self) -> u32 {
        self.top
    }

    fn bit(&self, seq: u32) -> (usize, u64) {
        let i = seq % self.size;
        ((i / 64) as usize, 1u64 << (i % 64))
    }

    /// Whether `seq` may be accepted now (changes nothing).
    pub fn check(&self, seq: u32) -> Result<(), Replay> {
        if seq == 0 {
            return Err(Replay::Zero);
        }
        if self.size == 0 || seq > self.top {
            return Ok(());
        }
        if self.top - seq >= self.size {
            return Err(Replay::TooOld);
        }
        let (w, m) = self.bit(seq);
        if self.bits[w] & m != 0 {
            return Err(Replay::Duplicate);
        }
        Ok(())
    }

    /// Checks `seq` again and records it (after its ICV has verified).
    pub fn commit(&mut self, seq: u32) -> Result<(), Replay> {
        self.check(seq)?;
        if self.size == 0 {
            self.top = self.top.max(seq);
            return Ok(());
        }
        if seq > self.top {
            let ahead = seq - self.top;
            if ahead >= self.size {
                self.bits.iter_mut().for_each(|b| *b = 0);
            } else {
                for s in self.top + 1..seq {
                    let (w, m) = self.bit(s);
                    self.bits[w] &= !m;
                }
            }
            self.top = seq;
        }
        let (w, m) = self.bit(seq);
        self.bits[w] |= m;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_duplicates_and_old() {
        let mut w = ReplayWindow::new(64);
        assert_eq!(w.check(0), Err(Replay::Zero));
        for s in 1..=200 {
            w.commit(s).unwrap();
            assert_eq!(w.commit(s), Err(Replay::Duplicate));
        }
        assert_eq!(w.top(), 200);
        // 137 is the lowest number still inside a 64-bit window under 200.
        assert_eq!(w.check(137), Err(Replay::Duplicate));
        assert_eq!(w.check(136), Err(Replay::TooOld));
    }

    #[test]
    fn out_of_order_inside_the_window() {
        let mut w = ReplayWindow::new(1024);
        assert_eq!(w.size(), 1024);
        w.commit(1000).unwrap();
        for s in (1..1000).rev().step_by(3) {
            w.commit(s).unwrap();
        }
        assert_eq!(w.check(3), Err(Replay::Duplicate));
        assert_eq!(w.check(4), Ok(()));
        w.commit(2).unwrap();
        assert_eq!(w.commit(2), Err(Replay::Duplicate));
        // A jump of more than the window clears it.
        w.commit(5000).unwrap();
        assert_eq!(w.check(3976), Err(Replay::TooOld));
        w.commit(3977).unwrap();
        assert_eq!(w.check(3978), Ok(()));
        // Bits between the old top and a new one are cleared by the move.
        let mut w = ReplayWindow::new(64);
        w.commit(10).unwrap();
        w.commit(74 + 5).unwrap();
        assert_eq!(w.check(74), Ok(()), "ring slot of 10 reused for 74");
    }

    #[test]
    fn check_then_commit_sees_the_batch() {
        // Two copies of one packet in a batch both pass check; only the
        // first commit wins.
        let mut w = ReplayWindow::new(1024);
        assert!(w.check(7).is_ok() && w.check(7).is_ok());
        w.commit(7).unwrap();
        assert_eq!(w.commit(7), Err(Replay::Duplicate));
        // A packet checked before the window moved past it.
        assert!(w.check(8).is_ok());
        w.commit(8 + 1024).unwrap();
        assert_eq!(w.commit(8), Err(Replay::TooOld));
    }

    #[test]
    fn size_rounding_and_off() {
        assert_eq!(ReplayWindow::new(32).size(), 64);
        let mut w = ReplayWindow::new(0);
        w.commit(5).unwrap();
        w.commit(5).unwrap();
        assert_eq!(w.check(0), Err(Replay::Zero));
    }
}
