//! `GET /metrics`: the service's Prometheus metrics, written by `prometheus-client`.
//!
//! Two kinds of values meet here. What the service already keeps as state (refresh record,
//! prepuller status, the listing on nodes) is read at scrape time as one [`MetricsSnapshot`],
//! plain data that `ServedSnapshot::metrics` (`crate::snapshot`) fills in, and
//! `metrics/snapshot.rs` turns it into series, one line per series.
//! What happens per request (the HTTP latency histograms) is counted live by `http.rs`.
//!
//! Prometheus asks for OpenMetrics and gets it; any other client (curl, `promtool check
//! metrics`) gets the classic text format 0.0.4. The series are the same in both: only
//! counter descriptors differ (OpenMetrics names the family without `_total`).

mod http;
mod snapshot;

use crate::backend::MetricsSnapshot;
use prometheus_client::registry::Registry;

pub use http::{track_requests, HttpMetrics};
pub use prometheus_client::metrics::histogram::Histogram;

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

/// The exposition format of one scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text, what Prometheus asks for first.
    OpenMetrics,
    /// The Prometheus text format 0.0.4.
    Text,
}

impl Format {
    /// OpenMetrics when the `Accept` header names it (as Prometheus does), else text 0.0.4.
    pub fn from_accept(accept: Option<&str>) -> Format {
        let wants_openmetrics = accept.is_some_and(|accept| {
            accept.split(',').any(|range| {
                let mut parameters = range.split(';').map(str::trim);
                let media_type = parameters.next().unwrap_or("");
                let refused = parameters.any(|p| p.replace(' ', "") == "q=0");
                media_type.eq_ignore_ascii_case("application/openmetrics-text") && !refused
            })
        });
        if wants_openmetrics {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        }
    }
}

/// Every series: the snapshot's and the HTTP layer's.
pub fn render(snapshot: MetricsSnapshot, http: &HttpMetrics, format: Format) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(snapshot::SnapshotCollector(snapshot)));
    http.register(&mut registry);
    let mut text = String::new();
    let written = match format {
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut text, &registry),
        Format::Text => prometheus_client::encoding::prometheus_text::encode(&mut text, &registry),
    };
    // Writing to a String fails only if an encoder refuses a value (none of ours can be
    // refused); a partial exposition would be read as series disappearing, so say so instead.
    if let Err(error) = written {
        tracing::error!(%error, "encoding the metrics failed");
        text.clear();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_gets_openmetrics_and_everyone_else_text() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                          version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::from_accept(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::from_accept(None), Format::Text);
        assert_eq!(Format::from_accept(Some("*/*")), Format::Text);
        assert_eq!(
            Format::from_accept(Some("application/openmetrics-text; q=0, text/plain")),
            Format::Text
        );
    }

    #[test]
    fn both_formats_carry_the_same_samples() {
        let snapshot = MetricsSnapshot {
            refresh_success_total: 2,
            ..MetricsSnapshot::default()
        };
        let http = HttpMetrics::default();
        let open = render(snapshot.clone(), &http, Format::OpenMetrics);
        let text = render(snapshot, &http, Format::Text);
        assert!(open.ends_with("# EOF\n"), "{open}");
        assert!(
            open.contains("# TYPE rsp_images_refresh counter\n"),
            "{open}"
        );
        assert!(
            text.contains("# TYPE rsp_images_refresh_total counter\n"),
            "{text}"
        );
        for exposition in [&open, &text] {
            assert!(
                exposition.contains("rsp_images_refresh_total{outcome=\"success\"} 2\n"),
                "{exposition}"
            );
        }
    }
}
