//! Durations as Go writes them (`time.Duration`'s text: `500ms`, `15s`, `1m30s`, `2h45m0s`).
//!
//! Kubernetes uses this text wherever a duration is not a number of seconds: `metav1.Duration`
//! fields of component configurations (`leaseDuration: 15s`) and command-line flags
//! (`--leader-elect-lease-duration=15s`). [`parse`] accepts what Go's `time.ParseDuration`
//! accepts, except negative durations (a [`std::time::Duration`] cannot hold them); [`format()`]
//! writes what Go's `Duration.String` writes, so a value survives a round trip through Go.
//!
//! ```
//! use std::time::Duration;
//! use kube_core::duration;
//!
//! assert_eq!(duration::parse("1m30s").unwrap(), Duration::from_secs(90));
//! assert_eq!(duration::parse("1.5h").unwrap(), Duration::from_secs(5400));
//! assert_eq!(duration::format(Duration::from_millis(2500)), "2.5s");
//! assert_eq!(duration::format(Duration::from_secs(3600)), "1h0m0s");
//! ```
//!
//! In a serde struct, `#[serde(with = "kube_core::duration::text")]` reads and writes a
//! `std::time::Duration` field in this form.

use std::fmt::Write as _;
use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Why a duration's text was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {text:?}: {reason}")]
pub struct ParseDurationError {
    text: String,
    reason: &'static str,
}

impl ParseDurationError {
    fn new(text: &str, reason: &'static str) -> Self {
        Self {
            text: text.to_string(),
            reason,
        }
    }
}

/// The nanoseconds of one unit, and the unit's length in bytes, at the start of `s`.
fn unit(s: &str) -> Option<(u128, usize)> {
    // Longest first: `ms` before `m`, and Go's three spellings of microseconds.
    const UNITS: [(&str, u128); 8] = [
        ("ns", 1),
        ("us", 1_000),
        ("\u{b5}s", 1_000),  // µ MICRO SIGN
        ("\u{3bc}s", 1_000), // μ GREEK SMALL LETTER MU
        ("ms", 1_000_000),
        ("s", NANOS_PER_SEC),
        ("m", 60 * NANOS_PER_SEC),
        ("h", 3_600 * NANOS_PER_SEC),
    ];
    UNITS
        .iter()
        .find(|(name, _)| s.starts_with(name))
        .map(|(name, nanos)| (*nanos, name.len()))
}

/// Parse Go's duration text: an optional `+`, then one or more decimal numbers (with optional
/// fraction) each followed by a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), or a bare `0`.
/// Negative durations, a missing unit and overflow are errors.
pub fn parse(text: &str) -> Result<Duration, ParseDurationError> {
    let err = |reason| ParseDurationError::new(text, reason);
    let mut s = text;
    let negative = s.starts_with('-');
    if let Some(rest) = s.strip_prefix(['+', '-']) {
        s = rest;
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(err("empty"));
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let (int, rest) = s.split_at(int_len);
        let (frac, rest) = match rest.strip_prefix('.') {
            Some(after) => {
                let len = after.bytes().take_while(u8::is_ascii_digit).count();
                after.split_at(len)
            }
            None => ("", rest),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(err("expected a number"));
        }
        let Some((unit_nanos, unit_len)) = unit(rest) else {
            return Err(err(if rest.is_empty() {
                "missing unit (ns, us, ms, s, m or h)"
            } else {
                "unknown unit (expected ns, us, ms, s, m or h)"
            }));
        };
        let whole: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| err("number too large"))?
        };
        // As Go does: the fraction's digits as an integer until it would overflow, then the
        // rest ignored; scaled through a float, which rounds the way Go's results do.
        let (mut digits, mut scale) = (0u64, 1f64);
        for d in frac.bytes() {
            if digits > (1u64 << 63) / 10 {
                break;
            }
            digits = digits * 10 + u64::from(d - b'0');
            scale *= 10.0;
        }
        let part = (digits as f64 * (unit_nanos as f64 / scale)) as u128;
        total = whole
            .checked_mul(unit_nanos)
            .and_then(|n| n.checked_add(part))
            .and_then(|n| n.checked_add(total))
            .filter(|n| *n <= i64::MAX as u128) // Go's range
            .ok_or_else(|| err("out of range"))?;
        s = &rest[unit_len..];
    }
    if negative && total > 0 {
        return Err(err("negative durations are not supported"));
    }
    Ok(Duration::new(
        (total / NANOS_PER_SEC) as u64,
        (total % NANOS_PER_SEC) as u32,
    ))
}

