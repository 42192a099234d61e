//! Resource quantities (`500m`, `1.5Gi`, `2e3`) as `resource.Quantity` reads them: parse,
//! compare, take the integer or milli value, and print in Kubernetes' canonical form (`0.5`
//! prints as `500m`, `1024Mi` as `1Gi`).
//!
//! k8s-openapi's [`Quantity`] holds
//! the text; [`ParsedQuantity`] is its value.
//!
//! ```
//! use kube_core::quantity::ParsedQuantity;
//!
//! let cpu: ParsedQuantity = "250m".parse()?;
//! assert_eq!(cpu.milli_value(), 250);
//! let memory: ParsedQuantity = "1.5Gi".parse()?;
//! assert_eq!(memory.value(), 1_610_612_736);
//! assert_eq!(memory.canonical(), "1536Mi");
//! assert!("1.2.3".parse::<ParsedQuantity>().is_err());
//! # Ok::<(), kube_core::quantity::QuantityError>(())
//! ```

use std::cmp::Ordering;
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// The message Kubernetes gives for a malformed quantity.
pub const FORMAT_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

const NANO: i128 = 1_000_000_000;

/// How a quantity was written, which decides how it prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `Ki`, `Mi`, ... powers of 1024.
    BinarySi,
    /// `m`, `k`, `M`, ... powers of 1000 (and no suffix).
    DecimalSi,
    /// `e3`, `E-6`.
    DecimalExponent,
}

/// A parsed quantity, held exactly in units of 10^-9 (finer values round up, as in Kubernetes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedQuantity {
    nanos: i128,
    format: Format,
}

impl PartialOrd for ParsedQuantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ParsedQuantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

fn pow(base: i128, exp: u32) -> Option<i128> {
    base.checked_pow(exp)
}

fn ceil_div(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b > 0 { q + 1 } else { q }
}

/// A quantity that does not parse: its text, and [`FORMAT_ERROR`] as the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid quantity {text:?}: {FORMAT_ERROR}")]
pub struct QuantityError {
    /// The text that did not parse.
    pub text: String,
}

impl FromStr for ParsedQuantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s).ok_or_else(|| QuantityError { text: s.to_owned() })
    }
}

impl TryFrom<&Quantity> for ParsedQuantity {
    type Error = QuantityError;

    fn try_from(q: &Quantity) -> Result<Self, Self::Error> {
        q.0.parse()
    }
}

/// Parses a quantity as `resource.ParseQuantity` does; `None` when malformed (or too large to
/// hold exactly, which real clusters never use). [`str::parse`] gives the same with an error.
pub fn parse(s: &str) -> Option<ParsedQuantity> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let num_len = rest
        .bytes()
        .take_while(|c| c.is_ascii_digit() || *c == b'.')
        .count();
    let (number, suffix) = rest.split_at(num_len);
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if int_part.is_empty() && frac_part.is_empty() || frac_part.contains('.') {
        return None;
    }
    let digits: String = format!("{int_part}{frac_part}");
    let mut mantissa: i128 = 0;
    for d in digits.bytes() {
        mantissa = mantissa.checked_mul(10)?.checked_add(i128::from(d - b'0'))?;
    }
    let frac = frac_part.len() as i32;
    let (binary, exp10, format) = match suffix {
        "Ki" => (1, 0, Format::BinarySi),
        "Mi" => (2, 0, Format::BinarySi),
        "Gi" => (3, 0, Format::BinarySi),
        "Ti" => (4, 0, Format::BinarySi),
        "Pi" => (5, 0, Format::BinarySi),
        "Ei" => (6, 0, Format::BinarySi),
        "n" => (0, -9, Format::DecimalSi),
        "u" => (0, -6, Format::DecimalSi),
        "m" => (0, -3, Format::DecimalSi),
        "" => (0, 0, Format::DecimalSi),
        "k" => (0, 3, Format::DecimalSi),
        "M" => (0, 6, Format::DecimalSi),
        "G" => (0, 9, Format::DecimalSi),
        "T" => (0, 12, Format::DecimalSi),
        "P" => (0, 15, Format::DecimalSi),
        "E" => (0, 18, Format::DecimalSi),
        s if s.starts_with(['e', 'E']) => {
            let e = &s[1..];
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) || digits.len() > 4 {
                return None;
            }
            (0, e.parse::<i32>().ok()?, Format::DecimalExponent)
        }
        _ => return None,
    };
    let scaled = mantissa.checked_mul(pow(1024, binary)?)?;
    let shift = exp10 - frac + 9;
    let nanos = if shift >= 0 {
        scaled.checked_mul(pow(10, shift as u32)?)?
    } else {
        ceil_div(scaled, pow(10, (-shift) as u32).unwrap_or(i128::MAX))
    };
    Some(ParsedQuantity {
        nanos: if negative { -nanos } else { nanos },
        format,
    })
}

