//! Every metric the gateway's node exports, defined in one place, and the
//! `/metrics` page: this node's own metrics, encoded by `prometheus-client`
//! through [`telemetry`], followed by the process-wide ones the libraries
//! registered there (seat store, notifier, model service). Names follow
//! `marquee_<thing>_<unit>[_total]`; labels are bounded (none are per-user).
//! docs/metrics.md lists every metric.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use telemetry::{ConstCounter, ConstGauge, Counter, CounterFamily, Family, Histogram};

use crate::wire::ErrorCode;

/// Upper bounds of the fan-out latency histogram, in seconds.
const FANOUT_BUCKETS: [f64; 10] = [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5];

/// The node's metrics. Shared by reference; every update is one atomic add
/// (the plain counters are atomics on the node, read when scraped).
pub struct Metrics {
    /// Open WebSocket connections.
    pub connections: AtomicI64,
    /// Connections accepted since start.
    pub connections_total: AtomicU64,
    /// Frames received from clients.
    pub frames_in: AtomicU64,
    /// Frames sent to clients.
    pub frames_out: AtomicU64,
    /// Publications queued to local subscribers.
    pub deliveries: AtomicU64,
    /// Deliveries dropped because a subscriber's queue was full (it is then disconnected).
    pub drops: AtomicU64,
    /// Connections closed as slow consumers.
    pub slow_disconnects: AtomicU64,
    /// Error frames sent.
    pub errors: AtomicU64,
    /// Requests to the bus (Redis round trips in cluster mode).
    pub bus_requests: AtomicU64,
    /// Failed bus requests.
    pub bus_errors: AtomicU64,
    /// Resyncs after the bus may have lost messages.
    pub resyncs: AtomicU64,
    /// Chat requests waiting or being answered (sampled by the dispatcher).
    pub chat_queue_depth: AtomicI64,
    /// Chat messages queued by this node.
    pub chats_accepted: AtomicU64,
    /// Chat messages answered (final published) by this node's dispatcher.
    pub chat_answers: AtomicU64,
    /// Answer attempts that restarted (claimed after a dispatcher died, or retried).
    pub chat_restarts: AtomicU64,
    /// Apologies published (deadline passed).
    pub chat_apologies: AtomicU64,
    /// Failed calls to the model service.
    pub model_errors: AtomicU64,
    /// Chat requests moved to the dead-letter list (retrying could not help).
    pub chat_dead_letters: AtomicU64,
    /// Booking tool calls run.
    pub tool_calls: AtomicU64,
    /// Room publications this node's archive writer stored (new rows).
    pub archive_messages: AtomicU64,
    /// Archive passes that failed (database or bus unreachable) and are retried.
    pub archive_errors: AtomicU64,
    /// Room publications the bus trimmed before any archive writer stored them.
    pub archive_lost: AtomicU64,
    /// Archive notices dropped because the set of rooms to write was full.
    pub archive_dropped_notices: AtomicU64,
    /// Rooms waiting for this node's archive writer.
    pub archive_pending_rooms: AtomicI64,
    fanout: Histogram,
    errors_by_code: Family<[(&'static str, String); 1], Counter>,
    chat_attempts: CounterFamily,
    tool_outcomes: CounterFamily,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            connections: AtomicI64::default(),
            connections_total: AtomicU64::default(),
            frames_in: AtomicU64::default(),
            frames_out: AtomicU64::default(),
            deliveries: AtomicU64::default(),
            drops: AtomicU64::default(),
            slow_disconnects: AtomicU64::default(),
            errors: AtomicU64::default(),
            bus_requests: AtomicU64::default(),
            bus_errors: AtomicU64::default(),
            resyncs: AtomicU64::default(),
            chat_queue_depth: AtomicI64::default(),
            chats_accepted: AtomicU64::default(),
            chat_answers: AtomicU64::default(),
            chat_restarts: AtomicU64::default(),
            chat_apologies: AtomicU64::default(),
            model_errors: AtomicU64::default(),
            chat_dead_letters: AtomicU64::default(),
            tool_calls: AtomicU64::default(),
            archive_messages: AtomicU64::default(),
            archive_errors: AtomicU64::default(),
            archive_lost: AtomicU64::default(),
            archive_dropped_notices: AtomicU64::default(),
            archive_pending_rooms: AtomicI64::default(),
            fanout: Histogram::new(FANOUT_BUCKETS),
            errors_by_code: Family::default(),
            chat_attempts: CounterFamily::default(),
            tool_outcomes: CounterFamily::default(),
        }
    }
}

impl Metrics {
    /// Records how long one local fan-out took.
    pub fn observe_fanout(&self, d: Duration) {
        self.fanout.observe(d.as_secs_f64());
    }

    /// Counts one error frame sent, labelled with its wire code (a fixed set:
    /// the spelling of [`ErrorCode`] on the wire).
    pub fn error(&self, code: ErrorCode) {
        self.errors.fetch_add(1, Relaxed);
        let wire = serde_json::to_string(&code).unwrap_or_default();
        self.errors_by_code.get_or_create(&[("code", wire.trim_matches('"').to_owned())]).inc();
    }

    /// Counts how one chat answer attempt ended: `answered`, `fenced`,
    /// `shutdown`, `model_error` or `failed`.
    pub fn chat_attempt(&self, outcome: &'static str) {
        self.chat_attempts.get_or_create(&[("outcome", outcome)]).inc();
    }

