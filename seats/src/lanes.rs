//! Group commit of the Redis engine: one lane per showtime queues this
//! node's hold, extend and release operations, and one task per busy lane
//! sends them to Redis together, as one run of the `ops` script.
//!
//! At most one batch per showtime is in flight from this node. An operation
//! that arrives while one is in flight waits for it and goes out with the
//! others that arrived meanwhile, so under light load a batch is a single
//! operation (no added wait) and under heavy load the script's fixed cost
//! (expiry pass, version bump, publication, key expiries) is paid once for
//! many operations. Each operation keeps its own result and its own
//! all-or-nothing semantics; operations of one batch share one version and
//! one published delta.
//!
//! The lanes are the only owner of the queued operations. Queues are bounded
//! ([`MAX_QUEUED`] per showtime): past that an operation fails at once with a
//! retryable storage error instead of waiting.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::domain::SeatId;
use crate::engine::Target;
use crate::error::SeatError;
use crate::types::Millis;

/// Most operations in one batch.
pub(crate) const MAX_BATCH: usize = 64;
/// Most operations queued for one showtime on one node.
pub(crate) const MAX_QUEUED: usize = 4096;

/// One validated operation, as the `ops` script takes it.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Hold { user: String, hold_id: String, ttl_ms: i64, idem_key: String, seats: Vec<SeatId> },
    Extend { user: String, hold_id: String },
    Release { user: String, target: Target },
}

/// A queued operation and where its result goes.
pub(crate) struct Pending<R> {
    pub op: Op,
    pub now: Millis,
    pub reply: oneshot::Sender<Result<R, SeatError>>,
}

/// Runs one batch of a showtime: returns one answer per operation, in order
/// (an operation's own failure is part of its answer), or one error for all.
pub(crate) trait Committer<R>: Clone + Send + Sync + 'static {
    /// Runs `ops` as one atomic step on `showtime`.
    fn commit(&self, showtime: &str, ops: &[Pending<R>]) -> impl Future<Output = Result<Vec<R>, SeatError>> + Send;
}

struct Lane<R> {
    queue: VecDeque<Pending<R>>,
}

/// The lanes of one node: showtime → operations waiting for the next batch.
/// A lane exists while its task runs, and its task runs while it has work.
pub(crate) struct Lanes<R> {
    lanes: Mutex<HashMap<String, Lane<R>>>,
}

impl<R: Send + 'static> Lanes<R> {
    pub(crate) fn new() -> Arc<Lanes<R>> {
        Arc::new(Lanes { lanes: Mutex::new(HashMap::new()) })
    }

    /// Queues `op` on the lane of `showtime` and waits for its result.
    pub(crate) async fn submit<C: Committer<R>>(
        self: &Arc<Self>,
        committer: &C,
        showtime: &str,
        op: Op,
        now: Millis,
    ) -> Result<R, SeatError> {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
            let (start, lane) = match lanes.get_mut(showtime) {
                Some(lane) => (false, lane),
                None => (true, lanes.entry(showtime.to_owned()).or_insert_with(|| Lane { queue: VecDeque::new() })),
            };
            if lane.queue.len() >= MAX_QUEUED {
                crate::metrics::lane_refused();
                return Err(SeatError::Storage("too many seat operations queued for this showtime".into()));
            }
            lane.queue.push_back(Pending { op, now, reply: tx });
            crate::metrics::lane_queued();
            start
        };
        if start {
            let (lanes, committer, showtime) = (self.clone(), committer.clone(), showtime.to_owned());
            tokio::spawn(async move { lanes.drive(&committer, showtime).await });
        }
        rx.await.map_err(|_| SeatError::Storage("seat operation dropped".into()))?
    }

    /// The lane's task: sends batches until the queue is empty, then removes
    /// the lane (the next operation starts a new task).
    async fn drive<C: Committer<R>>(self: Arc<Self>, committer: &C, showtime: String) {
        // If this task is dropped or panics mid-batch, the guard removes the
        // lane, so its waiting callers get an error instead of waiting forever.
        let guard = RemoveOnDrop { lanes: &self, showtime: &showtime };
        loop {
            let batch: Vec<Pending<R>> = {
                let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(lane) = lanes.get_mut(&showtime) else { break };
                if lane.queue.is_empty() {
                    lanes.remove(&showtime);
                    break;
                }
                let n = lane.queue.len().min(MAX_BATCH);
                crate::metrics::lane_dequeued(n, true);
                lane.queue.drain(..n).collect()
            };
            match committer.commit(&showtime, &batch).await {
                Ok(results) if results.len() == batch.len() => {
                    for (p, r) in batch.into_iter().zip(results) {
                        let _ = p.reply.send(Ok(r));
                    }
                }
                Ok(results) => {
                    let e = SeatError::Storage(format!("{} results for {} operations", results.len(), batch.len()));
                    for p in batch {
                        let _ = p.reply.send(Err(e.clone()));
                    }
                }
                Err(e) => {
                    for p in batch {
                        let _ = p.reply.send(Err(e.clone()));
                    }
                }
            }
        }
        std::mem::forget(guard);
    }
}

