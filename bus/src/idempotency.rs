//! The in-process engine's memory of publish idempotency keys for one topic:
//! key → offset, each remembered for a window and at most a fixed number at
//! once (oldest forgotten first). The Redis engine keeps the same in a hash
//! and a sorted set inside `topic_publish`. Holds no lock of its own: the
//! topic's mutex guards it.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Keys seen on one topic, with the offset their publication got.
#[derive(Default)]
pub(crate) struct IdempotencyWindow {
    seen: HashMap<Box<str>, (u64, Instant)>,
    /// Keys in the order they were remembered, with their expiry; since the
    /// window is fixed, that is also expiry order.
    order: VecDeque<(Instant, Box<str>)>,
}

impl IdempotencyWindow {
    /// The offset of the publication made with `key`, if still remembered.
    pub(crate) fn get(&self, key: &str, now: Instant) -> Option<u64> {
        self.seen.get(key).filter(|(_, until)| *until > now).map(|(offset, _)| *offset)
    }

    /// Remembers that `key`'s publication got `offset`, forgetting expired
    /// keys and, past `cap`, the oldest ones.
    pub(crate) fn remember(&mut self, key: &str, offset: u64, now: Instant, window: Duration, cap: usize) {
        while self.order.front().is_some_and(|(until, _)| *until <= now) {
            self.forget_oldest();
        }
        let until = now + window;
        self.seen.insert(key.into(), (offset, until));
        self.order.push_back((until, key.into()));
        while self.seen.len() > cap.max(1) {
            self.forget_oldest();
        }
    }

    /// How many keys are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }

    fn forget_oldest(&mut self) {
        if let Some((until, key)) = self.order.pop_front()
            && self.seen.get(&key).is_some_and(|(_, u)| *u == until)
        {
            self.seen.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_remembered_for_the_window_and_at_most_cap_of_them() {
        let t0 = Instant::now();
        let w = Duration::from_secs(10);
        let mut win = IdempotencyWindow::default();
        win.remember("a", 1, t0, w, 2);
        assert_eq!(win.get("a", t0 + Duration::from_secs(9)), Some(1));
        assert_eq!(win.get("a", t0 + w), None, "expired at the end of the window");
        win.remember("b", 2, t0 + Duration::from_secs(1), w, 2);
        win.remember("c", 3, t0 + Duration::from_secs(2), w, 2);
        assert_eq!(win.len(), 2, "the cap holds");
        assert_eq!(win.get("a", t0 + Duration::from_secs(3)), None, "the oldest went first");
        assert_eq!(win.get("c", t0 + Duration::from_secs(3)), Some(3));
        // After the window everything is forgotten on the next remember.
        win.remember("a", 9, t0 + Duration::from_secs(30), w, 2);
        assert_eq!(win.len(), 1);
        assert_eq!(win.get("a", t0 + Duration::from_secs(31)), Some(9));
    }
}
