//! `GET /metrics`: the [`MetricsSnapshot`] in the Prometheus text exposition format 0.0.4.
//!
//! The backend keeps plain numbers and this module turns them into text at scrape time, so the
//! state needs no metrics library and the exposition stays one small, testable function. The
//! format is written by hand: it is a few line shapes, and the escaping and float rules that
//! matter (`+Inf`, quoted label values) are handled here once.

use crate::backend::MetricsSnapshot;
use std::fmt::Write;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the refresh duration buckets: a registry listing takes from a
/// fraction of a second to minutes on a slow, paged registry.
pub const REFRESH_BUCKETS: [f64; 11] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];
/// Upper bounds (seconds) of the prepull duration buckets: cached layers take seconds, a full
/// lab image minutes, up to the default 10-minute timeout.
pub const PREPULL_BUCKETS: [f64; 10] = [
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0,
];

/// Observations counted into fixed buckets, so memory stays constant however long the service
/// runs; the exposition makes the counts cumulative at scrape time.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    bounds: Vec<f64>,
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    counts: Vec<u64>,
    sum: f64,
}

impl Histogram {
    pub fn new(bounds: &[f64]) -> Histogram {
        Histogram {
            bounds: bounds.to_vec(),
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
        }
    }

    /// Adds one observation; non-finite or negative values, which no duration can be, are
    /// left out rather than poisoning `_sum`.
    pub fn observe(&mut self, value: f64) {
        if !value.is_finite() || value < 0.0 {
            return;
        }
        let bucket = self
            .bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(self.bounds.len());
        if let Some(count) = self.counts.get_mut(bucket) {
            *count += 1;
        }
        self.sum += value;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Renders every metric of the snapshot.
pub fn render(snapshot: &MetricsSnapshot) -> String {
    let mut out = Exposition::default();
    out.family(
        "rsp_images_refresh_total",
        "counter",
        "Registry refreshes by outcome.",
    );
    out.sample(
        "rsp_images_refresh_total",
        &[("outcome", "success")],
        snapshot.refresh_success_total as f64,
    );
    out.sample(
        "rsp_images_refresh_total",
        &[("outcome", "failure")],
        snapshot.refresh_failure_total as f64,
    );
    out.histogram(
        "rsp_images_refresh_duration_seconds",
        "Duration of registry refreshes, successful or not.",
        &snapshot.refresh_durations,
    );
    out.gauge(
        "rsp_images_images_seen",
        "Images (distinct tags with a digest or not) in the last good listing.",
        snapshot.images_seen,
    );
    out.gauge(
        "rsp_images_tags_seen",
        "Tags in the last good listing.",
        snapshot.tags_seen,
    );
    out.gauge(
        "rsp_images_prepull_pods_in_flight",
        "Prepull pods that currently exist.",
        snapshot.prepull_pods_in_flight,
    );
    out.histogram(
        "rsp_images_prepull_duration_seconds",
        "Duration of successful prepulls.",
        &snapshot.prepull_durations,
    );
    out.family(
        "rsp_images_prepull_failures_total",
        "counter",
        "Failed prepulls by reason.",
    );
    for (reason, count) in &snapshot.prepull_failures {
        out.sample(
            "rsp_images_prepull_failures_total",
            &[("reason", reason)],
            *count as f64,
        );
    }
    out.gauge(
        "rsp_images_missing_pairs",
        "(node, image) pairs that should be cached on an eligible node and are not.",
        snapshot.missing_pairs,
    );
    out.family(
        "rsp_images_task_restarts_total",
        "counter",
        "Times a long-running task died and was restarted, by task.",
    );
    for task in &snapshot.tasks {
        out.sample(
            "rsp_images_task_restarts_total",
            &[("task", task.task)],
            task.restarts as f64,
        );
    }
    out.family(
        "rsp_images_task_up",
        "gauge",
        "Whether a long-running task runs (1) or waits to be restarted (0), by task.",
    );
    for task in &snapshot.tasks {
        out.sample(
            "rsp_images_task_up",
            &[("task", task.task)],
            f64::from(u8::from(task.up)),
        );
    }
    out.text
}

#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        // Writing to a String cannot fail.
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{key}=\"{}\"", escape_label(value));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", format_value(value));
    }

    fn gauge(&mut self, name: &str, help: &str, value: u64) {
        self.family(name, "gauge", help);
        self.sample(name, &[], value as f64);
    }

    fn histogram(&mut self, name: &str, help: &str, histogram: &Histogram) {
        self.family(name, "histogram", help);
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0;
        for (bound, count) in histogram.bounds.iter().zip(&histogram.counts) {
            cumulative += count;
            self.sample(&bucket, &[("le", &format_value(*bound))], cumulative as f64);
        }
        self.sample(&bucket, &[("le", "+Inf")], histogram.count() as f64);
        self.sample(&format!("{name}_sum"), &[], histogram.sum);
        self.sample(&format!("{name}_count"), &[], histogram.count() as f64);
    }
}

/// Prometheus spells infinities `+Inf`/`-Inf`; Rust's `Display` would say `inf`.
fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value == f64::INFINITY {
        "+Inf".to_owned()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        value.to_string()
    }
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_and_infinities_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(2.5), "2.5");
        assert_eq!(format_value(3.0), "3");
    }

    #[test]
    fn histograms_are_cumulative_and_skip_impossible_values() {
        let mut refresh_durations = Histogram::new(&REFRESH_BUCKETS);
        for value in [0.05, 0.3, 7.0, f64::NAN, -1.0, 1e9] {
            refresh_durations.observe(value);
        }
        let snapshot = MetricsSnapshot {
            refresh_durations,
            ..Default::default()
        };
        let text = render(&snapshot);
        assert!(text.contains("rsp_images_refresh_duration_seconds_bucket{le=\"0.1\"} 1\n"));
        assert!(text.contains("rsp_images_refresh_duration_seconds_bucket{le=\"0.5\"} 2\n"));
        assert!(text.contains("rsp_images_refresh_duration_seconds_bucket{le=\"300\"} 3\n"));
        assert!(text.contains("rsp_images_refresh_duration_seconds_bucket{le=\"+Inf\"} 4\n"));
        assert!(text.contains("rsp_images_refresh_duration_seconds_count 4\n"));
    }
}
