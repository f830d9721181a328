//! Two nodes on one Redis: fan-out, order, recovery, presence, unread,
//! slow consumers and Redis going away.

use std::time::Duration;

use serde_json::json;
use testkit::{RedisServer, eventually};

use crate::support::{Client, Closed, Node, redis_cli};

async fn pair(redis: &RedisServer) -> (Node, Node) {
    (Node::start(Some(redis), "a", |_| {}).await, Node::start(Some(redis), "b", |_| {}).await)
}

#[tokio::test]
async fn publish_on_one_node_reaches_subscribers_on_both_in_order() {
    let redis = RedisServer::start();
    let (a, b) = pair(&redis).await;
    let mut on_a = Client::connect(&a, "alice").await;
    let mut on_b = Client::connect(&b, "bob").await;
    let mut publisher = Client::connect(&a, "carol").await;
    assert_eq!(on_a.welcome["node"], "a");
    assert_eq!(on_b.welcome["node"], "b");
    for c in [&mut on_a, &mut on_b, &mut publisher] {
        c.subscribe("room:order").await;
    }
    for i in 0..30 {
        let r = publisher.publish("room:order", json!({"n": i, "text": "안녕하세요"})).await;
        assert_eq!(r["type"], "published", "{r}");
        assert_eq!(r["offset"], i + 1);
    }
    for c in [&mut on_a, &mut on_b] {
        for i in 0..30 {
            let p = c.next_pub("room:order").await;
            assert_eq!(p["offset"], i + 1);
            assert_eq!(p["data"], json!({"n": i, "text": "안녕하세요"}), "data verbatim");
            assert_eq!(p["info"]["user"], "carol");
        }
    }
}

#[tokio::test]
async fn reconnecting_to_the_other_node_recovers_exactly_what_was_missed() {
    let redis = RedisServer::start();
    let (a, b) = pair(&redis).await;
    let mut reader = Client::connect(&a, "alice").await;
    let mut writer = Client::connect(&b, "bob").await;
    let sub = reader.subscribe("room:recover").await;
    writer.subscribe("room:recover").await;
    let epoch = sub["epoch"].as_str().unwrap().to_owned();
    for i in 1..=3 {
        writer.publish("room:recover", json!(i)).await;
    }
    let mut last = 0;
    for _ in 0..3 {
        last = reader.next_pub("room:recover").await["offset"].as_u64().unwrap();
    }
    assert_eq!(last, 3);
    drop(reader);
    for i in 4..=9 {
        writer.publish("room:recover", json!(i)).await;
    }
    // Reconnect to the other node with where we left off.
    let mut back = Client::connect(&b, "alice").await;
    let r = back
        .request(json!({"type": "subscribe", "topic": "room:recover", "recover": {"epoch": epoch, "offset": last}}))
        .await;
    assert_eq!(r["type"], "subscribed");
    assert_eq!(r["recovered"], true, "{r}");
    for i in 4..=9u64 {
        let p = back.next_pub("room:recover").await;
        assert_eq!((p["offset"].as_u64(), p["data"].as_u64()), (Some(i), Some(i)));
    }
    // Live delivery continues without a gap or duplicate.
    writer.publish("room:recover", json!(10)).await;
    assert_eq!(back.next_pub("room:recover").await["offset"], 10);
}

#[tokio::test]
async fn recovery_past_trimmed_history_or_with_a_stale_epoch_says_cannot_recover() {
    let redis = RedisServer::start();
    let a = Node::start(Some(&redis), "a", |c| c.history_size = 5).await;
    let mut writer = Client::connect(&a, "bob").await;
    let sub = writer.subscribe("room:trim").await;
    let epoch = sub["epoch"].as_str().unwrap().to_owned();
    for i in 1..=12 {
        writer.publish("room:trim", json!(i)).await;
    }
    let mut c = Client::connect(&a, "alice").await;
    let r =
        c.request(json!({"type": "subscribe", "topic": "room:trim", "recover": {"epoch": epoch, "offset": 2}})).await;
    assert_eq!(r["recovered"], false, "offsets 3..7 were trimmed: {r}");
    assert_eq!(r["offset"], 12, "live delivery continues after the current offset");
    // No partial recovery: nothing of the history is sent.
    writer.publish("room:trim", json!(13)).await;
    assert_eq!(c.next_pub("room:trim").await["offset"], 13);

    let mut d = Client::connect(&a, "dave").await;
    let r = d
        .request(json!({"type": "subscribe", "topic": "room:trim", "recover": {"epoch": "other", "offset": 12}}))
        .await;
    assert_eq!(r["recovered"], false, "a different epoch cannot be recovered");
    // Within the kept history, recovery works.
    let mut e = Client::connect(&a, "erin").await;
    let r =
        e.request(json!({"type": "subscribe", "topic": "room:trim", "recover": {"epoch": epoch, "offset": 10}})).await;
    assert_eq!(r["recovered"], true);
    for i in 11..=13 {
        assert_eq!(e.next_pub("room:trim").await["offset"], i);
    }
}

