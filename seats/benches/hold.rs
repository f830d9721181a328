//! Benchmarks of the seat store's hot path, the hold script: one hold plus
//! its release per iteration (so seats never run out), on each engine, and
//! the same from 64 concurrent tasks over one Redis connection. Redis runs as
//! a real redis-server on a free port, as in the tests.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bus::{BusConfig, BusEvent, Deliver, MemoryBus, RedisBus, Topic};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use seats::{Clock, HoldRequest, ReleaseTarget, SeatStore};
use tokio_util::sync::CancellationToken;

const SHOWTIME: &str = "gangnam-1-20261122-2000";
const TASKS: u64 = 64;

struct Discard;

impl Deliver for Discard {
    fn deliver(&self, _: &Topic, _: BusEvent) {}
    fn resync(&self) {}
}

static KEY: AtomicU64 = AtomicU64::new(0);

/// Holds `seat` and releases it again.
async fn hold_release(store: &SeatStore, user: &str, seat: &str) {
    let key = format!("k{}", KEY.fetch_add(1, Ordering::Relaxed));
    let req = HoldRequest {
        showtime: SHOWTIME.into(),
        user: user.into(),
        seats: vec![seat.into()],
        ttl: None,
        idempotency_key: key,
        tickets: None,
    };
    let hold = store.hold(req).await.unwrap();
    store.release(SHOWTIME, user, ReleaseTarget::Hold(hold.hold_id)).await.unwrap();
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server = testkit::RedisServer::start();
    let schedule = || seats::demo::schedule(jiff::civil::date(2026, 11, 22)).unwrap();
    let shutdown = CancellationToken::new();
    // Holds never touch the ledger; it is there because a store needs one.
    let data = tempfile::tempdir().unwrap();
    let redis = rt.block_on(async {
        let bus =
            RedisBus::connect(&server.url(), BusConfig::default(), Arc::new(Discard), shutdown.clone()).await.unwrap();
        let ledger = ledger::Ledger::open_in_dir(&data.path().join("redis")).await.unwrap();
        SeatStore::redis(bus, BusConfig::default(), schedule(), Clock::System, ledger)
    });
    let memory = rt.block_on(async {
        let ledger = ledger::Ledger::open_in_dir(&data.path().join("memory")).await.unwrap();
        SeatStore::memory(MemoryBus::new(BusConfig::default(), Arc::new(Discard)), schedule(), Clock::System, ledger)
    });
    let seats: Vec<String> = rt.block_on(async {
        redis.snapshot(SHOWTIME, None).await.unwrap().seats.iter().map(|s| s.seat.to_string()).collect()
    });

    let mut group = c.benchmark_group("hold_release_single_seat");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(5));
    for (name, store) in [("memory", &memory), ("redis", &redis)] {
        group.bench_function(name, |b| b.iter(|| rt.block_on(hold_release(store, "bench", "A1"))));
    }
    group.finish();

    let mut group = c.benchmark_group("hold_release_64_tasks");
    group.throughput(Throughput::Elements(TASKS));
    group.measurement_time(Duration::from_secs(5));
    for (name, store) in [("memory", &memory), ("redis", &redis)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    let mut tasks = Vec::new();
                    for t in 0..TASKS {
                        let (store, seat) = (store.clone(), seats[t as usize].clone());
                        tasks.push(tokio::spawn(async move {
                            let user = format!("u{t}");
                            for _ in 0..iters {
                                hold_release(&store, &user, &seat).await;
                            }
                        }));
                    }
                    for t in tasks {
                        t.await.unwrap();
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
    shutdown.cancel();
}

criterion_group!(benches, bench);
criterion_main!(benches);
