//! The in-process engine's topic states are bounded: names a client only
//! touches (history reads, presence lists, read marks, subscribe and
//! unsubscribe of fresh names) do not stay, while topics with subscribers,
//! presence or history keep their epoch; at the cap the least recently used
//! unsubscribed states go first. Room memberships per user are bounded the
//! same way. (The Redis engine keeps no per-name state
//! in the process; its keys expire: `workqueue::every_key_a_client_can_cause_expires`.)

use std::time::Duration;

use bus::{BusConfig, SWEEP_MIN_TOPIC_STATES};

use super::*;

fn engine(config: BusConfig) -> (MemoryBus, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    (MemoryBus::new(config, rec.clone()), rec)
}

#[tokio::test]
async fn touching_20000_fresh_names_leaves_no_state_behind() {
    let (mem, _rec) = engine(config(100));
    let bus = Bus::Memory(mem.clone());
    let (sub, present, published) = (topic("room:sub"), topic("room:present"), topic("room:published"));
    bus.subscribe_node(&sub).await.unwrap();
    bus.presence_add(&present, "s1", json("{}")).await.unwrap();
    bus.publish(&published, json("1")).await.unwrap();
    let mut epochs = Vec::new();
    for t in [&sub, &present, &published] {
        epochs.push(bus.history_after(t, 0, 1).await.unwrap().position);
    }

    let mut most = 0;
    for i in 0..20_000 {
        let t = topic(&format!("room:fresh-{i}"));
        match i % 4 {
            0 => drop(bus.history_after(&t, 0, 10).await.unwrap()),
            1 => drop(bus.presence_list(&t).await.unwrap()),
            2 => drop(bus.mark_read(&t, "guest", 5).await.unwrap()),
            _ => {
                bus.subscribe_node(&t).await.unwrap();
                bus.unsubscribe_node(&t).await.unwrap();
            }
        }
        most = most.max(mem.topic_count());
    }
    assert!(most <= SWEEP_MIN_TOPIC_STATES, "at most {SWEEP_MIN_TOPIC_STATES} states at once, saw {most}");
    assert!(mem.topic_count() < 20_000 / 10, "the count dropped back: {}", mem.topic_count());
    for (t, pos) in [&sub, &present, &published].into_iter().zip(epochs) {
        let now = bus.history_after(t, 0, 1).await.unwrap().position;
        assert_eq!(now, pos, "{t} kept its epoch and offset");
    }
}

#[tokio::test]
async fn history_older_than_the_history_ttl_is_dropped_with_its_state() {
    let (mem, _rec) = engine(BusConfig { history_ttl: Duration::from_millis(200), ..config(100) });
    let bus = Bus::Memory(mem.clone());
    let old = topic("room:old");
    let first = bus.publish(&old, json("1")).await.unwrap();
    // Fresh names make sweeps run; once the history is older than the TTL a
    // sweep drops it, as Redis lets the stream and its epoch expire.
    let mut round = 0;
    let after = eventually(Duration::from_secs(10), "the old history to be dropped", || {
        round += 1;
        let bus = bus.clone();
        let old = old.clone();
        async move {
            for i in 0..SWEEP_MIN_TOPIC_STATES {
                bus.history_after(&topic(&format!("room:r{round}-{i}")), 0, 1).await.unwrap();
            }
            let page = bus.history_after(&old, 0, 10).await.unwrap();
            (page.position.offset == 0).then_some(page)
        }
    })
    .await;
    assert!(after.entries.is_empty());
    assert_ne!(after.position.epoch, first.epoch, "a new life of the topic: a recovery from the old one fails");
}

#[tokio::test]
async fn at_the_cap_the_least_recently_used_unsubscribed_states_are_evicted() {
    let cap = 2_000;
    let (mem, _rec) = engine(BusConfig { max_topic_states: cap, ..config(100) });
    let bus = Bus::Memory(mem.clone());
    let listened = topic("room:listened");
    bus.subscribe_node(&listened).await.unwrap();
    let kept = bus.publish(&listened, json("1")).await.unwrap();
    // 3,000 topics with history: none is idle, so only the cap bounds them.
    for i in 0..3_000 {
        bus.publish(&topic(&format!("room:busy-{i}")), json("1")).await.unwrap();
        assert!(mem.topic_count() <= cap, "the cap holds: {}", mem.topic_count());
    }
    let oldest = bus.history_after(&topic("room:busy-0"), 0, 10).await.unwrap();
    assert_eq!(oldest.position.offset, 0, "the least recently used state was evicted");
    let newest = bus.history_after(&topic("room:busy-2999"), 0, 10).await.unwrap();
    assert_eq!(newest.position.offset, 1, "a recent one was kept");
    let now = bus.history_after(&listened, 0, 10).await.unwrap();
    assert_eq!(now.position, kept, "a subscribed topic is never evicted, however old");
}

#[tokio::test]
async fn room_memberships_of_many_users_are_capped_least_recent_first() {
    let cap = 2_000;
    let (mem, _rec) = engine(BusConfig { max_members: cap, ..config(100) });
    let bus = Bus::Memory(mem.clone());
    let lobby = topic("room:lobby");
    bus.publish(&lobby, json("1")).await.unwrap();
    // 3,000 guests each join the room: one membership per user.
    for i in 0..3_000 {
        bus.add_member(&format!("guest-{i}"), &lobby).await.unwrap();
        assert!(mem.member_count() <= cap, "the cap holds: {}", mem.member_count());
    }
    assert!(bus.unread("guest-0").await.unwrap().is_empty(), "the least recent joiner was forgotten");
    assert_eq!(bus.unread("guest-2999").await.unwrap(), [("room:lobby".to_owned(), 1)], "a recent one is kept");
}

#[tokio::test]
async fn memberships_older_than_the_history_ttl_are_dropped() {
    let (mem, _rec) = engine(BusConfig { history_ttl: Duration::from_millis(200), ..config(100) });
    let bus = Bus::Memory(mem.clone());
    bus.add_member("old-guest", &topic("room:lobby")).await.unwrap();
    assert_eq!(bus.unread("old-guest").await.unwrap().len(), 1);
    // New members make sweeps run; once the old membership is older than the
    // TTL (Redis lets `mq:{user:<u>}:rooms` expire then) a sweep drops it.
    let mut round = 0;
    eventually(Duration::from_secs(10), "the old membership to be dropped", || {
        round += 1;
        let bus = bus.clone();
        async move {
            for i in 0..SWEEP_MIN_TOPIC_STATES {
                bus.add_member(&format!("g{round}-{i}"), &topic("room:lobby")).await.unwrap();
            }
            bus.unread("old-guest").await.unwrap().is_empty().then_some(())
        }
    })
    .await;
    assert!(mem.member_count() > 0, "recent members stay");
}
