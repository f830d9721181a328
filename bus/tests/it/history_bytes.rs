//! The history byte budget on both engines: the oldest publications are
//! trimmed while a topic's payload bytes are over it, the newest is always
//! kept, count trimming keeps the byte count exact, and a trimmed offset is
//! reported as no longer available (what makes recovery answer "cannot").

use bus::BusConfig;

use super::*;

fn budget(history_size: usize, history_bytes: usize) -> BusConfig {
    BusConfig { history_bytes, ..config(history_size) }
}

/// `n` bytes of JSON: a string of `n - 2` letters.
fn sized(n: usize) -> Bytes {
    json(&format!("\"{}\"", "x".repeat(n - 2)))
}

async fn kept(e: &Engine, t: &Topic) -> (u64, Vec<u64>) {
    let page = e.bus.history_after(t, 0, 1000).await.unwrap();
    (page.first_available, page.entries.iter().map(|x| x.offset).collect())
}

both_engines_with!(history_is_trimmed_to_the_byte_budget_oldest_first, budget(100, 1000), |e: Engine| async move {
    let t = topic("room:bytes");
    for _ in 0..10 {
        e.bus.publish(&t, sized(300)).await.unwrap();
    }
    assert_eq!(kept(&e, &t).await, (8, vec![8, 9, 10]), "3 × 300 bytes fit in 1,000, 4 do not");
    // One publication over the whole budget: it alone is kept.
    e.bus.publish(&t, sized(2500)).await.unwrap();
    assert_eq!(kept(&e, &t).await, (11, vec![11]), "the newest is always kept");
    // The next one pushes it out.
    e.bus.publish(&t, sized(300)).await.unwrap();
    assert_eq!(kept(&e, &t).await, (12, vec![12]));
    for _ in 0..2 {
        e.bus.publish(&t, sized(300)).await.unwrap();
    }
    assert_eq!(kept(&e, &t).await, (12, vec![12, 13, 14]), "900 bytes fit again");
    // A reader that saw offset 9 cannot recover: offset 10 is gone.
    let page = e.bus.history_after(&t, 9, 1000).await.unwrap();
    assert!(page.first_available > 10, "the gap is visible, not silent");
    assert_eq!(page.position.offset, 14);
});

both_engines_with!(count_trimming_keeps_the_byte_count_exact, budget(3, 1000), |e: Engine| async move {
    let t = topic("room:bytes-count");
    for _ in 0..10 {
        e.bus.publish(&t, sized(300)).await.unwrap();
    }
    assert_eq!(kept(&e, &t).await.1, [8, 9, 10]);
    // Count trimming replaces the 300-byte entries by 100-byte ones: 300
    // bytes are left, so a 700-byte publication fits with two of them. A
    // byte count that forgot what count trimming removed would trim it all.
    for _ in 0..10 {
        e.bus.publish(&t, sized(100)).await.unwrap();
    }
    e.bus.publish(&t, sized(700)).await.unwrap();
    assert_eq!(kept(&e, &t).await, (19, vec![19, 20, 21]));
    // And one more 300: [100, 700, 300] is 1,100 bytes, the 100 goes.
    e.bus.publish(&t, sized(300)).await.unwrap();
    assert_eq!(kept(&e, &t).await, (21, vec![21, 22]));
});
