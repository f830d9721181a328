-- The system of record for what customers paid for (ledger/src/lib.rs).
-- Times are unix milliseconds; amounts are won.
CREATE TABLE bookings (
    booking_id     TEXT PRIMARY KEY,
    code           TEXT NOT NULL UNIQUE,
    hold_id        TEXT NOT NULL UNIQUE,
    showtime       TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    seats          TEXT NOT NULL,
    details        TEXT NOT NULL,
    amount         BIGINT NOT NULL,
    status         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    cancelled_at   BIGINT,
    applied_status TEXT NOT NULL DEFAULT ''
);
CREATE INDEX bookings_user ON bookings (user_id, created_at);
CREATE INDEX bookings_showtime ON bookings (showtime);
CREATE INDEX bookings_unapplied ON bookings (created_at) WHERE status <> applied_status;

-- One row per sold seat: the primary key is what makes a double sale impossible.
CREATE TABLE sold_seats (
    showtime   TEXT NOT NULL,
    seat       TEXT NOT NULL,
    booking_id TEXT NOT NULL REFERENCES bookings (booking_id),
    PRIMARY KEY (showtime, seat)
);

-- The transactional outbox: written in the transaction of the change it
-- announces, one row per event and channel, drained by workers on any node.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    channel      TEXT NOT NULL,
    idem_key     TEXT NOT NULL UNIQUE,
    payload      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    due_at       BIGINT NOT NULL,
    lease_until  BIGINT NOT NULL DEFAULT 0,
    attempts     BIGINT NOT NULL DEFAULT 0,
    delivered_at BIGINT,
    dead_at      BIGINT,
    last_error   TEXT
);
CREATE INDEX outbox_pending ON outbox (due_at) WHERE delivered_at IS NULL AND dead_at IS NULL;
