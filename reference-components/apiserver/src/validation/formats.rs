//! String formats Kubernetes checks everywhere (apimachinery's `util/validation`), each returning
//! Kubernetes' messages word for word, plus the IP and base64 helpers validation needs.

use std::net::{Ipv4Addr, Ipv6Addr};

use kube_core::selector::validate_dns1123_subdomain;

use super::{FieldError, Path};

/// `IsNegativeErrorMsg`.
pub(crate) const NEGATIVE: &str = "must be greater than or equal to 0";
/// `FieldImmutableErrorMsg`.
pub(crate) const IMMUTABLE: &str = "field is immutable";

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_ERR: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const CONFIG_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const CONFIG_KEY_ERR: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
const WILDCARD_FMT: &str = "\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const WILDCARD_ERR: &str = "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character";

/// `MaxLenError`.
pub(crate) fn max_len(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// `RegexError`.
pub(crate) fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    // Go writes "'a', " then " or " between examples: the double space is Kubernetes'.
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!(
        "{msg} (e.g. {}regex used for validation is '{fmt}')",
        examples.join(" or ")
    )
}

/// `InclusiveRangeError`.
pub(crate) fn inclusive_range(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

fn is_label_body(s: &str, first_alpha: bool) -> bool {
    let b = s.as_bytes();
    let inner = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-';
    let end = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let start = |c: &u8| {
        if first_alpha {
            c.is_ascii_lowercase()
        } else {
            end(c)
        }
    };
    b.first().is_some_and(start) && b.last().is_some_and(end) && b.iter().all(inner)
}

/// `IsDNS1123Label`.
pub(crate) fn dns1123_label(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push(max_len(63));
    }
    if !is_label_body(v, false) {
        if !v.is_empty() && v.split('.').all(|l| is_label_body(l, false)) {
            errs.push("must not contain dots".into());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_ERR,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// `IsDNS1035Label`.
pub(crate) fn dns1035_label(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push(max_len(63));
    }
    if !is_label_body(v, true) {
        errs.push(regex_error(
            DNS1035_LABEL_ERR,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// `IsDNS1123Subdomain`.
pub(crate) fn dns1123_subdomain(v: &str) -> Vec<String> {
    validate_dns1123_subdomain(v).err().unwrap_or_default()
}

/// `IsWildcardDNS1123Subdomain`.
pub(crate) fn wildcard_subdomain(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 253 {
        errs.push(max_len(253));
    }
    let ok = v
        .strip_prefix("*.")
        .is_some_and(|rest| dns1123_subdomain(rest).is_empty());
    if !ok {
        errs.push(regex_error(WILDCARD_ERR, WILDCARD_FMT, &["*.example.com"]));
    }
    errs
}

const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, anchored.
fn is_qualified_part(s: &str) -> bool {
    let b = s.as_bytes();
    let inner = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.');
    b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && b.iter().all(inner)
}

/// `IsQualifiedName` (label keys, annotation keys, finalizers).
pub(crate) fn qualified_name(v: &str) -> Vec<String> {
    let examples = &["MyName", "my.name", "123-abc"];
    let mut errs = Vec::new();
    let parts: Vec<&str> = v.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, examples)
            )];
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".into());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len(63)));
    }
    if !is_qualified_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, examples)
        ));
    }
    errs
}

