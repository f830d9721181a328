//! Benchmarks of the gateway's hot paths: decoding a client frame, encoding a
//! `pub` frame from a stored payload, and the hub's local fan-out of one
//! publication to N subscribers' mailboxes (encode once, share the bytes).

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use bus::{BusEvent, Deliver, Topic};
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gateway::hub::{Hub, Mailbox};
use gateway::metrics::Metrics;
use gateway::wire;

fn frames(c: &mut Criterion) {
    let publish = r#"{"type":"publish","id":42,"topic":"room:lobby","data":{"text":"무서운 영화 말고 가족 영화 뭐 있어?","lang":"ko"}}"#;
    let subscribe =
        r#"{"type":"subscribe","id":7,"topic":"showtime:gangnam-1","recover":{"epoch":"ab12cd34","offset":1234}}"#;
    let mut g = c.benchmark_group("frame");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_publish", |b| b.iter(|| wire::decode(std::hint::black_box(publish)).unwrap()));
    g.bench_function("decode_subscribe", |b| b.iter(|| wire::decode(std::hint::black_box(subscribe)).unwrap()));
    let stored = br#"{"data":{"text":"is the new thriller any good?"},"info":{"user":"guest-1a2b","name":"Kim"}}"#;
    g.bench_function("encode_pub", |b| b.iter(|| wire::pub_frame("room:lobby", 123_456, std::hint::black_box(stored))));
    g.finish();
}

fn fanout(c: &mut Criterion) {
    let mut g = c.benchmark_group("fanout");
    for n in [100usize, 1_000, 10_000] {
        let metrics = Arc::new(Metrics::default());
        let hub = Hub::new(metrics.clone());
        let topic = Topic::parse("room:bench").unwrap();
        let mut receivers = Vec::with_capacity(n);
        for id in 0..n as u64 {
            let (mailbox, rx) = Mailbox::new(id, 1 << 20, usize::MAX);
            hub.add(&topic, mailbox);
            receivers.push(rx);
        }
        let data = Bytes::from_static(br#"{"data":{"text":"hello"},"info":{"user":"u1","name":"Kim"}}"#);
        let epoch: Arc<str> = "ab12cd34".into();
        let mut offset = 0;
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("deliver", n), &n, |b, _| {
            b.iter(|| {
                offset += 1;
                hub.deliver(&topic, BusEvent::Publication { offset, epoch: epoch.clone(), data: data.clone() });
                // Drain so the mailboxes never fill (the session task's job).
                for rx in &mut receivers {
                    while rx.try_recv().is_ok() {}
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, frames, fanout);
criterion_main!(benches);
