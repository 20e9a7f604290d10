//! The demo's stock view: for each SKU, what switchyard says every channel should offer against
//! what each simulated store shows, and how long each change took to reach every channel.
//!
//! A change is switchyard's figure for a SKU moving (a sale it counted, a cancellation): it is
//! timed from the first sample showing the new figure with a channel not showing it, until the
//! sample in which every channel shows switchyard's figure again. A channel that differs while
//! switchyard's figure stands still has drifted: its level was changed there by something
//! switchyard does not count (a merchant editing it by hand); switchyard corrects it with the
//! SKU's next change. Drift is reported apart, not timed as a change. Sampling every
//! [`SAMPLE`] bounds the resolution; `switchyard bench stock` measures the same path precisely.

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

impl SkuLevels {
    /// Switchyard's figure per channel.
    fn wanted(&self) -> Vec<Option<i64>> {
        self.channels.iter().map(|(want, _)| *want).collect()
    }
}

/// Tracks convergence across samples.
#[derive(Debug, Default)]
pub struct StockWatch {
    /// SKUs whose change has not reached every channel yet: since when.
    out_since: BTreeMap<String, Instant>,
    /// Switchyard's figures per SKU at the last sample.
    wanted: BTreeMap<String, Vec<Option<i64>>>,
    /// SKUs seen in step at least once: a SKU's first push after start is set-up, not a change.
    settled: BTreeSet<String>,
    converged: Vec<Duration>,
    /// Per SKU and channel (by position) whose change has not reached it yet: since when.
    channel_out_since: BTreeMap<(String, usize), Instant>,
    /// Per channel, how long each change took to reach it.
    reached: BTreeMap<usize, Vec<Duration>>,
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
        self.last = by_sku
            .into_iter()
            .map(|(sku, channels)| SkuLevels { sku, channels })
            .collect();
        self.observe(Instant::now());
        Ok(())
    }

    /// Updates the timings from `self.last`, sampled at `now`.
    fn observe(&mut self, now: Instant) {
        for levels in &self.last {
            let wanted = levels.wanted();
            let changed = self
                .wanted
                .insert(levels.sku.clone(), wanted.clone())
                .is_some_and(|before| before != wanted);
            for (i, (want, have)) in levels.channels.iter().enumerate() {
                let key = (levels.sku.clone(), i);
                match (want == have, self.channel_out_since.get(&key)) {
                    (true, Some(since)) => {
                        let took = now.duration_since(*since);
                        self.reached.entry(i).or_default().push(took);
                        self.channel_out_since.remove(&key);
                    }
                    (false, None) if changed && self.settled.contains(&levels.sku) => {
                        self.channel_out_since.insert(key, now);
                    }
                    _ => {}
                }
            }
            match (levels.in_sync(), self.out_since.get(&levels.sku)) {
                (true, Some(since)) => {
                    self.converged.push(now.duration_since(*since));
                    self.out_since.remove(&levels.sku);
                }
                (false, None) if changed && self.settled.contains(&levels.sku) => {
                    self.out_since.insert(levels.sku.clone(), now);
                }
                _ => {}
            }
            if levels.in_sync() {
                self.settled.insert(levels.sku.clone());
            }
        }
    }

    /// SKUs a channel shows otherwise than switchyard while no change of switchyard's is on its
    /// way: drift (see the module's note).
    pub fn drifted(&self) -> usize {
        self.last
            .iter()
            .filter(|l| !l.in_sync() && !self.out_since.contains_key(&l.sku))
            .filter(|l| self.settled.contains(&l.sku))
            .count()
    }

    /// SKUs in step on every channel, of those listed.
    pub fn in_sync(&self) -> (usize, usize) {
        let n = self.last.iter().filter(|l| l.in_sync()).count();
        (n, self.last.len())
    }

    /// The channel (by position) whose changes took longest to reach it, by p99, with that p99.
    pub fn slowest_channel(&self) -> Option<(usize, Duration)> {
        self.reached
            .iter()
            .filter_map(|(i, times)| percentile(times, 0.99).map(|p99| (*i, p99)))
            .max_by_key(|(_, p99)| *p99)
    }

    /// One line: how many SKUs match, how fast a change reached each channel (`names`, by
    /// position), and how long until every channel showed it at once. The last grows with the
    /// number of channels and the rate of sales: a SKU selling often may have a newer change on
    /// its way to one channel when an older one reaches the last.
    pub fn summary(&self, names: &[&str]) -> String {
        let (n, of) = self.in_sync();
        let mut line = format!("{n}/{of} SKUs show switchyard's figure on every channel");
        if self.settled.is_empty() {
            line.push_str(" (first push under way)");
            return line;
        }
        let each: Vec<Duration> = self.reached.values().flatten().copied().collect();
        if let (Some(median), Some((slowest, p99))) =
            (percentile(&each, 0.5), self.slowest_channel())
        {
            line.push_str(&format!(
                "; a change reached each channel in median {:.2} s, p99 {:.2} s on the slowest \
                 ({})",
                median.as_secs_f64(),
                p99.as_secs_f64(),
                names.get(slowest).copied().unwrap_or("?"),
            ));
        }
        let mut times = self.converged.clone();
        times.sort();
        if let (Some(median), Some(max), Some(p99)) = (
            times.get(times.len() / 2),
            times.last(),
            percentile(&times, 0.99),
        ) {
            line.push_str(&format!(
                "; {} changes showed on every channel at once after median {:.2} s, p99 {:.2} s, \
                 slowest {:.2} s (sampled every {:.2} s)",
                times.len(),
                median.as_secs_f64(),
                p99.as_secs_f64(),
                max.as_secs_f64(),
                SAMPLE.as_secs_f64()
            ));
        }
        let drifted = self.drifted();
        if drifted > 0 {
            line.push_str(&format!(
                "; {drifted} drifted on a channel (a change switchyard does not count, such as an \
                 edit by hand; its next change corrects it)"
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

/// The `q` quantile (0..=1) of `times`, nearest rank; `None` when there are none.
fn percentile(times: &[Duration], q: f64) -> Option<Duration> {
    let mut sorted = times.to_vec();
    sorted.sort();
    let last = sorted.len().checked_sub(1)?;
    sorted.get((last as f64 * q).round() as usize).copied()
}

fn show(n: Option<i64>) -> String {
    n.map_or_else(|| "-".to_owned(), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(sku: &str, channels: &[(i64, i64)]) -> SkuLevels {
        SkuLevels {
            sku: sku.into(),
            channels: channels.iter().map(|&(w, h)| (Some(w), Some(h))).collect(),
        }
    }

    /// Feeds `samples` to a watch as if read `SAMPLE` apart.
    fn watch(samples: &[SkuLevels]) -> StockWatch {
        let mut w = StockWatch::default();
        let start = Instant::now();
        for (i, sample) in samples.iter().enumerate() {
            w.last = vec![sample.clone()];
            w.observe(start + SAMPLE * i as u32);
        }
        w
    }

    #[test]
    fn a_change_of_switchyards_figure_is_timed_and_drift_is_not() {
        // In step; a sale switchyard counts (its figure 5 -> 4) reaches the second channel two
        // samples later.
        let w = watch(&[
            levels("A", &[(5, 5), (5, 5)]),
            levels("A", &[(4, 4), (4, 5)]),
            levels("A", &[(4, 4), (4, 5)]),
            levels("A", &[(4, 4), (4, 4)]),
        ]);
        assert_eq!(w.converged, vec![SAMPLE * 2]);
        assert_eq!(w.drifted(), 0);
        // The first channel showed it at once; the second is the slowest.
        assert_eq!(w.slowest_channel(), Some((1, SAMPLE * 2)));
        // A channel drops a unit switchyard does not count: drift, not a change.
        let w = watch(&[
            levels("A", &[(5, 5), (5, 5)]),
            levels("A", &[(5, 4), (5, 5)]),
            levels("A", &[(5, 4), (5, 5)]),
        ]);
        assert!(w.converged.is_empty());
        assert_eq!(w.drifted(), 1);
    }

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