/// `IsValidLabelValue`.
pub(crate) fn label_value(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push(max_len(63));
    }
    if !v.is_empty() && !is_qualified_part(v) {
        let fmt = format!("({QUALIFIED_NAME_FMT})?");
        errs.push(regex_error(
            LABEL_VALUE_ERR,
            &fmt,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

fn chdir_prefix(v: &str) -> Option<String> {
    match v {
        "." => Some("must not be '.'".into()),
        ".." => Some("must not be '..'".into()),
        v if v.starts_with("..") => Some("must not start with '..'".into()),
        _ => None,
    }
}

/// `IsConfigMapKey`: keys of ConfigMap and Secret data.
pub(crate) fn config_map_key(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 253 {
        errs.push(max_len(253));
    }
    let ok = !v.is_empty()
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'));
    if !ok {
        errs.push(regex_error(
            CONFIG_KEY_ERR,
            CONFIG_KEY_FMT,
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    errs.extend(chdir_prefix(v));
    errs
}

/// `IsRelaxedEnvVarName` (the rule since RelaxedEnvironmentVariableValidation went GA).
pub(crate) fn env_var_name(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.is_empty() {
        errs.push("environment variable name must be non-empty".into());
    }
    if v.chars()
        .any(|c| !c.is_ascii() || c.is_ascii_control() || c == '=')
    {
        errs.push("a valid environment variable name must consist only of printable ASCII characters other than '='".into());
    }
    errs
}

/// `IsValidPortName`.
pub(crate) fn port_name(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 15 {
        errs.push(max_len(15));
    }
    if v.is_empty()
        || !v
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !v.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if v.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if v.starts_with('-') || v.ends_with('-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

/// `IsValidPortNum`.
pub(crate) fn port_num(p: i64) -> Vec<String> {
    if (1..=65535).contains(&p) {
        Vec::new()
    } else {
        vec![inclusive_range(1, 65535)]
    }
}

/// `IsValidPercent`.
pub(crate) fn percent(v: &str) -> Vec<String> {
    let ok = v
        .strip_suffix('%')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()));
    if ok {
        Vec::new()
    } else {
        let msg = "a valid percent string must be a numeric string followed by an ending '%'";
        vec![regex_error(msg, "[0-9]+%", &["1%", "93%"])]
    }
}

/// `IsHTTPHeaderName`.
pub(crate) fn http_header_name(v: &str) -> Vec<String> {
    if !v.is_empty() && v.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
        Vec::new()
    } else {
        let msg = "a valid HTTP header must consist of alphanumeric characters or '-'";
        vec![regex_error(msg, "[-A-Za-z0-9]+", &["X-Header-Name"])]
    }
}

/// `IsValidPathSegmentName`: the minimal rule for RBAC names.
pub(crate) fn path_segment_name(v: &str) -> Vec<String> {
    if v == "." || v == ".." {
        return vec![format!("may not be '{v}'")];
    }
    ["/", "%"]
        .iter()
        .filter(|c| v.contains(*c))
        .map(|c| format!("may not contain '{c}'"))
        .collect()
}

/// `IsValidPathSegmentPrefix`.
pub(crate) fn path_segment_prefix(v: &str) -> Vec<String> {
    ["/", "%"]
        .iter()
        .filter(|c| v.contains(*c))
        .map(|c| format!("may not contain '{c}'"))
        .collect()
}

/// An IP address as Go's `ParseIPSloppy` reads it (IPv4 octets may have leading zeros).
pub(crate) fn parse_ip(v: &str) -> Option<std::net::IpAddr> {
    if v.contains(':') {
        return v.parse::<Ipv6Addr>().ok().map(Into::into);
    }
    let parts: Vec<&str> = v.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (o, p) in octets.iter_mut().zip(&parts) {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        *o = p.parse::<u16>().ok().filter(|n| *n <= 255)? as u8;
    }
    Some(Ipv4Addr::from(octets).into())
}

/// `IsValidIP`.
pub(crate) fn valid_ip(path: &Path, v: &str) -> Vec<FieldError> {
    if parse_ip(v).is_some() {
        Vec::new()
    } else {
        vec![FieldError::invalid(
            path,
            v,
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        )]
    }
}

/// `IsValidIPv4Address`.
pub(crate) fn valid_ipv4(path: &Path, v: &str) -> Vec<FieldError> {
    match parse_ip(v) {
        Some(ip) if ip.is_ipv4() => Vec::new(),
        _ => vec![FieldError::invalid(path, v, "must be a valid IPv4 address")],
    }
}

/// `IsValidIPv6Address`.
pub(crate) fn valid_ipv6(path: &Path, v: &str) -> Vec<FieldError> {
    match parse_ip(v) {
        Some(std::net::IpAddr::V6(ip)) if ip.to_ipv4_mapped().is_none() => Vec::new(),
        _ => vec![FieldError::invalid(path, v, "must be a valid IPv6 address")],
    }
}

/// Whether `v` is an IP address with a prefix length (`10.0.0.0/8`, `fd00::/64`).
pub(crate) fn is_cidr(v: &str) -> bool {
    v.split_once('/').is_some_and(|(ip, bits)| {
        let max = match parse_ip(ip) {
            Some(std::net::IpAddr::V4(_)) => 32,
            Some(std::net::IpAddr::V6(_)) => 128,
            None => return false,
        };
        !bits.is_empty()
            && bits.bytes().all(|c| c.is_ascii_digit())
            && bits.parse::<u32>().is_ok_and(|b| b <= max)
    })
}

/// `IsValidCIDR`.
pub(crate) fn valid_cidr(path: &Path, v: &str) -> Vec<FieldError> {
    if is_cidr(v) {
        Vec::new()
    } else {
        vec![FieldError::invalid(
            path,
            v,
            "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
        )]
    }
}

/// `ValidateNonSpecialIP`: endpoints may not be unspecified, loopback or link-local.
pub(crate) fn non_special_ip(path: &Path, v: &str) -> Vec<FieldError> {
    let ip = match parse_ip(v) {
        Some(std::net::IpAddr::V6(ip6)) => ip6.to_ipv4_mapped().map(Into::into).unwrap_or(ip6.into()),
        Some(ip) => ip,
        None => return vec![FieldError::invalid(path, v, "must be a valid IP address")],
    };
    let mut errs = Vec::new();
    let (unspecified, loopback, ll_unicast, ll_multicast) = match ip {
        std::net::IpAddr::V4(a) => {
            let o = a.octets();
            (
                a.is_unspecified(),
                o[0] == 127,
                o[0] == 169 && o[1] == 254,
                o[0] == 224 && o[1] == 0 && o[2] == 0,
            )
        }
        std::net::IpAddr::V6(a) => {
            let s = a.segments();
            (
                a.is_unspecified(),
                a.is_loopback(),
                s[0] & 0xffc0 == 0xfe80,
                s[0] & 0xff0f == 0xff02,
            )
        }
    };
    if unspecified {
        errs.push(FieldError::invalid(
            path,
            v,
            format!("may not be unspecified ({v})"),
        ));
    }
    if loopback {
        errs.push(FieldError::invalid(
            path,
            v,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    if ll_unicast {
        errs.push(FieldError::invalid(
            path,
            v,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    if ll_multicast {
        let msg = "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)";
        errs.push(FieldError::invalid(path, v, msg));
    }
    errs
}

/// `IsFullyQualifiedDomainName`.
pub(crate) fn fqdn(path: &Path, v: &str) -> Vec<FieldError> {
    if v.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let name = v.strip_suffix('.').unwrap_or(v);
    let errs = dns1123_subdomain(name);
    if !errs.is_empty() {
        return vec![FieldError::invalid(path, name, errs.join(","))];
    }
    if name.split('.').count() < 2 {
        return vec![FieldError::invalid(
            path,
            name,
            "should be a domain with at least two segments separated by dots",
        )];
    }
    for label in name.split('.') {
        let errs = dns1123_label(label);
        if !errs.is_empty() {
            return vec![FieldError::invalid(path, label, errs.join(","))];
        }
    }
    Vec::new()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard padded base64, as Go's `encoding/json` writes `[]byte`.
pub(crate) fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 as Go's `encoding/json` reads `[]byte` (padding optional); on
/// failure, the error in Go's words (`illegal base64 data at input byte 4`).
pub(crate) fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    let bytes = s.trim_end_matches('=').as_bytes();
    let padding = s.len() - bytes.len();
    let illegal = |i: usize| format!("illegal base64 data at input byte {i}");
    if padding > 2 || (padding > 0 && !s.len().is_multiple_of(4)) {
        return Err(illegal(bytes.len()));
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for (i, c) in bytes.iter().enumerate() {
        let v = B64.iter().position(|b| b == c).ok_or_else(|| illegal(i))? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if bits >= 6 {
        return Err(illegal(bytes.len()));
    }
    Ok(out)
}
