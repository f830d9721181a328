-- The payment saga of each checkout (seats/src/checkout.rs): one row per
-- order, the order id being the hold id, so a retried checkout finds its
-- saga. `state` moves pending -> approved -> confirmed, or pending ->
-- declined, or approved -> refund_pending -> refunded; the reconciler
-- finishes every row not in a final state (confirmed, declined, refunded).
CREATE TABLE payments (
    order_id    TEXT PRIMARY KEY,
    showtime    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    amount      BIGINT NOT NULL,
    payment_key TEXT NOT NULL,
    provider    TEXT NOT NULL,
    tickets     TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL,
    booking_id  TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    last_error  TEXT
);
CREATE INDEX payments_unfinished ON payments (updated_at)
    WHERE state IN ('pending', 'approved', 'refund_pending');