impl ParsedQuantity {
    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// Whether the value is above zero.
    pub fn is_positive(&self) -> bool {
        self.nanos > 0
    }

    /// Whether the value is a whole number.
    pub fn is_integer(&self) -> bool {
        self.nanos % NANO == 0
    }

    /// `Value()`: the value rounded up to an integer.
    pub fn value(&self) -> i64 {
        i64::try_from(ceil_div(self.nanos, NANO)).unwrap_or(i64::MAX)
    }

    /// `MilliValue()`: the value in thousandths, rounded up (`250m` is 250, `1` is 1000): how
    /// CPU is counted.
    pub fn milli_value(&self) -> i64 {
        i64::try_from(ceil_div(self.nanos, NANO / 1000)).unwrap_or(i64::MAX)
    }

    /// How the quantity was written, which decides how it prints.
    pub fn format(&self) -> Format {
        self.format
    }

    /// `String()`: the canonical form Kubernetes prints and stores.
    pub fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".into();
        }
        let mut format = self.format;
        if format == Format::BinarySi && (self.nanos.abs() < 1024 * NANO || self.nanos % NANO != 0) {
            format = Format::DecimalSi;
        }
        if format == Format::BinarySi {
            let mut v = self.nanos / NANO;
            let mut k = 0;
            while k < 6 && v % 1024 == 0 {
                v /= 1024;
                k += 1;
            }
            return format!("{v}{}", ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][k]);
        }
        let (mut m, mut e) = (self.nanos, -9i32);
        while m % 1000 == 0 {
            m /= 1000;
            e += 3;
        }
        let suffix = match (format, e) {
            (_, 0) => String::new(),
            (Format::DecimalSi, -9) => "n".into(),
            (Format::DecimalSi, -6) => "u".into(),
            (Format::DecimalSi, -3) => "m".into(),
            (Format::DecimalSi, 3) => "k".into(),
            (Format::DecimalSi, 6) => "M".into(),
            (Format::DecimalSi, 9) => "G".into(),
            (Format::DecimalSi, 12) => "T".into(),
            (Format::DecimalSi, 15) => "P".into(),
            (Format::DecimalSi, 18) => "E".into(),
            (_, e) => format!("e{e}"),
        };
        format!("{m}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_canonically() {
        let cases = [
            ("500m", "500m"),
            ("0.5", "500m"),
            ("1", "1"),
            ("1000m", "1"),
            ("1500m", "1500m"),
            ("128Mi", "128Mi"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("100", "100"),
            ("1k", "1k"),
            ("2e3", "2e3"),
            ("512", "512"),
            ("0", "0"),
            ("-1", "-1"),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse(input).map(|q| q.canonical()),
                Some(want.to_string()),
                "{input}"
            );
        }
        for bad in ["", "abc", "1.2.3", "1Qi", "m", "1e", "--1"] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn compares_across_formats() {
        let q = |s| parse(s).unwrap();
        assert!(q("500m") < q("1"));
        assert_eq!(q("1Gi").cmp(&q("1073741824")), Ordering::Equal);
        assert!(!q("1.5").is_integer() && q("2").is_integer());
        assert_eq!(q("1500m").value(), 2);
        assert_eq!(q("1500m").milli_value(), 1500);
        assert_eq!(q("2").milli_value(), 2000);
        assert_eq!(q("1n").milli_value(), 1);
        assert_eq!(q("128Mi").milli_value(), 128 * 1024 * 1024 * 1000);
        let err = "1Qi".parse::<ParsedQuantity>().unwrap_err();
        assert_eq!(err.text, "1Qi");
        assert!(err.to_string().contains("must match the regular expression"));
        let typed = Quantity("100m".into());
        assert_eq!(ParsedQuantity::try_from(&typed).unwrap().milli_value(), 100);
    }
}
