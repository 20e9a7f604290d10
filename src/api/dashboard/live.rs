//! The queues page, live: a server-sent event every two seconds with every queue's counts and
//! its last hour drawn as SVG, which `live.js` puts into the page. The charts are drawn here, in
//! one place, for the first render and for every event alike; the script only swaps text.
//!
//! Everything comes from counters and per-minute buckets the queue scripts keep (two hours of
//! them), so a page or an event costs the same with a million jobs waiting as with none.

use std::convert::Infallible;
use std::fmt::Write;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::stream::{self, Stream, StreamExt};
use serde::Serialize;

use super::signed_in;
use crate::api::queues::all_stats;
use crate::api::AppState;
use crate::queue::{Minute, QueueStats};
use crate::shutdown::Closing;

/// How often an open queues page is told the counts.
const EVERY: Duration = Duration::from_secs(2);
/// Minutes the charts show, before the current one.
pub const HOUR: i64 = 60;

/// The counts a queues page row shows, by the `data-field` of their cell.
#[derive(Serialize)]
pub struct Row {
    pub queue: String,
    pub fields: Vec<(&'static str, String)>,
    pub chart: String,
}

impl Row {
    pub fn of(stats: &QueueStats, history: &[Minute]) -> Row {
        let state = if stats.paused { "paused" } else { "running" };
        let latency = stats
            .mean_start_latency_ms
            .map(|ms| format!("{ms:.0} ms"))
            .unwrap_or_else(|| "–".to_owned());
        Row {
            queue: stats.queue.clone(),
            fields: vec![
                ("state", state.to_owned()),
                ("ready", stats.ready.to_string()),
                ("scheduled", stats.scheduled.to_string()),
                ("running", stats.running.to_string()),
                ("dead", stats.dead.to_string()),
                ("done", stats.processed_total.to_string()),
                ("failed", stats.failed_total.to_string()),
                ("latency", latency),
            ],
            chart: chart(&stats.queue, history),
        }
    }

    pub fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }
}

/// Every queue's row, as of now.
pub async fn rows(state: &AppState) -> Result<Vec<Row>, String> {
    let all = all_stats(state).await.map_err(|e| e.to_string())?;
    let histories = futures::future::try_join_all(all.iter().map(|s| async {
        state
            .broker
            .queue(&s.queue)
            .map_err(|e| e.to_string())?
            .history(HOUR)
            .await
            .map_err(|e| e.to_string())
    }))
    .await?;
    Ok(all
        .iter()
        .zip(histories)
        .map(|(s, h)| Row::of(s, &h))
        .collect())
}

#[derive(Serialize)]
struct Snapshot {
    at: String,
    queues: Vec<Row>,
}

/// `GET /dashboard/live`: the event stream. Ends when the server shuts down, so an open page
/// never holds shutdown; the browser reconnects by itself after a restart.
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    closing: Option<Extension<Closing>>,
) -> Response {
    if signed_in(&state, &headers).is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let ticks = stream::unfold(
        (state, tokio::time::interval(EVERY)),
        |(state, mut every)| async move {
            every.tick().await;
            let event = match rows(&state).await {
                Ok(queues) => {
                    let at = chrono::Utc::now().to_rfc3339();
                    Event::default()
                        .event("queues")
                        .json_data(Snapshot { at, queues })
                        .unwrap_or_else(|e| Event::default().event("trouble").data(e.to_string()))
                }
                Err(e) => Event::default().event("trouble").data(e),
            };
            Some((Ok::<_, Infallible>(event), (state, every)))
        },
    );
    let ticks: std::pin::Pin<Box<dyn Stream<Item = _> + Send>> = match closing {
        Some(Extension(closing)) => Box::pin(ticks.take_until(closing.wait())),
        None => Box::pin(ticks),
    };
    let mut res = Sse::new(ticks)
        .keep_alive(KeepAlive::default())
        .into_response();
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `GET /dashboard/live.js`.
pub async fn script() -> Response {
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        )],
        SCRIPT,
    )
        .into_response()
}

const SCRIPT: &str = r#""use strict";
(function () {
  var table = document.querySelector("table[data-live]");
  var status = document.getElementById("live-status");
  if (!table || !window.EventSource) return;
  var source = new EventSource("/dashboard/live");
  source.addEventListener("queues", function (e) {
    var data = JSON.parse(e.data);
    data.queues.forEach(function (q) {
      var row = table.querySelector('tr[data-queue="' + CSS.escape(q.queue) + '"]');
      if (!row) return;
      q.fields.forEach(function (f) {
        var cell = row.querySelector('[data-field="' + f[0] + '"]');
        if (cell) cell.textContent = f[1];
      });
      var chart = row.querySelector("[data-chart]");
      if (chart) chart.innerHTML = q.chart;
    });
    status.textContent = "Live: updated " + new Date(data.at).toLocaleTimeString();
    status.dataset.state = "live";
  });
  source.addEventListener("trouble", function (e) {
    status.textContent = "Live updates paused: " + e.data;
    status.dataset.state = "trouble";
  });
  source.onerror = function () {
    status.textContent = "Live updates lost; reconnecting…";
    status.dataset.state = "lost";
  };
})();
"#;

const WIDTH: f64 = 180.0;
const HEIGHT: f64 = 36.0;

/// A polyline of `values` scaled to `max`, one point per minute.
fn line(values: &[f64], max: f64, class: &str) -> String {
    let step = WIDTH / (values.len().max(2) - 1) as f64;
    let mut points = String::new();
    for (i, v) in values.iter().enumerate() {
        let y = HEIGHT - (v / max.max(1.0)) * (HEIGHT - 2.0) - 1.0;
        let _ = write!(points, "{:.1},{:.1} ", i as f64 * step, y);
    }
    format!(
        "<polyline class=\"{class}\" points=\"{}\"/>",
        points.trim_end()
    )
}

/// The last hour of a queue as two small SVG charts: jobs enqueued and finished per minute, and
/// the mean start latency per minute. Each carries its figures in words for screen readers.
pub fn chart(queue: &str, history: &[Minute]) -> String {
    let enqueued: Vec<f64> = history.iter().map(|m| m.enqueued as f64).collect();
    let processed: Vec<f64> = history.iter().map(|m| m.processed as f64).collect();
    let latency: Vec<f64> = history
        .iter()
        .map(|m| m.mean_start_latency_ms.unwrap_or(0.0))
        .collect();
    let top = enqueued
        .iter()
        .chain(&processed)
        .fold(0.0_f64, |a, b| a.max(*b));
    let slowest = latency.iter().fold(0.0_f64, |a, b| a.max(*b));
    let sum = |v: &[f64]| v.iter().sum::<f64>();
    let queue = super::page::escape(queue);
    format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-label=\"{queue}, last hour: {:.0} enqueued, {:.0} finished, at most {top:.0} a minute\">\
         {}{}</svg>\
         <svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-label=\"{queue}, last hour: start latency at most {slowest:.0} ms\">{}</svg>",
        sum(&enqueued),
        sum(&processed),
        line(&enqueued, top, "enqueued"),
        line(&processed, top, "finished"),
        line(&latency, slowest, "latency"),
    )
}
