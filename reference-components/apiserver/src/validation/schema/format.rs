//! The `format`s of kube-openapi's registry that are cheap to check. Formats not listed here
//! (including the numeric ones, `password` and unknown names) accept every value, as there.

use crate::validation::formats::{base64_decode, dns1123_subdomain, is_cidr, parse_ip};

/// Whether the string `v` has `format`.
pub(super) fn valid(format: &str, v: &str) -> bool {
    match format {
        "date-time" | "datetime" => v.parse::<jiff::Timestamp>().is_ok(),
        "date" => v.len() == 10 && v.parse::<jiff::civil::Date>().is_ok(),
        "byte" => base64_decode(v).is_ok(),
        "ipv4" => parse_ip(v).is_some_and(|ip| ip.is_ipv4()),
        "ipv6" => v.contains(':') && parse_ip(v).is_some(),
        "cidr" => is_cidr(v),
        "uuid" => uuid(v),
        "hostname" => !v.is_empty() && dns1123_subdomain(&v.to_ascii_lowercase()).is_empty(),
        "email" => v
            .split_once('@')
            .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.') && !domain.contains('@')),
        "mac" => mac(v),
        _ => true,
    }
}

fn uuid(v: &str) -> bool {
    let groups: Vec<&str> = v.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|c| c.is_ascii_hexdigit()))
}

fn mac(v: &str) -> bool {
    let sep = if v.contains('-') { '-' } else { ':' };
    let groups: Vec<&str> = v.split(sep).collect();
    matches!(groups.len(), 6 | 8 | 20)
        && groups
            .iter()
            .all(|g| g.len() == 2 && g.bytes().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::valid;

    #[test]
    fn cheap_formats() {
        let cases = [
            ("date-time", "2024-05-01T10:00:00Z", "2024-05-01 10:00"),
            ("date", "2024-05-01", "2024-5-1"),
            ("byte", "aGVsbG8=", "not base64!"),
            ("ipv4", "10.0.0.1", "10.0.0.256"),
            ("ipv6", "2001:db8::1", "10.0.0.1"),
            ("cidr", "10.0.0.0/8", "10.0.0.0/33"),
            ("uuid", "123e4567-e89b-12d3-a456-426614174000", "123e4567"),
            ("hostname", "web-0.example.com", "-bad-"),
            ("email", "a@example.com", "nobody"),
            ("mac", "00:1a:2b:3c:4d:5e", "00:1a"),
        ];
        for (format, good, bad) in cases {
            assert!(valid(format, good), "{format}: {good} should be valid");
            assert!(!valid(format, bad), "{format}: {bad} should be invalid");
        }
        assert!(valid("int32", "anything"), "unknown to the checker: accepted");
    }
}