#[tokio::test]
async fn a_stalled_reader_is_dropped_while_others_keep_receiving() {
    let redis = RedisServer::start();
    // A generous byte budget (the frame limit, 1024, still applies) so that
    // healthy readers on a busy CI machine never come near it; the stalled
    // one still overflows: 2,000 × 8 KiB is more than the kernel's socket
    // buffers (≤ 4 MiB send, 4 KiB receive here) plus the queue.
    let tweak = |c: &mut gateway::Config| {
        c.publish_rate = 100_000;
        c.outbound_bytes = 4 * 1024 * 1024;
    };
    let a = Node::start(Some(&redis), "a", |c| {
        tweak(c);
        c.history_size = 3000;
    })
    .await;
    let b = Node::start(Some(&redis), "b", tweak).await;
    let mut stalled = Client::connect_stalling(&a, "slow").await;
    stalled.subscribe("room:firehose").await;
    let mut healthy_a = Client::connect(&a, "fast-a").await;
    let mut healthy_b = Client::connect(&b, "fast-b").await;
    healthy_a.subscribe("room:firehose").await;
    healthy_b.subscribe("room:firehose").await;
    let mut publisher = Client::connect(&b, "pub").await;
    publisher.subscribe("room:firehose").await;
    // More than the kernel's socket buffers hold, so the stalled client's
    // queue must overflow.
    let big = "x".repeat(8 * 1024);
    let total = 2000u64;
    let reader = |mut c: Client| {
        tokio::spawn(async move {
            for i in 1..=total {
                let p = c.next_pub("room:firehose").await;
                assert_eq!(p["offset"], i);
            }
        })
    };
    let (ra, rb) = (reader(healthy_a), reader(healthy_b));
    let publishing = tokio::spawn(async move {
        for _ in 0..total {
            let r = publisher.publish("room:firehose", json!({ "blob": big })).await;
            assert_eq!(r["type"], "published");
        }
    });
    // The stalled client never reads; its queue overflows and the node
    // closes it as a slow consumer.
    eventually(Duration::from_secs(30), "slow consumer detected", || async {
        a.get("/metrics").await.1.contains("marquee_slow_disconnects_total 1").then_some(())
    })
    .await;
    // Reading again now, it gets what was buffered, then the close reason.
    assert_eq!(stalled.closed().await, Closed::Code(4008, "slow consumer: outbound queue overflow".into()));
    // Everyone else got every publication, in order.
    publishing.await.unwrap();
    ra.await.unwrap();
    rb.await.unwrap();
}

