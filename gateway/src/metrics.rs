//! Every metric the gateway exports, defined in one place and rendered in
//! the Prometheus text format at `/metrics`. Names follow
//! `marquee_<thing>_<unit>[_total]`; labels are bounded (none are per-user).

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the fan-out latency histogram, in seconds.
const FANOUT_BUCKETS: [f64; 10] = [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5];

/// The gateway's metrics. Shared by reference; every update is one atomic add.
#[derive(Default)]
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
    /// Booking tool calls run.
    pub tool_calls: AtomicU64,
    fanout: Histogram,
}

impl Metrics {
    /// Records how long one local fan-out took.
    pub fn observe_fanout(&self, d: Duration) {
        self.fanout.observe(d.as_secs_f64());
    }

    /// Renders every metric in the Prometheus text format.
    pub fn render(&self, ready: bool) -> String {
        let mut out = String::with_capacity(2048);
        let gauge = |out: &mut String, name: &str, help: &str, v: i64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Relaxed));
        };
        gauge(&mut out, "marquee_connections", "Open WebSocket connections.", self.connections.load(Relaxed));
        gauge(&mut out, "marquee_ready", "1 when the node can serve (bus reachable, not draining).", i64::from(ready));
        counter(&mut out, "marquee_connections_total", "Connections accepted.", &self.connections_total);
        counter(&mut out, "marquee_frames_in_total", "Frames received from clients.", &self.frames_in);
        counter(&mut out, "marquee_frames_out_total", "Frames sent to clients.", &self.frames_out);
        counter(&mut out, "marquee_deliveries_total", "Publications queued to local subscribers.", &self.deliveries);
        counter(&mut out, "marquee_drops_total", "Deliveries dropped on a full client queue.", &self.drops);
        counter(&mut out, "marquee_slow_disconnects_total", "Slow consumers disconnected.", &self.slow_disconnects);
        counter(&mut out, "marquee_errors_total", "Error frames sent.", &self.errors);
        counter(&mut out, "marquee_bus_requests_total", "Bus requests (Redis round trips).", &self.bus_requests);
        counter(&mut out, "marquee_bus_errors_total", "Failed bus requests.", &self.bus_errors);
        counter(&mut out, "marquee_resyncs_total", "Resyncs after possible message loss.", &self.resyncs);
        gauge(
            &mut out,
            "marquee_chat_queue_depth",
            "Chat requests waiting or being answered (cluster-wide).",
            self.chat_queue_depth.load(Relaxed),
        );
        counter(&mut out, "marquee_chats_accepted_total", "Chat messages queued here.", &self.chats_accepted);
        counter(&mut out, "marquee_chat_answers_total", "Chat answers completed here.", &self.chat_answers);
        counter(&mut out, "marquee_chat_restarts_total", "Answer attempts restarted here.", &self.chat_restarts);
        counter(&mut out, "marquee_chat_apologies_total", "Apologies for late answers.", &self.chat_apologies);
        counter(&mut out, "marquee_model_errors_total", "Failed model service calls.", &self.model_errors);
        counter(&mut out, "marquee_tool_calls_total", "Booking tool calls run for the model.", &self.tool_calls);
        self.fanout.render(
            &mut out,
            "marquee_fanout_seconds",
            "Time to queue one publication to all local subscribers.",
        );
        out
    }
}

/// A fixed-bucket histogram of seconds.
#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; FANOUT_BUCKETS.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    fn observe(&self, secs: f64) {
        if let Some(i) = FANOUT_BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_ns.fetch_add((secs * 1e9) as u64, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, n) in FANOUT_BUCKETS.iter().zip(&self.buckets) {
            cumulative += n.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_ns.load(Relaxed) as f64 / 1e9);
        let _ = writeln!(out, "{name}_count {count}");
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
        let text = m.render(true);
        assert!(text.contains("marquee_frames_in_total 3"));
        assert!(text.contains("marquee_fanout_seconds_bucket{le=\"0.00005\"} 1"));
        assert!(text.contains("marquee_fanout_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("marquee_ready 1"));
    }
}
