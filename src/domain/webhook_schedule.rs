//! Outbound webhooks' rules: which triggers exist, when a failed delivery is tried again, what an
//! endpoint's answer means, and when an endpoint that keeps failing is switched off.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::event_type::EventType;

/// Longest `Retry-After` honoured: a receiver cannot park a delivery for longer than the
/// schedule's own longest step would.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(10 * 3600);

/// True when `trigger` names an event type of the catalogue (`<entity>.<action>`).
pub fn is_trigger(trigger: &str) -> bool {
    EventType::parse(trigger).is_some()
}

/// Checks and normalises a webhook's triggers: at least one, each known, duplicates dropped,
/// sorted. Err names the first bad entry.
pub fn check_triggers(triggers: &[String]) -> Result<Vec<String>, String> {
    if triggers.is_empty() {
        return Err("at least one trigger is needed, e.g. \"order.created\"".to_owned());
    }
    let mut out = Vec::with_capacity(triggers.len());
    for t in triggers {
        let t = t.trim();
        if !is_trigger(t) {
            return Err(format!(
                "`{t}` is not a trigger; use one of {}",
                EventType::names().collect::<Vec<_>>().join(", ")
            ));
        }
        out.push(t.to_owned());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// `base` spread by +-`jitter` (a fraction), with `unit` uniform in [0, 1), so retries of a
/// burst of failures do not come back as a burst.
pub fn jittered(base: Duration, jitter: f64, unit: f64) -> Duration {
    let factor = 1.0 + jitter.clamp(0.0, 1.0) * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
    Duration::from_secs_f64((base.as_secs_f64() * factor).max(0.0))
}

/// The wait before the next attempt after `attempts_done` attempts of this round have failed,
/// or `None` when the schedule is spent (the delivery has failed). `schedule[i]` is the delay
/// before attempt i+1, so `schedule[0]` (normally 0) is the first attempt's. A `Retry-After`
/// from the receiver is a lower bound, capped at [`MAX_RETRY_AFTER`].
pub fn next_delay(
    schedule: &[Duration],
    attempts_done: usize,
    jitter: f64,
    retry_after: Option<Duration>,
    unit: f64,
) -> Option<Duration> {
    let base = *schedule.get(attempts_done)?;
    let delay = jittered(base, jitter, unit);
    Some(match retry_after {
        Some(hint) => delay.max(hint.min(MAX_RETRY_AFTER)),
        None => delay,
    })
}

/// What an endpoint's answer means for the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: delivered.
    Delivered,
    /// 410 Gone: the receiver says the endpoint no longer exists; disable it, stop retrying.
    Gone,
    /// Anything else, redirects included (they are never followed): try again per the schedule.
    Failed,
}

pub fn verdict(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        410 => Verdict::Gone,
        _ => Verdict::Failed,
    }
}

/// True when an endpoint that has failed every attempt since `failing_since` has failed for at
/// least `period` at `now`, and so is to be disabled.
pub fn should_disable(
    failing_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    period: Duration,
) -> bool {
    let Some(since) = failing_since else {
        return false;
    };
    let Ok(period) = chrono::Duration::from_std(period) else {
        return false;
    };
    now - since >= period
}

/// Reads a `Retry-After` header: delta seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_schedule() -> Vec<Duration> {
        crate::config::DEFAULT_RETRY_SCHEDULE_MS
            .iter()
            .map(|ms| Duration::from_millis(*ms))
            .collect()
    }

    #[test]
    fn the_default_schedule_is_immediately_then_5s_5m_30m_2h_5h_10h_10h() {
        let s = default_schedule();
        let secs: Vec<u64> = (0..8)
            .map(|i| next_delay(&s, i, 0.0, None, 0.5).map_or(u64::MAX, |d| d.as_secs()))
            .collect();
        assert_eq!(
            secs,
            vec![0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000],
            "delay before each attempt, without jitter"
        );
        assert_eq!(
            next_delay(&s, 8, 0.2, None, 0.5),
            None,
            "after the eighth failed attempt the delivery has failed"
        );
    }

    #[test]
    fn jitter_stays_within_twenty_percent_and_reaches_both_ends() {
        let s = default_schedule();
        for unit in [0.0, 0.1, 0.5, 0.9, 0.999_999] {
            let d = next_delay(&s, 2, 0.2, None, unit).map_or(0.0, |d| d.as_secs_f64());
            assert!((240.0..=360.0).contains(&d), "{unit}: {d}");
        }
        let low = next_delay(&s, 2, 0.2, None, 0.0).map_or(0.0, |d| d.as_secs_f64());
        let high = next_delay(&s, 2, 0.2, None, 0.999_999).map_or(0.0, |d| d.as_secs_f64());
        assert!((low - 240.0).abs() < 0.01, "{low}");
        assert!((high - 360.0).abs() < 0.01, "{high}");
        assert_eq!(next_delay(&s, 0, 0.2, None, 0.9), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_is_a_lower_bound_and_capped() {
        let s = default_schedule();
        assert_eq!(
            next_delay(&s, 1, 0.0, Some(Duration::from_secs(60)), 0.5),
            Some(Duration::from_secs(60)),
            "a longer Retry-After wins over the 5 s step"
        );
        assert_eq!(
            next_delay(&s, 2, 0.0, Some(Duration::from_secs(60)), 0.5),
            Some(Duration::from_secs(300)),
            "a shorter one does not bring the 5 min step forward"
        );
        assert_eq!(
            next_delay(&s, 1, 0.0, Some(Duration::from_secs(86_400 * 30)), 0.5),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            next_delay(&s, 8, 0.0, Some(Duration::from_secs(1)), 0.5),
            None
        );
    }

    #[test]
    fn answers_mean_delivered_gone_or_failed() {
        assert_eq!(verdict(200), Verdict::Delivered);
        assert_eq!(verdict(204), Verdict::Delivered);
        assert_eq!(verdict(410), Verdict::Gone);
        for s in [301, 302, 307, 308, 400, 404, 429, 500, 503] {
            assert_eq!(verdict(s), Verdict::Failed, "{s}");
        }
    }

    #[test]
    fn an_endpoint_failing_for_the_whole_period_is_disabled() {
        let now = Utc::now();
        let days = |d: i64| Some(now - chrono::Duration::days(d));
        let five_days = Duration::from_secs(5 * 86_400);
        assert!(!should_disable(None, now, five_days));
        assert!(!should_disable(days(4), now, five_days));
        assert!(should_disable(days(5), now, five_days));
        assert!(should_disable(days(6), now, five_days));
    }

    #[test]
    fn triggers_are_entity_dot_event() {
        assert_eq!(
            check_triggers(&[
                "order.created".into(),
                "fulfilment.updated".into(),
                "order.created".into()
            ]),
            Ok(vec!["fulfilment.updated".into(), "order.created".into()])
        );
        assert!(check_triggers(&["channel_product.on_hold".into()]).is_ok());
        assert!(check_triggers(&["invoice.updated".into()]).is_ok());
        let refused = check_triggers(&["invoice.on_hold".into()]).unwrap_err();
        assert!(
            refused.contains("invoice.created, invoice.updated"),
            "{refused}"
        );
        for bad in [
            "order",
            "order.deleted",
            "invoice.on_hold",
            "shipment.created",
            "",
            "order.created.x",
        ] {
            assert!(check_triggers(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(check_triggers(&[]).is_err());
        assert!(!is_trigger(crate::domain::event_type::WEBHOOK_TEST));
    }

    #[test]
    fn retry_after_reads_seconds_or_a_date() {
        let now = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
