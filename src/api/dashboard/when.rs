//! Times and ages as the operator pages show them: UTC to the second, machine-readable in
//! `<time datetime>`, and ages rounded to the unit that matters at a glance.

use chrono::{DateTime, Duration, SecondsFormat, Utc};

/// How a time reads on a page.
pub const FORMAT: &str = "%Y-%m-%d %H:%M:%S UTC";

/// `t` as a `<time>` element, or `none` when there is no time.
pub fn time(t: Option<DateTime<Utc>>, none: &str) -> String {
    match t {
        Some(t) => format!(
            "<time datetime=\"{}\">{}</time>",
            t.to_rfc3339_opts(SecondsFormat::Secs, true),
            t.format(FORMAT)
        ),
        None => none.to_owned(),
    }
}

/// How long `d` is, in its largest whole units: `42 s`, `3 min 5 s`, `2 h 7 min`, `3 d 4 h`.
/// A negative span (clocks apart) reads as none.
pub fn age(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    let (days, hours, minutes, seconds) = (s / 86_400, s / 3_600 % 24, s / 60 % 60, s % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds} s"),
        (0, 0, m) if seconds == 0 => format!("{m} min"),
        (0, 0, m) => format!("{m} min {seconds} s"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_keep_their_two_largest_units() {
        assert_eq!(age(Duration::seconds(42)), "42 s");
        assert_eq!(age(Duration::seconds(180)), "3 min");
        assert_eq!(age(Duration::seconds(185)), "3 min 5 s");
        assert_eq!(age(Duration::seconds(7_200)), "2 h");
        assert_eq!(age(Duration::seconds(7_625)), "2 h 7 min");
        assert_eq!(age(Duration::seconds(3 * 86_400 + 100)), "3 d");
        assert_eq!(age(Duration::seconds(3 * 86_400 + 4 * 3_600)), "3 d 4 h");
        assert_eq!(age(Duration::seconds(-5)), "0 s");
    }

    #[test]
    fn times_are_utc_to_the_second_and_machine_readable() {
        let t = DateTime::from_timestamp(1_764_930_000, 123_000_000);
        assert_eq!(
            time(t, "never"),
            "<time datetime=\"2025-12-05T10:20:00Z\">2025-12-05 10:20:00 UTC</time>"
        );
        assert_eq!(time(None, "never"), "never");
    }
}
