//! A channel's circuit breaker: how many import runs failed in a row open it, and how long an
//! open breaker waits before it lets one probe through.
//!
//! While a channel's breaker is open no import calls its platform, so a platform that keeps
//! failing costs each import asked for a database read, not a worker slot held through page
//! retries and timeouts. After the wait one import runs as a probe (the breaker is half open
//! meanwhile); its success closes the breaker, its failure opens it again for twice as long, up
//! to a cap.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where a channel's breaker stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Imports call the platform as usual.
    #[default]
    Closed,
    /// The platform failed too often: no import calls it before the next probe.
    Open,
    /// One import is probing the platform; the others wait for its outcome.
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// When a channel's breaker opens and how long it stays open (`connectors.breaker_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Import runs failed in a row that open the breaker.
    pub failures: u32,
    /// How long the breaker stays open the first time.
    pub probe_wait: Duration,
    /// The longest it stays open, however many probes failed.
    pub probe_wait_cap: Duration,
}

impl BreakerPolicy {
    /// The policy `connectors.breaker_failures`, `breaker_probe_secs` and
    /// `breaker_probe_cap_secs` set.
    pub fn from_settings(settings: &crate::config::ConnectorSettings) -> BreakerPolicy {
        BreakerPolicy {
            failures: settings.breaker_failures,
            probe_wait: Duration::from_secs(settings.breaker_probe_secs),
            probe_wait_cap: Duration::from_secs(settings.breaker_probe_cap_secs),
        }
    }

    /// Whether `failures` runs failed in a row open the breaker (or keep it open).
    pub fn trips(&self, failures: u32) -> bool {
        failures >= self.failures.max(1)
    }

    /// How long the breaker stays open after `failures` runs failed in a row: the first wait
    /// when it opens, doubled for every probe that failed since, capped.
    pub fn open_for(&self, failures: u32) -> Duration {
        let probes_failed = failures.saturating_sub(self.failures.max(1)).min(30);
        self.probe_wait
            .saturating_mul(1 << probes_failed)
            .min(self.probe_wait_cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BreakerPolicy {
        BreakerPolicy {
            failures: 3,
            probe_wait: Duration::from_secs(60),
            probe_wait_cap: Duration::from_secs(600),
        }
    }

    #[test]
    fn the_breaker_opens_at_the_threshold_and_stays_open_longer_after_each_failed_probe() {
        let p = policy();
        assert!(!p.trips(0));
        assert!(!p.trips(2));
        assert!(p.trips(3));
        assert!(p.trips(40));
        assert_eq!(p.open_for(3), Duration::from_secs(60));
        assert_eq!(p.open_for(4), Duration::from_secs(120));
        assert_eq!(p.open_for(5), Duration::from_secs(240));
        assert_eq!(p.open_for(6), Duration::from_secs(480));
        assert_eq!(p.open_for(7), Duration::from_secs(600), "capped");
        assert_eq!(p.open_for(u32::MAX), Duration::from_secs(600));
    }

    #[test]
    fn a_threshold_of_zero_counts_as_one() {
        let p = BreakerPolicy {
            failures: 0,
            ..policy()
        };
        assert!(!p.trips(0));
        assert!(p.trips(1));
        assert_eq!(p.open_for(1), Duration::from_secs(60));
    }

    #[test]
    fn states_read_back_as_they_are_written() {
        for s in [
            BreakerState::Closed,
            BreakerState::Open,
            BreakerState::HalfOpen,
        ] {
            let text = serde_json::json!(s.as_str());
            assert_eq!(serde_json::to_value(s).unwrap_or_default(), text);
            assert_eq!(serde_json::from_value::<BreakerState>(text).ok(), Some(s));
        }
        assert!(serde_json::from_value::<BreakerState>(serde_json::json!("ajar")).is_err());
    }
}