/// `value` followed by the digits of `frac` (of `width` digits) without trailing zeros.
fn push_fraction(out: &mut String, value: u128, frac: u128, width: u32) {
    let _ = write!(out, "{value}");
    if frac > 0 {
        let digits = format!("{frac:0width$}", width = width as usize);
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

/// Go's `Duration.String`: `0s`; below a second in the largest fitting unit of `ns`, `µs`, `ms`
/// with a fraction (`1.5ms`); otherwise hours and minutes as needed and seconds always
/// (`15s`, `1m30s`, `1h0m0.5s`). Durations beyond Go's range (about 292 years) are written
/// the same way although Go could not read them back.
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    let mut out = String::new();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < NANOS_PER_SEC {
        let (div, width, unit) = match nanos {
            n if n < 1_000 => (1, 0, "ns"),
            n if n < 1_000_000 => (1_000, 3, "\u{b5}s"),
            _ => (1_000_000, 6, "ms"),
        };
        push_fraction(&mut out, nanos / div, nanos % div, width);
        out.push_str(unit);
        return out;
    }
    let secs = nanos / NANOS_PER_SEC;
    let (hours, minutes) = (secs / 3_600, secs / 60 % 60);
    if hours > 0 {
        let _ = write!(out, "{hours}h");
    }
    if hours > 0 || minutes > 0 {
        let _ = write!(out, "{minutes}m");
    }
    push_fraction(&mut out, secs % 60, nanos % NANOS_PER_SEC, 9);
    out.push('s');
    out
}

/// serde support: `#[serde(with = "kube_core::duration::text")]` on a `std::time::Duration`
/// field reads and writes Go's duration text, as `metav1.Duration` does.
pub mod text {
    use std::time::Duration;

    /// Write `d` as Go's duration text.
    pub fn serialize<S: serde::Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format(*d))
    }

    /// Read Go's duration text.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
        super::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(n: u64) -> Duration {
        Duration::from_nanos(n)
    }

    #[test]
    fn parses_what_go_parses() {
        let cases = [
            ("0", ns(0)),
            ("+0", ns(0)),
            ("-0", ns(0)),
            ("0s", ns(0)),
            ("5s", Duration::from_secs(5)),
            ("+5s", Duration::from_secs(5)),
            ("30s", Duration::from_secs(30)),
            ("1478s", Duration::from_secs(1478)),
            ("1.5s", Duration::from_millis(1500)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            ("1.004s", Duration::from_millis(1004)),
            ("1.0040s", Duration::from_millis(1004)),
            ("100.00100s", Duration::from_millis(100_001)),
            ("10ns", ns(10)),
            ("11us", ns(11_000)),
            ("12\u{b5}s", ns(12_000)),
            ("12\u{3bc}s", ns(12_000)),
            ("13ms", ns(13_000_000)),
            ("14s", Duration::from_secs(14)),
            ("15m", Duration::from_secs(900)),
            ("16h", Duration::from_secs(16 * 3600)),
            ("3h30m", Duration::from_secs(3 * 3600 + 1800)),
            ("10.5s4m", Duration::from_millis(4 * 60_000 + 10_500)),
            ("1h1m1s1ms1us1ns", ns(3_661_001_001_001)),
            ("39h9m14.425s", Duration::from_millis(140_954_425)),
            ("52763797000ns", ns(52_763_797_000)),
            ("0.3333333333333333333h", Duration::from_secs(1200)),
            ("9007199254740993ns", ns(9_007_199_254_740_993)),
            ("9223372036854775807ns", ns(i64::MAX as u64)),
            ("9223372036854775.807us", ns(i64::MAX as u64)),
            ("0.100000000000000000000h", Duration::from_secs(360)),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_what_go_rejects() {
        for text in [
            "",
            "3",
            "-",
            "s",
            ".",
            "-.",
            ".s",
            "+.s",
            "1d",
            "1.5",
            "3000000h",
            "9223372036854775808ns",
            "10s x",
            " 10s",
            "1e3s",
        ] {
            assert!(parse(text).is_err(), "{text:?} accepted");
        }
        let e = parse("1d").unwrap_err().to_string();
        assert!(e.contains("\"1d\"") && e.contains("unit"), "{e}");
        assert!(parse("10").unwrap_err().to_string().contains("missing unit"));
        assert!(parse("-5s").unwrap_err().to_string().contains("negative"));
    }

    #[test]
    fn formats_as_go_does() {
        let cases = [
            (ns(0), "0s"),
            (ns(1), "1ns"),
            (ns(1_100), "1.1\u{b5}s"),
            (ns(2_200_000), "2.2ms"),
            (ns(3_300_000_000), "3.3s"),
            (Duration::from_secs(15), "15s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(240), "4m0s"),
            (Duration::from_millis(4 * 60_000 + 5_001), "4m5.001s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (
                Duration::from_millis(5 * 3_600_000 + 6 * 60_000 + 7_001),
                "5h6m7.001s",
            ),
            (ns(8 * 3_600_000_000_000 + 1), "8h0m0.000000001s"),
            (ns(i64::MAX as u64), "2562047h47m16.854775807s"),
        ];
        for (d, want) in cases {
            assert_eq!(format(d), want, "{d:?}");
            assert_eq!(parse(want), Ok(d), "{want} does not read back");
        }
    }

    #[test]
    fn serde_reads_and_writes_text() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Config {
            #[serde(with = "text")]
            lease: Duration,
        }
        let c: Config = serde_json::from_str(r#"{"lease":"1m5s"}"#).unwrap();
        assert_eq!(c.lease, Duration::from_secs(65));
        assert_eq!(serde_json::to_string(&c).unwrap(), r#"{"lease":"1m5s"}"#);
        let e = serde_json::from_str::<Config>(r#"{"lease":"5"}"#).unwrap_err();
        assert!(e.to_string().contains("missing unit"), "{e}");
        assert!(serde_json::from_str::<Config>(r#"{"lease":5}"#).is_err());
    }
}
