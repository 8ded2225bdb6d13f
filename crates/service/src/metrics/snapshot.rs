//! The [`MetricsSnapshot`] as series. Adding a series is a field in the snapshot and one call
//! in [`SnapshotCollector::encode`]; names, types and help texts are all in that one list.

use crate::backend::MetricsSnapshot;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeMetric,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use rsp_model::node::IneligibleReason;
use std::fmt;
use std::time::UNIX_EPOCH;

/// One scrape's snapshot, encoded when the registry is.
#[derive(Debug)]
pub struct SnapshotCollector(pub MetricsSnapshot);

/// Labels of one sample: fixed names, values from the data.
type Labels<'a> = Vec<(&'static str, &'a str)>;

impl Collector for SnapshotCollector {
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let s = &self.0;
        let mut out = Series(encoder);
        out.counters(
            "rsp_images_refresh",
            "Registry refreshes by outcome.",
            [
                (vec![("outcome", "success")], s.refresh_success_total),
                (vec![("outcome", "failure")], s.refresh_failure_total),
            ],
        )?;
        out.metric(
            "rsp_images_refresh_duration_seconds",
            "Duration of registry refreshes, successful or not.",
            &s.refresh_durations,
        )?;
        if let Some(time) = s.last_refresh_success {
            let seconds = time
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |since| since.as_secs_f64());
            out.gauge(
                "rsp_images_refresh_last_success_timestamp_seconds",
                "When the last refresh succeeded (Unix time); absent before the first.",
                seconds,
            )?;
        }
        out.gauge(
            "rsp_images_refresh_interval_seconds",
            "The configured refreshInterval, so alerts can measure staleness against it.",
            s.refresh_interval.as_secs_f64(),
        )?;
        out.gauge(
            "rsp_images_images_seen",
            "Images (distinct tags with a digest or not) in the last good listing.",
            s.images_seen,
        )?;
        out.gauge(
            "rsp_images_tags_seen",
            "Tags in the last good listing.",
            s.tags_seen,
        )?;
        if let Some(leader) = s.leader {
            out.gauge(
                "rsp_images_leader",
                "1 while this replica holds the prepuller lease (or election is off), else 0; \
                 absent when nothing is prepulled (static cluster).",
                u64::from(leader),
            )?;
        }
        out.gauge(
            "rsp_images_prepull_pods_in_flight",
            "Prepull pods that currently exist.",
            s.prepull_pods_in_flight,
        )?;
        out.gauge(
            "rsp_images_prepull_pods_max",
            "The cap on prepull pods in flight (prepuller.maxInFlight).",
            s.prepull_pods_max,
        )?;
        out.metric(
            "rsp_images_prepull_duration_seconds",
            "Duration of successful prepulls.",
            &s.prepull_durations,
        )?;
        let success: Labels = vec![("outcome", "success")];
        out.counters(
            "rsp_images_prepulls",
            "Finished prepulls by outcome, and failures by reason.",
            std::iter::once((success, s.prepull_successes_total)).chain(
                s.prepull_failures.iter().map(|(reason, count)| {
                    (vec![("outcome", "failure"), ("reason", reason)], *count)
                }),
            ),
        )?;
        out.gauge(
            "rsp_images_missing_pairs",
            "(node, image) pairs that should be cached on an eligible node and are not.",
            s.missing_pairs,
        )?;
        out.gauge(
            "rsp_images_nodes_eligible",
            "Nodes that match the node selector and get lab images.",
            s.eligible_nodes,
        )?;
        out.gauges(
            "rsp_images_nodes_ineligible",
            "Nodes that match the node selector but get no lab images, by reason.",
            IneligibleReason::ALL.iter().map(|reason| {
                let count = s
                    .ineligible_nodes
                    .iter()
                    .find(|(r, _)| r == reason)
                    .map_or(0, |(_, count)| *count);
                (vec![("reason", reason.as_str())], count)
            }),
        )?;
        out.gauges(
            "rsp_images_prepull_image_missing_nodes",
            "Eligible nodes that do not have this prepull image yet.",
            s.prepull_image_missing_nodes
                .iter()
                .map(|(tag, missing)| (vec![("tag", tag.as_str())], *missing)),
        )?;
        if let Some(cold) = s.warm_nodes_cold {
            out.gauge(
                "rsp_images_warm_nodes_cold",
                "Selected nodes carrying the warm taint (no labs until their images are there); \
                 absent when prepuller.warmTaint is not configured.",
                cold,
            )?;
        }
        out.metric(
            "rsp_images_warm_wait_seconds",
            "Time from a node turning Ready to its warm taint removed because every eligible \
             prepull image was there.",
            &s.warm_waits,
        )?;
        out.counters(
            "rsp_images_warm_released_by_timeout",
            "Warm taints removed at prepuller.warmTimeout with images still missing (fail open).",
            std::iter::once((Labels::new(), s.warm_released_by_timeout_total)),
        )?;
        out.counters(
            "rsp_images_task_restarts",
            "Times a long-running task died and was restarted, by task.",
            s.tasks
                .iter()
                .map(|task| (vec![("task", task.task)], task.restarts)),
        )?;
        out.gauges(
            "rsp_images_task_up",
            "Whether a long-running task runs (1) or waits to be restarted (0), by task.",
            s.tasks
                .iter()
                .map(|task| (vec![("task", task.task)], u64::from(task.up))),
        )?;
        Ok(())
    }
}

/// Writes metric families, each with its descriptor (`# HELP`, `# TYPE`) once.
struct Series<'a>(DescriptorEncoder<'a>);

impl Series<'_> {
    fn gauge(&mut self, name: &str, help: &str, value: impl EncodeGaugeValue) -> fmt::Result {
        self.metric(name, help, &ConstGauge::new(value))
    }

    fn gauges<'l, V: EncodeGaugeValue>(
        &mut self,
        name: &str,
        help: &str,
        samples: impl IntoIterator<Item = (Labels<'l>, V)>,
    ) -> fmt::Result {
        let samples = samples.into_iter().map(|(l, v)| (l, ConstGauge::new(v)));
        self.family(name, help, MetricType::Gauge, samples)
    }

    /// `name` without `_total`: the encoders add it to counter samples.
    fn counters<'l, V: EncodeCounterValue>(
        &mut self,
        name: &str,
        help: &str,
        samples: impl IntoIterator<Item = (Labels<'l>, V)>,
    ) -> fmt::Result {
        let samples = samples.into_iter().map(|(l, v)| (l, ConstCounter::new(v)));
        self.family(name, help, MetricType::Counter, samples)
    }

    fn metric(&mut self, name: &str, help: &str, metric: &impl EncodeMetric) -> fmt::Result {
        let encoder = self
            .0
            .encode_descriptor(name, help, None, metric.metric_type())?;
        metric.encode(encoder)
    }

    fn family<'l, M: EncodeMetric>(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricType,
        samples: impl IntoIterator<Item = (Labels<'l>, M)>,
    ) -> fmt::Result {
        let mut family = self.0.encode_descriptor(name, help, None, kind)?;
        for (labels, metric) in samples {
            metric.encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
