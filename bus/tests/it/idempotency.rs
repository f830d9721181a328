//! Idempotent publishing on both engines: a retried key publishes once and
//! answers the first publication's position; keys are per topic, expire
//! after the window and are bounded per topic.

use std::time::Duration;

use bus::{BusConfig, BusError};

use super::*;

fn with_window(window: Duration, keys: usize) -> BusConfig {
    BusConfig { idempotency_window: window, max_idempotency_keys: keys, ..config(100) }
}

both_engines!(a_retried_key_publishes_once_and_answers_the_first_position, 100, |e: Engine| async move {
    let t = topic("room:idem");
    e.bus.subscribe_node(&t).await.unwrap();
    let first = e.bus.publish_idempotent(&t, json("{\"n\":1}"), "u1:k1").await.unwrap();
    assert!(!first.duplicate);
    assert_eq!(first.position.offset, 1);
    for _ in 0..3 {
        // The retry's data is not compared: the key alone decides.
        let again = e.bus.publish_idempotent(&t, json("{\"n\":\"retry\"}"), "u1:k1").await.unwrap();
        assert!(again.duplicate, "a retry is a duplicate");
        assert_eq!(again.position, first.position, "the first publication's offset and epoch");
    }
    let other = e.bus.publish_idempotent(&t, json("{\"n\":2}"), "u1:k2").await.unwrap();
    assert_eq!((other.position.offset, other.duplicate), (2, false), "another key publishes");
    let plain = e.bus.publish(&t, json("{\"n\":3}")).await.unwrap();
    assert_eq!(plain.offset, 3, "publishing without a key is unchanged");
    // The same key on another topic is another publication.
    let elsewhere = e.bus.publish_idempotent(&topic("room:idem-2"), json("1"), "u1:k1").await.unwrap();
    assert_eq!((elsewhere.position.offset, elsewhere.duplicate), (1, false));

    let page = e.bus.history_after(&t, 0, 100).await.unwrap();
    let kept: Vec<(u64, String)> =
        page.entries.iter().map(|x| (x.offset, String::from_utf8_lossy(&x.data).into_owned())).collect();
    assert_eq!(kept, [(1, "{\"n\":1}".into()), (2, "{\"n\":2}".into()), (3, "{\"n\":3}".into())]);
    let delivered = eventually(Duration::from_secs(5), "3 deliveries", || {
        let o = e.rec.offsets("room:idem");
        async move { (o.len() >= 3).then_some(o) }
    })
    .await;
    assert_eq!(delivered, [1, 2, 3], "a duplicate is not delivered");
});

both_engines!(a_bad_key_is_refused_before_anything_is_published, 100, |e: Engine| async move {
    let t = topic("room:idem-bad");
    assert!(matches!(e.bus.publish_idempotent(&t, json("1"), "").await, Err(BusError::BadIdempotencyKey)));
    let long = "k".repeat(bus::MAX_IDEMPOTENCY_KEY_LEN + 1);
    assert!(matches!(e.bus.publish_idempotent(&t, json("1"), &long).await, Err(BusError::BadIdempotencyKey)));
    assert_eq!(e.bus.history_after(&t, 0, 10).await.unwrap().position.offset, 0, "nothing was published");
});

both_engines_with!(
    a_key_is_forgotten_after_the_window,
    with_window(Duration::from_millis(300), 100),
    |e: Engine| async move {
        let t = topic("room:idem-window");
        let first = e.bus.publish_idempotent(&t, json("1"), "k").await.unwrap();
        assert!(!first.duplicate);
        // Retries answer "duplicate" until the window passes; then the key
        // publishes again (each poll is a retry, so this also shows that no
        // retry inside the window published).
        let later = eventually(Duration::from_secs(10), "the key to expire", || {
            let bus = e.bus.clone();
            let t = t.clone();
            async move {
                let p = bus.publish_idempotent(&t, json("2"), "k").await.unwrap();
                (!p.duplicate).then_some(p)
            }
        })
        .await;
        assert_eq!(later.position.offset, 2, "exactly one publication inside the window");
    }
);

both_engines_with!(
    at_most_the_configured_number_of_keys_is_remembered_oldest_first,
    with_window(Duration::from_secs(300), 5),
    |e: Engine| async move {
        let t = topic("room:idem-cap");
        for i in 0..8 {
            e.bus.publish_idempotent(&t, json("1"), &format!("k{i}")).await.unwrap();
        }
        // k0..k2 were forgotten (the cap is 5): retrying k7..k3 is a duplicate,
        // retrying k0 publishes again.
        for i in (3..8).rev() {
            let p = e.bus.publish_idempotent(&t, json("1"), &format!("k{i}")).await.unwrap();
            assert!(p.duplicate, "k{i} is remembered");
            assert_eq!(p.position.offset, i + 1);
        }
        let p = e.bus.publish_idempotent(&t, json("1"), "k0").await.unwrap();
        assert_eq!((p.duplicate, p.position.offset), (false, 9), "the oldest key was forgotten");
    }
);
