//! The metrics registry every Marquee crate registers into, and the naming
//! rules (`marquee_<thing>_<unit>[_total]`, bounded labels) checked where a
//! metric is registered. Built on `prometheus-client`; nothing else in the
//! workspace encodes metrics or depends on that crate's registry directly.
//!
//! Two kinds of registry:
//! - [`global`]: process-wide, for libraries (seats, model-svc). A library
//!   keeps its metric handles in a `static` and registers them here once, the
//!   first time they are touched (see [`Registry::register`]); its call sites
//!   are then one line each. Several gateways in one process (tests) share
//!   these series.
//! - a [`Registry`] value owned by a server, for per-instance metrics (the
//!   gateway's node counters), encoded together with the global one.
//!
//! Every name is a string literal of the form `marquee_...` at its
//! registration, so that the repository rules can check docs/metrics.md
//! against the code.

use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

pub use prometheus_client::collector::Collector;
pub use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
pub use prometheus_client::metrics::MetricType;
pub use prometheus_client::metrics::counter::{ConstCounter, Counter};
pub use prometheus_client::metrics::family::Family;
pub use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
pub use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Metric;

/// The `Content-Type` of [`Registry::encode`]'s output (Prometheus text 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// One bounded label: `(name, value)` with both from a fixed set in the code.
pub type Label = [(&'static str, &'static str); 1];
/// Two bounded labels.
pub type Labels2 = [(&'static str, &'static str); 2];
/// Counters by one bounded label.
pub type CounterFamily = Family<Label, Counter>;
/// Counters by two bounded labels.
pub type CounterFamily2 = Family<Labels2, Counter>;
/// Histograms by one bounded label.
pub type HistogramFamily = Family<Label, Histogram, fn() -> Histogram>;

/// Bucket bounds, in seconds, for operations from ~50 µs to ~5 s.
pub const LATENCY_BUCKETS: [f64; 12] =
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 5.0];

/// A latency histogram with [`LATENCY_BUCKETS`].
pub fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// A family of latency histograms with [`LATENCY_BUCKETS`].
pub fn latency_family() -> HistogramFamily {
    Family::new_with_constructor(latency_histogram)
}

/// A named set of metrics, encoded in the Prometheus text format.
#[derive(Debug, Default)]
pub struct Registry {
    inner: prometheus_client::registry::Registry,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Registers `metric` under `name`, the full exposed name: counters end in
    /// `_total`, nothing else does, and every name starts with `marquee_`.
    ///
    /// # Panics
    /// When `name` breaks those rules: a programming error caught by the
    /// first test that touches the metric.
    pub fn register(&mut self, name: &'static str, help: &str, metric: impl Metric) {
        let is_counter = matches!(metric.metric_type(), MetricType::Counter);
        let base = check_name(name, is_counter);
        self.inner.register(base, help, metric);
    }

    /// Registers values read at scrape time (counters kept elsewhere).
    pub fn register_collector(&mut self, collector: Box<dyn Collector>) {
        self.inner.register_collector(collector);
    }

    /// Appends every metric in the Prometheus text format (0.0.4) to `out`.
    pub fn encode(&self, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(out, &self.inner);
    }
}

/// The name a metric is registered under in prometheus-client (which adds
/// `_total` to counters itself), after checking the naming scheme.
///
/// # Panics
/// See [`Registry::register`].
pub fn check_name(name: &'static str, is_counter: bool) -> &'static str {
    let valid_chars = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    assert!(name.starts_with("marquee_") && valid_chars, "metric {name}: not marquee_<thing>_<unit>[_total]");
    match (is_counter, name.strip_suffix("_total")) {
        (true, Some(base)) => base,
        (true, None) => panic!("counter {name} must end in _total"),
        (false, Some(_)) => panic!("{name} is not a counter: no _total"),
        (false, None) => name,
    }
}

/// Writes one value kept elsewhere (an atomic) as a metric, inside a
/// [`Collector`]. `name` is the full exposed name, as in [`Registry::register`].
///
/// # Errors
/// Only when the writer fails (never for a String).
pub fn encode_value(
    encoder: &mut DescriptorEncoder<'_>,
    name: &'static str,
    help: &str,
    value: Value,
) -> Result<(), std::fmt::Error> {
    match value {
        Value::Counter(v) => {
            let m = encoder.encode_descriptor(check_name(name, true), help, None, MetricType::Counter)?;
            ConstCounter::new(v).encode(m)
        }
        Value::Gauge(v) => {
            let m = encoder.encode_descriptor(check_name(name, false), help, None, MetricType::Gauge)?;
            ConstGauge::new(v).encode(m)
        }
    }
}

/// A value for [`encode_value`].
#[derive(Debug, Clone, Copy)]
pub enum Value {
    /// Only ever grows.
    Counter(u64),
    /// Goes up and down.
    Gauge(i64),
}

/// The process-wide registry the libraries register into.
pub fn global() -> MutexGuard<'static, Registry> {
    static GLOBAL: OnceLock<Mutex<Registry>> = OnceLock::new();
    GLOBAL.get_or_init(Mutex::default).lock().unwrap_or_else(PoisonError::into_inner)
}

/// Appends the global registry in the Prometheus text format to `out`.
pub fn encode_global(out: &mut String) {
    global().encode(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_scheme_and_counters_get_total_once() {
        let mut r = Registry::new();
        let c = Counter::<u64>::default();
        c.inc_by(3);
        r.register("marquee_things_total", "Things.", c);
        let g = Gauge::<i64>::default();
        g.set(2);
        r.register("marquee_open_things", "Open things.", g);
        let f = CounterFamily::default();
        f.get_or_create(&[("code", "bad")]).inc();
        r.register("marquee_failures_total", "Failures.", f);
        let h = latency_histogram();
        h.observe(0.0002);
        r.register("marquee_op_seconds", "Op time.", h);
        let mut out = String::new();
        r.encode(&mut out);
        assert!(out.contains("# TYPE marquee_things_total counter\nmarquee_things_total 3\n"), "{out}");
        assert!(out.contains("marquee_open_things 2\n"), "{out}");
        assert!(out.contains("marquee_failures_total{code=\"bad\"} 1\n"), "{out}");
        assert!(out.contains("marquee_op_seconds_bucket{le=\"0.00025\"} 1\n"), "{out}");
        assert!(out.contains("marquee_op_seconds_count 1\n"), "{out}");
        assert!(!out.contains("_total_total"), "{out}");
    }

    #[test]
    #[should_panic(expected = "must end in _total")]
    fn a_counter_without_total_is_refused() {
        Registry::new().register("marquee_things", "Things.", Counter::<u64>::default());
    }

    #[test]
    #[should_panic(expected = "not marquee_")]
    fn a_name_outside_the_scheme_is_refused() {
        Registry::new().register("http_requests_total", "Requests.", Counter::<u64>::default());
    }
}
