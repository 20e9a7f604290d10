//! The demo's stock view: for each SKU, what switchyard says every channel should offer against
//! what each simulated store shows, and how long each change took to reach every channel.
//!
//! A SKU is out of step from the first sample in which any channel differs (an order took stock
//! on its own channel; an import changed the ledger) until the sample in which every channel shows
//! switchyard's figure again. Sampling every [`SAMPLE`] bounds the measurement's resolution;
//! `switchyard bench stock` measures the same path precisely.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::PgPool;

use crate::store::channel_products;
use crate::store::channels::ChannelRow;
use switchyard_sandbox::{SandboxHandle, StoreInfo};

/// How often the stock view samples the database and the simulated stores.
pub const SAMPLE: Duration = Duration::from_millis(250);

/// On one channel: (switchyard's figure, the channel's level); `None` where it has none.
type Figures = (Option<i64>, Option<i64>);

/// One SKU as sampled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuLevels {
    pub sku: String,
    /// Per channel, in the order given: (switchyard's figure, the channel's level).
    pub channels: Vec<Figures>,
}

impl SkuLevels {
    /// Every channel that lists the SKU shows switchyard's figure.
    pub fn in_sync(&self) -> bool {
        self.channels.iter().all(|(want, have)| want == have)
    }
}

/// Tracks convergence across samples.
#[derive(Debug, Default)]
pub struct StockWatch {
    out_since: BTreeMap<String, Instant>,
    /// SKUs seen in step at least once: a SKU's first push after start is set-up, not a change.
    settled: BTreeSet<String>,
    converged: Vec<Duration>,
    pub last: Vec<SkuLevels>,
}

impl StockWatch {
    /// Reads switchyard's figures and the stores' levels once and updates the timings.
    pub async fn sample(
        &mut self,
        pool: &PgPool,
        channels: &[(ChannelRow, StoreInfo)],
        sandbox: &SandboxHandle,
    ) -> anyhow::Result<()> {
        let mut by_sku: BTreeMap<String, Vec<Figures>> = BTreeMap::new();
        for (i, (channel, info)) in channels.iter().enumerate() {
            let plan = channel_products::stock_plan(
                pool,
                channel.id,
                i64::from(channel.settings.stock_buffer),
            )
            .await
            .with_context(|| format!("reading the stock plan of channel {}", channel.id))?;
            let levels = sandbox
                .store(&info.name)
                .map(|s| s.stock_by_sku())
                .unwrap_or_default();
            for p in plan {
                let Some(sku) = p.sku else { continue };
                let row = by_sku
                    .entry(sku.clone())
                    .or_insert_with(|| vec![(None, None); channels.len()]);
                row[i] = (Some(p.quantity), levels.get(&sku).copied());
            }
        }
        let now = Instant::now();
        self.last = by_sku
            .into_iter()
            .map(|(sku, channels)| SkuLevels { sku, channels })
            .collect();
        for levels in &self.last {
            match (levels.in_sync(), self.out_since.get(&levels.sku)) {
                (true, Some(since)) => {
                    if self.settled.contains(&levels.sku) {
                        self.converged.push(now.duration_since(*since));
                    }
                    self.out_since.remove(&levels.sku);
                }
                (false, None) => {
                    self.out_since.insert(levels.sku.clone(), now);
                }
                _ => {}
            }
            if levels.in_sync() {
                self.settled.insert(levels.sku.clone());
            }
        }
        Ok(())
    }

    /// SKUs in step on every channel, of those listed.
    pub fn in_sync(&self) -> (usize, usize) {
        let n = self.last.iter().filter(|l| l.in_sync()).count();
        (n, self.last.len())
    }

    /// One line: how many SKUs match, and how fast changes reached every channel.
    pub fn summary(&self) -> String {
        let (n, of) = self.in_sync();
        let mut line = format!("{n}/{of} SKUs show switchyard's figure on every channel");
        if self.settled.is_empty() {
            line.push_str(" (first push under way)");
            return line;
        }
        let mut times = self.converged.clone();
        times.sort();
        if let (Some(median), Some(max)) = (times.get(times.len() / 2), times.last()) {
            let p99 = times[((times.len() - 1) as f64 * 0.99).round() as usize];
            line.push_str(&format!(
                "; {} changes reached every channel, median {:.2} s, p99 {:.2} s, slowest {:.2} s \
                 (sampled every {:.2} s)",
                times.len(),
                median.as_secs_f64(),
                p99.as_secs_f64(),
                max.as_secs_f64(),
                SAMPLE.as_secs_f64()
            ));
        }
        line
    }
}

/// `MS-1   switchyard 4987  demo-shop 4987  demo-woo 4987  in step`, for one SKU.
pub fn sku_line(levels: &SkuLevels, channels: &[(ChannelRow, StoreInfo)]) -> String {
    let want = levels.channels.iter().find_map(|(w, _)| *w);
    let mut line = format!("switchyard {:>5}", show(want));
    for ((_, info), (_, have)) in channels.iter().zip(&levels.channels) {
        line.push_str(&format!("  {} {:>5}", info.name, show(*have)));
    }
    line.push_str(if levels.in_sync() {
        "  in step"
    } else {
        "  syncing"
    });
    line
}

fn show(n: Option<i64>) -> String {
    n.map_or_else(|| "-".to_owned(), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sku_is_in_step_only_when_every_channel_shows_the_figure() {
        let mut levels = SkuLevels {
            sku: "MS-1".into(),
            channels: vec![(Some(5), Some(5)), (Some(5), Some(5))],
        };
        assert!(levels.in_sync());
        levels.channels[1].1 = Some(4);
        assert!(!levels.in_sync());
        levels.channels[1] = (Some(5), None);
        assert!(
            !levels.in_sync(),
            "a listing gone from the channel is not in step"
        );
    }
}
