-- The archive of room chat (ledger/src/history.rs, docs/design/history.md):
-- every publication of a `room:<id>` topic, written by the gateway's archive
-- writer after the bus delivered it, never on the delivery path. The key is
-- the publication's identity on the bus, (topic, epoch, offset), so a
-- rewrite by a second node or after a restart keeps one row; paging back
-- ("before offset N, newest first") is a backward scan of that key.
-- `payload` is the stored publication (JSON text) verbatim; `archived_at`
-- is when the writer stored it (unix ms; the bus keeps no publish time).
CREATE TABLE room_messages (
    topic       TEXT NOT NULL,
    epoch       TEXT NOT NULL,
    msg_offset  BIGINT NOT NULL,
    payload     TEXT NOT NULL,
    archived_at BIGINT NOT NULL,
    PRIMARY KEY (topic, epoch, msg_offset)
);
