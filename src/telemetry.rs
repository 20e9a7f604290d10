//! Logs and metrics, set up once per process.
//!
//! Both are process-global (one tracing subscriber, one metrics recorder), so both setters are
//! idempotent: the binary calls them at start, and every integration test that builds an
//! `Application` calls them again in the same process without error.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Bucket bounds (seconds) for the job timing histograms: from a sub-millisecond pickup by an idle
/// worker to an import that runs for minutes, so both ends of a queue's behaviour stay visible.
const JOB_SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0,
];

/// Histograms rendered with `JOB_SECONDS_BUCKETS` rather than as summaries, so Prometheus can
/// aggregate them across worker processes.
const JOB_HISTOGRAMS: &[&str] = &[
    "switchyard_job_start_latency_seconds",
    "switchyard_job_run_seconds",
];

/// Installs the tracing subscriber. `RUST_LOG`, when set and valid, wins over `settings.filter`,
/// so an operator can turn up one module's logs without editing the config. A second call (tests
/// build many applications in one process) leaves the first subscriber in place.
pub fn init(settings: &LogSettings) {
    let (filter, rejected) = match EnvFilter::try_from_default_env() {
        Ok(filter) => (filter, None),
        Err(_) => match EnvFilter::try_new(&settings.filter) {
            Ok(filter) => (filter, None),
            Err(e) => (EnvFilter::new("info"), Some(e)),
        },
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let installed = match settings.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
            .is_ok(),
        LogFormat::Pretty => builder.try_init().is_ok(),
    };
    if let (true, Some(e)) = (installed, rejected) {
        tracing::warn!(filter = %settings.filter, error = %e, "log.filter is not a valid directive; logging at info");
    }
}

fn builder_with_buckets() -> Result<PrometheusBuilder, BuildError> {
    JOB_HISTOGRAMS
        .iter()
        .try_fold(PrometheusBuilder::new(), |b, name| {
            b.set_buckets_for_metric(Matcher::Full((*name).to_owned()), JOB_SECONDS_BUCKETS)
        })
}

/// Installs the process-wide Prometheus recorder the first time, and returns a handle on it every
/// time. The `metrics` macros anywhere in the process (queue acks, the API) report into it.
///
/// If another recorder was installed first (an embedding program's), the handle returned renders
/// an empty registry instead of failing start-up: metrics are worth less than the service.
pub fn install_metrics() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = builder_with_buckets().unwrap_or_else(|e| {
                tracing::warn!(error = %e, "histogram buckets rejected; job timings render as summaries");
                PrometheusBuilder::new()
            });
            match builder.install_recorder() {
                Ok(handle) => {
                    describe();
                    handle
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a metrics recorder was already installed; /metrics will be empty");
                    PrometheusBuilder::new().build_recorder().handle()
                }
            }
        })
        .clone()
}

/// HELP lines for the metrics switchyard emits, so a dashboard author sees what each one means.
fn describe() {
    metrics::describe_gauge!(
        "switchyard_queue_depth",
        "Jobs in one state (ready, scheduled, running, dead) of one queue, read when /metrics is scraped"
    );
    metrics::describe_histogram!(
        "switchyard_job_start_latency_seconds",
        metrics::Unit::Seconds,
        "Time from a job's run time to a worker starting it"
    );
    metrics::describe_gauge!(
        "switchyard_channel_breakers",
        "Channels whose import breaker is open, or half open (a probe running), read when /metrics is scraped"
    );
    metrics::describe_counter!(
        "switchyard_channel_breaker_moves_total",
        "Channel import breakers that opened (`to`: open) or closed (`to`: closed)"
    );
    metrics::describe_histogram!(
        "switchyard_job_run_seconds",
        metrics::Unit::Seconds,
        "Time a job handler ran"
    );
    metrics::describe_counter!(
        "switchyard_jobs_processed_total",
        "Jobs that finished successfully"
    );
    metrics::describe_counter!("switchyard_jobs_failed_total", "Job attempts that failed");
    metrics::describe_counter!(
        "switchyard_jobs_retried_total",
        "Failed job attempts scheduled to run again"
    );
    metrics::describe_counter!(
        "switchyard_jobs_dead_lettered_total",
        "Jobs moved to the dead letters: failed for good, or out of attempts"
    );
    metrics::describe_counter!(
        "switchyard_orders_imported_total",
        "Orders new to switchyard stored by an import, by channel kind"
    );
    metrics::describe_counter!(
        "switchyard_fulfilments_synced_total",
        "Fulfilments the channel accepted (`how`: created, or found already there)"
    );
    metrics::describe_counter!(
        "switchyard_fulfilments_failed_total",
        "Fulfilments the channel refused for good"
    );
    metrics::describe_counter!(
        "switchyard_invoices_synced_total",
        "Invoices the accounting platform holds (`how`: created, or found already there)"
    );
    metrics::describe_counter!(
        "switchyard_invoices_failed_total",
        "Invoices the accounting platform refused for good, or that could not be sent"
    );
    metrics::describe_counter!(
        "switchyard_stock_pushes_total",
        "Stock levels pushed to a channel, by channel id"
    );
    metrics::describe_counter!(
        "switchyard_stock_drift_corrections_total",
        "Listings a stock reconciliation set back after their channel's figure drifted, by channel kind"
    );
    metrics::describe_counter!(
        "switchyard_pruned_rows_total",
        "Rows the prune job deleted past their retention, by table"
    );
    metrics::describe_counter!(
        "switchyard_webhook_endpoint_busy_total",
        "Webhook deliveries sent back to wait because their endpoint had its limit of requests in flight (no attempt)"
    );
    metrics::describe_counter!(
        "switchyard_webhook_attempts_total",
        "Webhook delivery attempts, by outcome"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_timings_render_as_histograms_and_install_is_idempotent() {
        let first = install_metrics();
        let second = install_metrics();
        metrics::histogram!("switchyard_job_run_seconds", "queue" => "unit").record(0.003);
        let text = second.render();
        assert!(
            text.contains("switchyard_job_run_seconds_bucket{queue=\"unit\",le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(
            first
                .render()
                .contains("switchyard_job_run_seconds_bucket{queue=\"unit\",le=\"0.005\"} 1"),
            "every handle renders the one process-wide registry"
        );
    }

    #[test]
    fn init_twice_does_not_panic() {
        let settings = LogSettings {
            format: LogFormat::Pretty,
            filter: "not a [valid filter".to_owned(),
        };
        init(&settings);
        init(&LogSettings {
            format: LogFormat::Json,
            filter: "info".to_owned(),
        });
    }
}