    /// Counts the outcome of one booking tool call run for the model.
    pub fn tool_outcome(&self, is_error: bool) {
        self.tool_outcomes.get_or_create(&[("outcome", if is_error { "error" } else { "ok" })]).inc();
    }

    /// Renders every metric in the Prometheus text format: this node's, then
    /// the process-wide ones of the libraries.
    pub fn render(&self, ready: bool) -> String {
        let mut r = telemetry::Registry::new();
        let gauge = |v: &AtomicI64| ConstGauge::new(v.load(Relaxed));
        let counter = |v: &AtomicU64| ConstCounter::new(v.load(Relaxed));
        r.register("marquee_connections", "Open WebSocket connections", gauge(&self.connections));
        r.register(
            "marquee_ready",
            "1 when the node can serve (bus reachable, not draining)",
            ConstGauge::new(i64::from(ready)),
        );
        r.register("marquee_connections_total", "Connections accepted", counter(&self.connections_total));
        r.register("marquee_frames_in_total", "Frames received from clients", counter(&self.frames_in));
        r.register("marquee_frames_out_total", "Frames sent to clients", counter(&self.frames_out));
        r.register("marquee_deliveries_total", "Publications queued to local subscribers", counter(&self.deliveries));
        r.register("marquee_drops_total", "Deliveries dropped on a full client queue", counter(&self.drops));
        r.register("marquee_slow_disconnects_total", "Slow consumers disconnected", counter(&self.slow_disconnects));
        r.register("marquee_errors_total", "Error frames sent", counter(&self.errors));
        r.register(
            "marquee_errors_by_code_total",
            "Error frames sent, by wire error code",
            self.errors_by_code.clone(),
        );
        r.register("marquee_bus_requests_total", "Bus requests (Redis round trips)", counter(&self.bus_requests));
        r.register("marquee_bus_errors_total", "Failed bus requests", counter(&self.bus_errors));
        r.register("marquee_resyncs_total", "Resyncs after possible message loss", counter(&self.resyncs));
        r.register(
            "marquee_chat_queue_depth",
            "Chat requests waiting or being answered (cluster-wide)",
            gauge(&self.chat_queue_depth),
        );
        r.register("marquee_chats_accepted_total", "Chat messages queued here", counter(&self.chats_accepted));
        r.register("marquee_chat_answers_total", "Chat answers completed here", counter(&self.chat_answers));
        r.register("marquee_chat_restarts_total", "Answer attempts restarted here", counter(&self.chat_restarts));
        r.register("marquee_chat_apologies_total", "Apologies for late answers", counter(&self.chat_apologies));
        r.register(
            "marquee_chat_attempts_total",
            "Chat answer attempts here, by how they ended",
            self.chat_attempts.clone(),
        );
        r.register("marquee_model_errors_total", "Failed model service calls", counter(&self.model_errors));
        r.register(
            "marquee_chat_dead_letters_total",
            "Chat requests the model service refused as invalid, ended with an apology and dead-lettered",
            counter(&self.chat_dead_letters),
        );
        r.register("marquee_tool_calls_total", "Booking tool calls run for the model", counter(&self.tool_calls));
        r.register(
            "marquee_tool_call_outcomes_total",
            "Booking tool calls run for the model, by outcome (ok, error)",
            self.tool_outcomes.clone(),
        );
        r.register(
            "marquee_archive_messages_total",
            "Room publications stored in the history archive by this node",
            counter(&self.archive_messages),
        );
        r.register(
            "marquee_archive_errors_total",
            "History archive passes that failed (database or bus unreachable) and are retried",
            counter(&self.archive_errors),
        );
        r.register(
            "marquee_archive_lost_total",
            "Room publications trimmed from the bus before the history archive stored them",
            counter(&self.archive_lost),
        );
        r.register(
            "marquee_archive_dropped_notices_total",
            "Archive notices dropped because the set of rooms waiting to be written was full",
            counter(&self.archive_dropped_notices),
        );
        r.register(
            "marquee_archive_pending_rooms",
            "Rooms waiting for this node's history archive writer",
            gauge(&self.archive_pending_rooms),
        );
        r.register(
            "marquee_fanout_seconds",
            "Time to queue one publication to all local subscribers",
            self.fanout.clone(),
        );
        let mut out = String::with_capacity(8192);
        r.encode(&mut out);
        telemetry::encode_global(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.frames_in.fetch_add(3, Relaxed);
        m.observe_fanout(Duration::from_micros(30));
        m.observe_fanout(Duration::from_secs(2));
        m.error(ErrorCode::BadRequest);
        let text = m.render(true);
        assert!(text.contains("# TYPE marquee_frames_in_total counter\nmarquee_frames_in_total 3\n"), "{text}");
        // Go's float format, as every Prometheus client writes it: 5e-05 is 0.00005.
        assert!(text.contains("marquee_fanout_seconds_bucket{le=\"5e-05\"} 1"), "{text}");
        assert!(text.contains("marquee_fanout_seconds_bucket{le=\"+Inf\"} 2"), "{text}");
        assert!(text.contains("marquee_fanout_seconds_count 2"), "{text}");
        assert!(text.contains("marquee_ready 1"), "{text}");
        assert!(text.contains("marquee_errors_total 1\n"), "{text}");
        assert!(text.contains("marquee_errors_by_code_total{code=\"bad_request\"} 1"), "{text}");
    }
}
