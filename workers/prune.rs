//! The prune worker: deletes the records past their retention (`[retention]`), table by table,
//! in statements of `batch_rows` rows with `batch_pause_ms` between them, until every table is
//! done or `budget_secs` is spent; what is left goes at the next run. Every statement commits on
//! its own, so a run cut short (an error, a crash) keeps what it deleted, and running the job
//! twice at once only makes the two share the work.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apalis_core::task::data::Data;
use sqlx::PgPool;

use super::Deps;
use crate::config::RetentionSettings;
use crate::jobs::Prune;
use crate::queue::JobError;
use crate::store::retention::{plan, prune_step};
use crate::store::StoreError;

/// What one run deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Rows deleted, by table.
    pub deleted: BTreeMap<&'static str, u64>,
    /// The tables the budget ran out on, with rows past their retention perhaps left.
    pub unfinished: Vec<&'static str>,
}

pub async fn run(_job: Prune, deps: Data<Arc<Deps>>) -> Result<(), JobError> {
    let settings = &deps.broker.settings().retention;
    let started = Instant::now();
    let report = prune(&deps.db, settings).await?;
    tracing::info!(
        deleted = ?report.deleted,
        unfinished = ?report.unfinished,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "prune run"
    );
    Ok(())
}

/// Deletes what is past its retention, within the settings' time budget.
pub async fn prune(db: &PgPool, settings: &RetentionSettings) -> Result<Report, StoreError> {
    let deadline = Instant::now() + Duration::from_secs(settings.budget_secs);
    let pause = Duration::from_millis(settings.batch_pause_ms);
    let mut report = Report::default();
    for (table, age) in plan(settings) {
        let mut after = 0;
        loop {
            if Instant::now() >= deadline {
                report.unfinished.push(table.name());
                break;
            }
            let step = prune_step(db, table, after, age, settings.batch_rows).await?;
            for (name, n) in step.deleted {
                metrics::counter!("switchyard_pruned_rows_total", "table" => name).increment(n);
                *report.deleted.entry(name).or_default() += n;
            }
            if step.finished {
                break;
            }
            after = step.scanned_to;
            tokio::time::sleep(pause).await;
        }
    }
    Ok(report)
}