#[tokio::test]
async fn presence_and_unread_counts_are_right_across_nodes() {
    let redis = RedisServer::start();
    let (a, b) = pair(&redis).await;
    let mut alice = Client::connect(&a, "alice").await;
    alice.subscribe("room:p").await;
    let mut bob = Client::connect(&b, "bob").await;
    bob.subscribe("room:p").await;
    let join = alice.recv_where(|v| v["type"] == "join" && v["client"]["user"] == "bob").await;
    assert_eq!(join["topic"], "room:p");
    let p = alice.request(json!({"type": "presence", "topic": "room:p"})).await;
    let mut users: Vec<&str> = p["clients"].as_array().unwrap().iter().map(|c| c["user"].as_str().unwrap()).collect();
    users.sort();
    assert_eq!(users, vec!["alice", "bob"]);

    for i in 0..4 {
        bob.publish("room:p", json!(i)).await;
    }
    // Alice has read up to offset 1 on node a; her unread count on node b is 3.
    let r = alice.request(json!({"type": "mark_read", "topic": "room:p", "offset": 1})).await;
    assert_eq!(r["counts"]["room:p"], 3);
    let mut alice_b = Client::connect(&b, "alice").await;
    let r = alice_b.request(json!({"type": "unread"})).await;
    assert_eq!(r["counts"], json!({"room:p": 3}));
    drop(alice_b);

    drop(bob);
    let leave = alice.recv_where(|v| v["type"] == "leave").await;
    assert_eq!(leave["client"]["user"], "bob");
    let p = alice.request(json!({"type": "presence", "topic": "room:p"})).await;
    assert_eq!(p["clients"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_stalled_redis_makes_readyz_say_503_and_ready_again_when_it_resumes() {
    let redis = RedisServer::start();
    let a = Node::start(Some(&redis), "a", |_| {}).await;
    assert_eq!(a.get("/readyz").await.0, 200);
    // SIGSTOP: the sockets stay connected, nothing answers.
    redis.pause();
    let (status, body) = a.get("/readyz").await;
    redis.resume();
    assert_eq!(status, 503, "a connected but stalled Redis is not ready: {body}");
    assert!(body.contains("bus unavailable"), "{body}");
    eventually(Duration::from_secs(10), "ready again after SIGCONT", || async {
        (a.get("/readyz").await.0 == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn redis_restart_is_reported_and_clients_are_told_to_refetch() {
    let mut redis = RedisServer::start();
    let port = redis.port();
    let a = Node::start(Some(&redis), "a", |_| {}).await;
    let mut c = Client::connect(&a, "alice").await;
    c.subscribe("room:r").await;
    c.publish("room:r", json!(1)).await;
    assert_eq!(c.next_pub("room:r").await["offset"], 1);
    assert_eq!(a.get("/readyz").await.0, 200);

    redis.kill();
    eventually(Duration::from_secs(10), "readyz reports not ready", || async {
        (a.get("/readyz").await.0 == 503).then_some(())
    })
    .await;
    let r = c.publish("room:r", json!(2)).await;
    assert_eq!((r["type"].as_str(), r["code"].as_str()), (Some("error"), Some("unavailable")), "{r}");

    let _redis = RedisServer::start_on(port);
    eventually(Duration::from_secs(15), "ready again", || async { (a.get("/readyz").await.0 == 200).then_some(()) })
        .await;
    // Redis came back empty: the topic has a new epoch, so the client is
    // told its state is stale instead of silently missing anything.
    let reset = c.recv_where(|v| v["type"] == "reset").await;
    assert_eq!(reset["topic"], "room:r");
    assert_eq!(reset["offset"], 0);
    let r = c.publish("room:r", json!(3)).await;
    assert_eq!(r["offset"], 1);
    assert_eq!(c.next_pub("room:r").await["data"], 3);
}

/// Sends `publish` with `idem` until it is answered with `published` (Redis
/// stopped: each attempt times out as `unavailable`, which means "may have
/// happened", so the client retries with the same key); returns the answer.
async fn publish_until_answered(c: &mut Client, topic: &str, data: serde_json::Value, idem: &str) -> serde_json::Value {
    for _ in 0..20 {
        let r = c.request(json!({"type": "publish", "topic": topic, "data": data, "idem": idem})).await;
        if r["type"] == "published" {
            return r;
        }
        assert_eq!((r["type"].as_str(), r["code"].as_str()), (Some("error"), Some("unavailable")), "{r}");
    }
    panic!("publish was never answered");
}

#[tokio::test]
async fn a_publish_retried_with_its_idem_key_while_redis_is_stopped_appears_once() {
    let redis = RedisServer::start();
    let (a, b) = pair(&redis).await;
    let mut reader = Client::connect(&b, "alice").await;
    let mut writer = Client::connect(&a, "bob").await;
    reader.subscribe("room:retry").await;
    writer.subscribe("room:retry").await;
    // SIGSTOP: every attempt times out, but its command waits in Redis's
    // socket buffer and runs on SIGCONT.
    redis.pause();
    for _ in 0..3 {
        let r = writer
            .request(json!({"type": "publish", "topic": "room:retry", "data": {"text": "once"}, "idem": "send-1"}))
            .await;
        assert_eq!((r["type"].as_str(), r["code"].as_str()), (Some("error"), Some("unavailable")), "{r}");
    }
    redis.resume();
    let r = publish_until_answered(&mut writer, "room:retry", json!({"text": "once"}), "send-1").await;
    // The timed-out attempts ran on resume, ahead of this retry on the same
    // connection, so the retry is normally the duplicate (seen every run);
    // whichever attempt ran first, only one may have published.
    assert_eq!(r["offset"], 1, "the retry learns the first publication's offset: {r}");

    let p = reader.next_pub("room:retry").await;
    assert_eq!((p["offset"].as_u64(), &p["data"]), (Some(1), &json!({"text": "once"})));
    // Nothing more was published: the next publication is offset 2, and it
    // is the next frame the reader gets.
    let next = writer.publish("room:retry", json!({"text": "after"})).await;
    assert_eq!(next["offset"], 2, "{next}");
    let p = reader.next_pub("room:retry").await;
    assert_eq!((p["offset"].as_u64(), &p["data"]), (Some(2), &json!({"text": "after"})));
    let h = reader.request(json!({"type": "history", "topic": "room:retry", "after": 0})).await;
    let offsets: Vec<u64> = h["pubs"].as_array().unwrap().iter().filter_map(|p| p["offset"].as_u64()).collect();
    assert_eq!(offsets, [1, 2], "exactly one copy in history: {h}");
    // Retrying once more, on the other node, is answered as a duplicate.
    let mut writer_on_b = Client::connect(&b, "bob").await;
    writer_on_b.subscribe("room:retry").await;
    let again = publish_until_answered(&mut writer_on_b, "room:retry", json!({"text": "once"}), "send-1").await;
    assert_eq!((again["offset"].as_u64(), &again["duplicate"]), (Some(1), &json!(true)), "{again}");
    // Another user's identical key is another publication.
    let other = publish_until_answered(&mut reader, "room:retry", json!({"text": "mine"}), "send-1").await;
    assert_eq!((other["offset"].as_u64(), other.get("duplicate")), (Some(3), None), "{other}");
}

#[tokio::test]
async fn recovery_past_history_trimmed_by_its_byte_budget_says_cannot_recover() {
    let redis = RedisServer::start();
    // About 200 bytes per stored publication: 1,000 bytes keep 4 or 5.
    let a = Node::start(Some(&redis), "a", |c| c.history_bytes = 1_000).await;
    let mut writer = Client::connect(&a, "bob").await;
    let sub = writer.subscribe("room:bytes").await;
    let epoch = sub["epoch"].as_str().unwrap().to_owned();
    let text = "x".repeat(150);
    for i in 1..=12 {
        writer.publish("room:bytes", json!({"n": i, "text": text})).await;
    }
    let h = writer.request(json!({"type": "history", "topic": "room:bytes", "after": 0})).await;
    let first = h["first"].as_u64().unwrap();
    assert!(first > 3 && h["offset"] == 12, "the byte budget trimmed the oldest: {h}");
    let mut c = Client::connect(&a, "alice").await;
    let r = c
        .request(json!({"type": "subscribe", "topic": "room:bytes", "recover": {"epoch": epoch, "offset": first - 2}}))
        .await;
    assert_eq!(r["recovered"], false, "offset {} was trimmed: {r}", first - 1);
    writer.publish("room:bytes", json!({"n": 13})).await;
    assert_eq!(c.next_pub("room:bytes").await["offset"], 13, "no partial history was sent");
    let mut d = Client::connect(&a, "dave").await;
    let r = d
        .request(json!({"type": "subscribe", "topic": "room:bytes", "recover": {"epoch": epoch, "offset": first - 1}}))
        .await;
    assert_eq!(r["recovered"], true, "from the oldest kept offset on it recovers: {r}");
    for i in first..=13 {
        assert_eq!(d.next_pub("room:bytes").await["offset"], i);
    }
}

fn keys_of(topic: &str) -> bus::keys::TopicKeys {
    bus::keys::TopicKeys::new(&bus::Topic::parse(topic).expect("valid topic"))
}

fn is_chat_event(v: &serde_json::Value, mid: &str, event: &str) -> bool {
    v["type"] == "pub" && v["data"]["type"] == "chat" && v["data"]["message_id"] == mid && v["data"]["event"] == event
}

#[tokio::test]
async fn a_chat_whose_claim_ran_after_it_timed_out_is_still_answered_when_retried() {
    let redis = RedisServer::start();
    let a = Node::start(Some(&redis), "a", |_| {}).await;
    let mut c = Client::connect(&a, "alice").await;
    c.subscribe("user:alice").await;
    let chat = json!({"type": "chat", "message_id": "m-stall", "conversation": "c1", "text": "가족 영화 뭐 있어?"});
    // Writes wait and reads are answered for 4 s: the accept's queue-depth
    // read is answered, its claim waits past the 2 s command timeout (the
    // client gets `unavailable`) and runs when the pause ends; the queueing
    // that would have followed it was never sent.
    redis_cli(&redis, &["CLIENT", "PAUSE", "4000", "WRITE"]);
    let r = c.request(chat.clone()).await;
    assert_eq!((r["type"].as_str(), r["code"].as_str()), (Some("error"), Some("unavailable")), "{r}");
    let echo = c.recv_where_within(Duration::from_secs(10), |v| is_chat_event(v, "m-stall", "message")).await;
    assert_eq!(echo["data"]["text"], "가족 영화 뭐 있어?", "the claim (and its echo) ran late: {echo}");
    // A retry while Redis is stopped: `unavailable` again.
    redis.pause();
    let r = c.request(chat.clone()).await;
    redis.resume();
    assert_eq!((r["type"].as_str(), r["code"].as_str()), (Some("error"), Some("unavailable")), "{r}");
    let mut accepted = None;
    for _ in 0..10 {
        let r = c.request(chat.clone()).await;
        if r["type"] == "chat_accepted" {
            accepted = Some(r);
            break;
        }
        assert_eq!(r["code"], "unavailable", "{r}");
    }
    let accepted = accepted.expect("a retry is accepted once Redis answers");
    // Whichever retry queued it, the message is answered, once.
    let fin = c
        .recv_where_within(Duration::from_secs(60), |v| {
            is_chat_event(v, "m-stall", "final") || is_chat_event(v, "m-stall", "message")
        })
        .await;
    assert!(is_chat_event(&fin, "m-stall", "final"), "the echo is not published again: {fin} (accepted: {accepted})");
    let again = c.request(chat.clone()).await;
    assert_eq!((again["type"].as_str(), &again["duplicate"]), (Some("chat_accepted"), &json!(true)), "{again}");
    let h = c.request(json!({"type": "history", "topic": "user:alice", "after": 0})).await;
    let count = |event: &str| {
        h["pubs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["data"]["message_id"] == "m-stall" && p["data"]["event"] == event)
            .count()
    };
    assert_eq!((count("message"), count("final")), (1, 1), "one echo and one answer: {h}");
}

#[tokio::test]
async fn a_join_that_fails_after_its_presence_was_recorded_leaves_no_presence_behind() {
    let redis = RedisServer::start();
    let (a, b) = pair(&redis).await;
    // The room's read marks are not a hash, so the join's last step (its
    // read mark) fails after its presence entry was written.
    let reads = keys_of("room:ghost").reads;
    redis_cli(&redis, &["SET", &reads, "not-a-hash"]);
    let mut alice = Client::connect(&a, "alice").await;
    let r = alice.request(json!({"type": "subscribe", "topic": "room:ghost"})).await;
    assert_eq!((r["type"].as_str(), r["code"].as_str()), (Some("error"), Some("unavailable")), "{r}");
    let mut bob = Client::connect(&b, "bob").await;
    let p = bob.request(json!({"type": "presence", "topic": "room:ghost"})).await;
    assert_eq!(p["clients"], json!([]), "a failed join is not present: {p}");
    // Nor after the connection ends: nothing is left for the node's
    // presence refresh to keep alive.
    drop(alice);
    let mut again = Client::connect(&a, "alice").await;
    let r = again.request(json!({"type": "presence", "topic": "room:ghost"})).await;
    assert_eq!(r["clients"], json!([]), "{r}");
    // Once the fault is gone the same user joins normally.
    redis_cli(&redis, &["DEL", &reads]);
    again.subscribe("room:ghost").await;
    let p = bob.request(json!({"type": "presence", "topic": "room:ghost"})).await;
    let users: Vec<&str> = p["clients"].as_array().unwrap().iter().filter_map(|c| c["user"].as_str()).collect();
    assert_eq!(users, ["alice"], "{p}");
}

/// How many connections are subscribed to `topic`'s channel in Redis.
fn channel_subscribers(redis: &RedisServer, topic: &str) -> u64 {
    let out = redis_cli(redis, &["PUBSUB", "NUMSUB", &keys_of(topic).channel]);
    out.lines().last().and_then(|n| n.trim().parse().ok()).unwrap_or_else(|| panic!("NUMSUB answered {out:?}"))
}

#[tokio::test]
async fn a_bus_unsubscribe_that_failed_is_retried_when_redis_is_back() {
    let mut redis = RedisServer::start();
    let port = redis.port();
    let a = Node::start(Some(&redis), "a", |_| {}).await;
    let mut c = Client::connect(&a, "alice").await;
    c.subscribe("room:left").await;
    c.subscribe("room:kept").await;
    assert_eq!((channel_subscribers(&redis, "room:left"), channel_subscribers(&redis, "room:kept")), (1, 1));
    redis.kill();
    eventually(Duration::from_secs(10), "readyz reports not ready", || async {
        (a.get("/readyz").await.0 == 503).then_some(())
    })
    .await;
    // The node's `UNSUBSCRIBE` fails; the client is unsubscribed anyway.
    let r = c.request(json!({"type": "unsubscribe", "topic": "room:left"})).await;
    assert_eq!(r["type"], "unsubscribed", "{r}");
    let redis = RedisServer::start_on(port);
    eventually(Duration::from_secs(15), "ready again", || async { (a.get("/readyz").await.0 == 200).then_some(()) })
        .await;
    // The reconnect resubscribes what the connection still had; the node
    // releases the channel nobody here wants and keeps the other.
    eventually(Duration::from_secs(15), "room:left released in Redis", || async {
        (channel_subscribers(&redis, "room:left") == 0).then_some(())
    })
    .await;
    assert_eq!(channel_subscribers(&redis, "room:kept"), 1);
    // And subscribing again later works.
    let mut bob = Client::connect(&a, "bob").await;
    bob.subscribe("room:left").await;
    assert_eq!(channel_subscribers(&redis, "room:left"), 1);
}

#[tokio::test]
async fn a_bus_subscribe_that_timed_out_is_released_when_redis_resumes() {
    let redis = RedisServer::start();
    let a = Node::start(Some(&redis), "a", |_| {}).await;
    let mut c = Client::connect(&a, "alice").await;
    // SIGSTOP: the node's `SUBSCRIBE` times out but waits in Redis's socket
    // buffer and runs on SIGCONT.
    redis.pause();
    c.send(json!({"type": "subscribe", "topic": "room:stalled", "id": 1})).await;
    let r = c.recv_where_within(Duration::from_secs(15), |v| v["id"] == 1).await;
    redis.resume();
    assert_eq!((r["type"].as_str(), r["code"].as_str()), (Some("error"), Some("unavailable")), "{r}");
    eventually(Duration::from_secs(10), "ready again", || async { (a.get("/readyz").await.0 == 200).then_some(()) })
        .await;
    // Nobody here subscribes, so the node releases the subscription the
    // late `SUBSCRIBE` made (its confirming `PING` timed out, so the node
    // had answered `unavailable`).
    eventually(Duration::from_secs(10), "no subscription left in Redis", || async {
        (channel_subscribers(&redis, "room:stalled") == 0).then_some(())
    })
    .await;
    c.subscribe("room:stalled").await;
    assert_eq!(channel_subscribers(&redis, "room:stalled"), 1);
}