struct RemoveOnDrop<'a, R> {
    lanes: &'a Lanes<R>,
    showtime: &'a str,
}

impl<R> Drop for RemoveOnDrop<'_, R> {
    fn drop(&mut self) {
        let lane = self.lanes.lanes.lock().unwrap_or_else(PoisonError::into_inner).remove(self.showtime);
        crate::metrics::lane_dequeued(lane.map_or(0, |l| l.queue.len()), false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::Semaphore;

    /// Answers each operation with the size of the batch it went out in.
    /// Each batch waits at a gate for one permit the test hands out, so the
    /// test decides when a batch is in flight and when it ends: no wall-clock
    /// waits, and the result does not depend on how fast the machine is.
    #[derive(Clone)]
    struct Gated {
        batches: Arc<AtomicUsize>,
        gate: Arc<Semaphore>,
    }

    impl Gated {
        fn closed() -> Gated {
            Gated { batches: Arc::default(), gate: Arc::new(Semaphore::new(0)) }
        }

        /// Lets `n` more batches finish.
        fn open(&self, n: usize) {
            self.gate.add_permits(n);
        }
    }

    impl Committer<usize> for Gated {
        async fn commit(&self, _showtime: &str, ops: &[Pending<usize>]) -> Result<Vec<usize>, SeatError> {
            self.batches.fetch_add(1, Ordering::SeqCst);
            self.gate.acquire().await.map_err(|e| SeatError::Storage(e.to_string()))?.forget();
            Ok(ops.iter().map(|_| ops.len()).collect())
        }
    }

    fn release(user: &str) -> Op {
        Op::Release { user: user.into(), target: Target::Hold("h1".into()) }
    }

    /// Lets the other tasks run until `done` holds (panics after a bound, so
    /// a broken lane fails the test instead of hanging it).
    async fn until(what: &str, mut done: impl FnMut() -> bool) {
        for _ in 0..1_000_000 {
            if done() {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("never happened: {what}");
    }

    fn queued(lanes: &Lanes<usize>, showtime: &str) -> usize {
        lanes.lanes.lock().unwrap_or_else(PoisonError::into_inner).get(showtime).map_or(0, |l| l.queue.len())
    }

    #[tokio::test]
    async fn operations_arriving_during_a_batch_go_out_together() -> Result<(), SeatError> {
        let lanes = Lanes::<usize>::new();
        let c = Gated::closed();
        let first = tokio::spawn({
            let (lanes, c) = (lanes.clone(), c.clone());
            async move { lanes.submit(&c, "s1", release("a"), 0).await }
        });
        until("the first batch is in flight", || c.batches.load(Ordering::SeqCst) == 1).await;
        let rest: Vec<_> = (0..10)
            .map(|i| {
                let (lanes, c) = (lanes.clone(), c.clone());
                tokio::spawn(async move { lanes.submit(&c, "s1", release(&format!("u{i}")), 0).await })
            })
            .collect();
        until("ten operations wait behind it", || queued(&lanes, "s1") == 10).await;
        c.open(2);
        let sizes = [first].into_iter().chain(rest);
        let mut got = Vec::new();
        for t in sizes {
            got.push(t.await.map_err(|e| SeatError::Storage(e.to_string()))??);
        }
        assert_eq!(got[0], 1, "the first operation goes out alone, without waiting");
        assert!(got[1..].iter().all(|&n| n == 10), "the other ten share one batch: {got:?}");
        assert_eq!(c.batches.load(Ordering::SeqCst), 2);
        assert!(lanes.lanes.lock().unwrap_or_else(PoisonError::into_inner).is_empty(), "idle lanes are removed");
        Ok(())
    }

    #[tokio::test]
    async fn a_full_lane_refuses_at_once() {
        let lanes = Lanes::<usize>::new();
        let c = Gated::closed();
        let mut tasks = Vec::new();
        for i in 0..MAX_QUEUED + 2 {
            let (lanes, c) = (lanes.clone(), c.clone());
            tasks.push(tokio::spawn(async move { lanes.submit(&c, "s1", release(&format!("u{i}")), 0).await }));
        }
        // While the gate is closed only a refused operation can finish, and
        // it does so without any batch completing ("at once").
        until("an operation is refused", || tasks.iter().any(|t| t.is_finished())).await;
        c.open(MAX_QUEUED + 2);
        let (mut ok, mut refused) = (0, 0);
        for t in tasks {
            match t.await {
                Ok(Ok(_)) => ok += 1,
                Ok(Err(e)) => {
                    assert!(e.is_retryable(), "{e}");
                    refused += 1;
                }
                Err(e) => panic!("task failed: {e}"),
            }
        }
        assert!(refused >= 1, "past MAX_QUEUED operations are refused ({ok} ok)");
        assert_eq!(ok + refused, MAX_QUEUED + 2);
    }
}
