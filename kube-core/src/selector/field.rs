//! Field selectors: `spec.nodeName=node-1,status.phase!=Running`.
//!
//! The grammar and matching rules are those of kube-apiserver (`k8s.io/apimachinery/pkg/fields`):
//! terms separated by `,`, each `FIELD=VALUE`, `FIELD==VALUE` or `FIELD!=VALUE`, ANDed. The field
//! ends at the first operator (fields cannot be escaped); in a value, `\,`, `\=` and `\\` stand
//! for `,`, `=` and `\` ([`escape_value`], [`unescape_value`]), and any other backslash or an
//! unescaped `=` is an error. Empty terms are skipped and nothing is trimmed: `a = b` compares
//! field `"a "` with `" b"`, exactly as Kubernetes does.
//!
//! A field that an object does not have reads as the empty string, so `spec.nodeName=` selects
//! the pods that are not scheduled yet. Which fields a resource supports is up to the server:
//! [`FieldSelector::fields`] lists the ones a selector uses so it can reject the others.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

/// A field selector string that does not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at position {position}: {kind}")]
pub struct ParseError {
    /// Byte offset in the input of the offending term or character.
    pub position: usize,
    /// What is wrong there.
    pub kind: ParseErrorKind,
}

/// What is wrong in a field selector string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// A term with no `=`, `==` or `!=`.
    #[error("term {term:?} has no operator: expected '=', '==' or '!='")]
    MissingOperator {
        /// The term as written.
        term: String,
    },
    /// A backslash followed by something other than `\`, `,` or `=`, or by nothing.
    #[error("invalid escape sequence '{sequence}': a backslash escapes only '\\', ',' and '='")]
    InvalidEscape {
        /// The backslash and the character after it, if any.
        sequence: String,
    },
    /// A `=` (or `,`, in [`unescape_value`]) that must be escaped.
    #[error("unescaped '{character}' in value: write '\\{character}'")]
    UnescapedCharacter {
        /// The character.
        character: char,
    },
}

/// How a [`FieldTerm`] compares a field with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldOperator {
    /// `field=value` or `field==value`.
    Equals,
    /// `field!=value`.
    NotEquals,
}

impl fmt::Display for FieldOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        })
    }
}

/// One comparison of a field with a value; a [`FieldSelector`] is the AND of its terms.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldTerm {
    /// The field path, e.g. `spec.nodeName`.
    pub field: String,
    /// Equals or NotEquals.
    pub operator: FieldOperator,
    /// The value, unescaped.
    pub value: String,
}

impl FieldTerm {
    /// A term comparing `field` with `value` (given unescaped).
    pub fn new(field: impl Into<String>, operator: FieldOperator, value: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            operator,
            value: value.into(),
        }
    }

    /// Whether a field with the value `actual` (the empty string when absent) satisfies the term.
    pub fn matches(&self, actual: &str) -> bool {
        (actual == self.value) == (self.operator == FieldOperator::Equals)
    }
}

impl fmt::Display for FieldTerm {
    /// `field=value` or `field!=value`, with the value escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.field, self.operator, escape_value(&self.value))
    }
}

/// A field selector: the AND of [`FieldTerm`]s.
///
/// [`FieldSelector::default`] and [`FieldSelector::everything`] match every object. Parse with
/// [`str::parse`] or [`FieldSelector::parse`]; `Display` renders the canonical form (terms sorted,
/// values escaped), which kube-apiserver accepts and [`FieldSelector::parse`] reads back.
///
/// ```
/// use kube_core::FieldSelector;
///
/// let selector: FieldSelector = "status.phase!=Running,spec.nodeName=".parse()?;
/// let pending = serde_json::json!({"spec": {"containers": []}, "status": {"phase": "Pending"}});
/// assert!(selector.matches_object(&pending));
/// assert_eq!(selector.to_string(), "spec.nodeName=,status.phase!=Running");
///
/// let on_node = FieldSelector::everything().equals("spec.nodeName", "node-1");
/// assert_eq!(on_node.requires_exact_match("spec.nodeName"), Some("node-1"));
/// # Ok::<(), kube_core::selector::field::ParseError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldSelector {
    /// Sorted by rendered form, like Kubernetes sorts the terms it parses.
    terms: Vec<FieldTerm>,
}

impl FieldSelector {
    /// The selector that matches everything (no terms; renders as `""`).
    pub fn everything() -> Self {
        Self::default()
    }

    /// Parses Kubernetes' field selector syntax (see the [module docs](self)). `""` parses to
    /// [`FieldSelector::everything`].
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let mut terms = Vec::new();
        for (start, term) in split_terms(input) {
            if term.is_empty() {
                continue;
            }
            let Some((field, operator, value_at)) = split_term(term) else {
                let kind = ParseErrorKind::MissingOperator {
                    term: term.to_string(),
                };
                return Err(ParseError {
                    position: start,
                    kind,
                });
            };
            let value = unescape_value(&term[value_at..]).map_err(|e| ParseError {
                position: start + value_at + e.position,
                kind: e.kind,
            })?;
            terms.push(FieldTerm::new(field, operator, value));
        }
        Ok(terms.into_iter().collect())
    }

    /// Whether this selector has no terms and so matches everything.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The terms, in canonical order.
    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    /// The fields the terms compare, in term order and without repeats, so that a server can
    /// reject the ones its resource does not support.
    pub fn fields(&self) -> Vec<&str> {
        let mut fields: Vec<&str> = Vec::new();
        for term in &self.terms {
            if !fields.contains(&term.field.as_str()) {
                fields.push(&term.field);
            }
        }
        fields
    }

    /// Adds a term (ANDed with the others).
    pub fn and(mut self, term: FieldTerm) -> Self {
        self.terms.push(term);
        self.terms.sort_by_cached_key(ToString::to_string);
        self
    }

    /// Adds `field=value`.
    pub fn equals(self, field: impl Into<String>, value: impl Into<String>) -> Self {
        self.and(FieldTerm::new(field, FieldOperator::Equals, value))
    }

    /// Adds `field!=value`.
    pub fn not_equals(self, field: impl Into<String>, value: impl Into<String>) -> Self {
        self.and(FieldTerm::new(field, FieldOperator::NotEquals, value))
    }

    /// Whether every term matches, reading fields through `lookup`; a field it does not know
    /// (`None`) reads as the empty string, as in Kubernetes' `fields.Set`.
    pub fn matches(&self, lookup: impl Fn(&str) -> Option<String>) -> bool {
        self.terms
            .iter()
            .all(|t| t.matches(lookup(&t.field).as_deref().unwrap_or_default()))
    }

    /// Whether every term matches a field set such as a server's `ToSelectableFields` produces;
    /// missing fields read as the empty string.
    pub fn matches_fields(&self, fields: &BTreeMap<String, String>) -> bool {
        self.matches_with(|field| fields.get(field).map(String::as_str))
    }

    /// Whether every term matches the fields that `field` looks up, without copying their
    /// values; missing fields read as the empty string.
    pub fn matches_with<'v>(&self, field: impl Fn(&str) -> Option<&'v str>) -> bool {
        self.terms
            .iter()
            .all(|t| t.matches(field(&t.field).unwrap_or_default()))
    }

    /// Whether every term matches an object's JSON, each field being a dotted path into it
    /// (see [`object_field`]): `metadata.name`, `spec.nodeName`, `status.phase`,
    /// `involvedObject.kind`, `type`... Missing fields read as the empty string, booleans and
    /// numbers as their JSON text (`true`, `3`).
    pub fn matches_object(&self, object: &Value) -> bool {
        self.matches(|field| object_field(object, field))
    }

    /// The value this selector requires `field` to equal, if any (Kubernetes'
    /// `RequiresExactMatch`): servers and informers use it to narrow a list to one namespace or
    /// one node.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && t.operator == FieldOperator::Equals)
            .map(|t| t.value.as_str())
    }

    /// Rewrites every term's field and value, or fails with the first error, like Kubernetes'
    /// `Transform`: servers use it to map legacy field labels and reject unsupported ones.
    pub fn transform<E>(
        self,
        mut f: impl FnMut(&str, &str) -> Result<(String, String), E>,
    ) -> Result<Self, E> {
        let terms = self.terms.into_iter().map(|t| {
            let (field, value) = f(&t.field, &t.value)?;
            Ok(FieldTerm { field, value, ..t })
        });
        terms.collect()
    }
}

impl FromIterator<FieldTerm> for FieldSelector {
    fn from_iter<T: IntoIterator<Item = FieldTerm>>(iter: T) -> Self {
        let mut terms: Vec<FieldTerm> = iter.into_iter().collect();
        terms.sort_by_cached_key(ToString::to_string);
        Self { terms }
    }
}

impl From<BTreeMap<String, String>> for FieldSelector {
    /// `field=value` for every entry, like Kubernetes' `fields.SelectorFromSet`.
    fn from(fields: BTreeMap<String, String>) -> Self {
        fields
            .into_iter()
            .map(|(f, v)| FieldTerm::new(f, FieldOperator::Equals, v))
            .collect()
    }
}

impl fmt::Display for FieldSelector {
    /// Terms joined by `,` in canonical order, values escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, term) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{term}")?;
        }
        Ok(())
    }
}

impl FromStr for FieldSelector {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}

impl serde::Serialize for FieldSelector {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for FieldSelector {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Escapes a value for a field selector term: `\` becomes `\\`, `,` becomes `\,` and `=`
/// becomes `\=` (Kubernetes' `fields.EscapeValue`).
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Reverses [`escape_value`] (Kubernetes' `fields.UnescapeValue`): fails on a backslash that is
/// not followed by `\`, `,` or `=`, and on a bare `,` or `=`. Error positions are byte offsets
/// in `value`.
pub fn unescape_value(value: &str) -> Result<String, ParseError> {
    let mut out = String::with_capacity(value.len());
    let mut backslash = None;
    for (i, c) in value.char_indices() {
        if let Some(at) = backslash.take() {
            if !matches!(c, '\\' | ',' | '=') {
                let kind = ParseErrorKind::InvalidEscape {
                    sequence: format!("\\{c}"),
                };
                return Err(ParseError { position: at, kind });
            }
            out.push(c);
            continue;
        }
        match c {
            '\\' => backslash = Some(i),
            ',' | '=' => {
                let kind = ParseErrorKind::UnescapedCharacter { character: c };
                return Err(ParseError { position: i, kind });
            }
            _ => out.push(c),
        }
    }
    match backslash {
        Some(at) => Err(ParseError {
            position: at,
            kind: ParseErrorKind::InvalidEscape {
                sequence: "\\".into(),
            },
        }),
        None => Ok(out),
    }
}

/// Reads a dotted field path (`spec.nodeName`) from an object's JSON as the string a field
/// selector compares: strings as they are, booleans and numbers as their JSON text, objects and
/// arrays as compact JSON; `None` when the path is missing or `null`.
pub fn object_field(object: &Value, path: &str) -> Option<String> {
    let value = path.split('.').try_fold(object, |v, segment| v.get(segment))?;
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The comma-separated terms of a selector with their byte offsets; `\,` does not separate.
fn split_terms(input: &str) -> Vec<(usize, &str)> {
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in input.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                terms.push((start, &input[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push((start, &input[start..]));
    terms
}

/// Splits a term at its first operator: the field, the operator, and where the value starts.
fn split_term(term: &str) -> Option<(&str, FieldOperator, usize)> {
    term.char_indices().find_map(|(i, _)| {
        let rest = &term[i..];
        if rest.starts_with("!=") {
            Some((&term[..i], FieldOperator::NotEquals, i + 2))
        } else if rest.starts_with("==") {
            Some((&term[..i], FieldOperator::Equals, i + 2))
        } else if rest.starts_with('=') {
            Some((&term[..i], FieldOperator::Equals, i + 1))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_form_round_trips_through_its_canonical_form() {
        let cases = [
            ("", ""),
            (",", ""),
            ("a=b", "a=b"),
            ("a==b", "a=b"),
            ("a!=b", "a!=b"),
            ("a=", "a="),
            ("a!=", "a!="),
            ("a=!b", "a=!b"),
            ("b=1,a=2", "a=2,b=1"),
            ("a=b,,c=d,", "a=b,c=d"),
            (
                "status.phase!=Running,spec.nodeName=",
                "spec.nodeName=,status.phase!=Running",
            ),
            (r"a=x\,y\=z\\w", r"a=x\,y\=z\\w"),
            (r"a==\=", r"a=\="),
            ("a=1,a=1", "a=1,a=1"),
            ("a = b", "a = b"),
            ("metadata.name=wéb", "metadata.name=wéb"),
        ];
        for (input, canonical) in cases {
            let parsed: FieldSelector = input.parse().unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(parsed.to_string(), canonical, "{input:?}");
            assert_eq!(FieldSelector::parse(canonical).unwrap(), parsed, "{input:?}");
            assert_eq!(parsed.is_empty(), canonical.is_empty());
        }
        let parsed = FieldSelector::parse(r"a=x\,y\=z\\w,a = b").unwrap();
        assert_eq!(
            parsed.terms(),
            [
                FieldTerm::new("a ", FieldOperator::Equals, " b"),
                FieldTerm::new("a", FieldOperator::Equals, r"x,y=z\w"),
            ]
        );
    }

    #[test]
    fn errors_name_position_and_problem() {
        let cases = [
            (
                "abc",
                0,
                r#"term "abc" has no operator: expected '=', '==' or '!='"#,
            ),
            (
                "a=b,cd",
                4,
                r#"term "cd" has no operator: expected '=', '==' or '!='"#,
            ),
            (
                r"a=b\,c,d",
                7,
                r#"term "d" has no operator: expected '=', '==' or '!='"#,
            ),
            (
                r"a=\x",
                2,
                r"invalid escape sequence '\x': a backslash escapes only '\', ',' and '='",
            ),
            (
                r"a=b\",
                3,
                r"invalid escape sequence '\': a backslash escapes only '\', ',' and '='",
            ),
            ("a=b=c", 3, r"unescaped '=' in value: write '\='"),
            ("x=1,a!=b=c", 8, r"unescaped '=' in value: write '\='"),
            ("a===b", 3, r"unescaped '=' in value: write '\='"),
        ];
        for (input, position, message) in cases {
            let err = FieldSelector::parse(input).unwrap_err();
            assert_eq!(
                (err.position, err.kind.to_string()),
                (position, message.to_string()),
                "{input:?}"
            );
            assert_eq!(err.to_string(), format!("at position {position}: {message}"));
        }
    }

    #[test]
    fn escaping_matches_kubernetes() {
        for (raw, escaped) in [
            ("", ""),
            ("plain", "plain"),
            (r"a,b=c\d", r"a\,b\=c\\d"),
            (r"\\,", r"\\\\\,"),
        ] {
            assert_eq!(escape_value(raw), escaped);
            assert_eq!(unescape_value(escaped).unwrap(), raw);
        }
        let err = unescape_value("a,b").unwrap_err();
        assert_eq!(
            err.to_string(),
            r"at position 1: unescaped ',' in value: write '\,'"
        );
        assert_eq!(unescape_value(r"ab\n").unwrap_err().position, 2);
        let selector = FieldSelector::everything().equals("metadata.name", r"a,b=c\");
        assert_eq!(selector.to_string(), r"metadata.name=a\,b\=c\\");
        assert_eq!(FieldSelector::parse(&selector.to_string()).unwrap(), selector);
    }

    #[test]
    fn matches_reads_missing_fields_as_empty() {
        let fields = BTreeMap::from([("a".to_string(), "1".to_string())]);
        let lookup = |f: &str| fields.get(f).cloned();
        let cases = [
            ("", true),
            ("a=1", true),
            ("a==2", false),
            ("a!=2", true),
            ("a!=1", false),
            ("b=", true),
            ("b!=", false),
            ("b!=x", true),
            ("a=1,b=x", false),
        ];
        for (selector, expected) in cases {
            let s = FieldSelector::parse(selector).unwrap();
            assert_eq!(s.matches(lookup), expected, "{selector}");
            assert_eq!(s.matches_fields(&fields), expected, "{selector}");
            let borrowed = |f: &str| fields.get(f).map(String::as_str);
            assert_eq!(s.matches_with(borrowed), expected, "{selector} (matches_with)");
        }
    }

    #[test]
    fn matches_object_on_pods_and_events() {
        let unscheduled = json!({
            "metadata": {"name": "web-0", "namespace": "default"},
            "spec": {"schedulerName": "default-scheduler", "containers": [{"name": "c"}]},
            "status": {"phase": "Pending"}
        });
        let running = json!({
            "metadata": {"name": "web-1", "namespace": "prod"},
            "spec": {"nodeName": "node-1", "hostNetwork": true, "priority": 10, "schedulerName": null},
            "status": {"phase": "Running", "podIP": "10.0.0.5"}
        });
        let cases = [
            ("spec.nodeName=", true, false),
            ("spec.nodeName=node-1", false, true),
            ("spec.nodeName!=", false, true),
            ("status.phase!=Running", true, false),
            ("status.phase!=Running,spec.nodeName=", true, false),
            ("metadata.name=web-0,metadata.namespace=default", true, false),
            ("metadata.namespace!=default", false, true),
            ("spec.schedulerName=default-scheduler", true, false),
            ("spec.schedulerName=", false, true),
            ("spec.hostNetwork=true", false, true),
            ("spec.priority=10", false, true),
            ("status.podIP=10.0.0.5", false, true),
            ("metadata.name.extra=", true, true),
        ];
        for (selector, on_unscheduled, on_running) in cases {
            let s = FieldSelector::parse(selector).unwrap();
            assert_eq!(
                s.matches_object(&unscheduled),
                on_unscheduled,
                "{selector} on unscheduled"
            );
            assert_eq!(s.matches_object(&running), on_running, "{selector} on running");
        }
        let event = json!({"type": "Warning", "reason": "BackOff", "involvedObject": {"kind": "Pod", "name": "web-0"}});
        let s = FieldSelector::parse("involvedObject.kind=Pod,type=Warning,reason!=Scheduled").unwrap();
        assert!(s.matches_object(&event));
        assert!(
            !FieldSelector::parse("type=Normal")
                .unwrap()
                .matches_object(&event)
        );
        assert_eq!(
            object_field(&event, "involvedObject"),
            Some(r#"{"kind":"Pod","name":"web-0"}"#.into())
        );
        assert_eq!(
            object_field(&unscheduled, "spec.containers"),
            Some(r#"[{"name":"c"}]"#.into())
        );
    }

    #[test]
    fn helpers_for_servers_and_informers() {
        let s = FieldSelector::parse(
            "spec.nodeName=node-1,metadata.name!=x,metadata.name=web,spec.nodeName=node-2",
        )
        .unwrap();
        assert_eq!(s.requires_exact_match("spec.nodeName"), Some("node-1"));
        assert_eq!(s.requires_exact_match("metadata.name"), Some("web"));
        assert_eq!(
            FieldSelector::parse("a!=b").unwrap().requires_exact_match("a"),
            None
        );
        assert_eq!(s.requires_exact_match("status.phase"), None);
        assert_eq!(s.fields(), ["metadata.name", "spec.nodeName"]);
        assert!(FieldSelector::everything().fields().is_empty());

        let mapped = FieldSelector::parse("spec.host=n1,metadata.name=a")
            .unwrap()
            .transform(|f, v| match f {
                "spec.host" => Ok(("spec.nodeName".into(), v.into())),
                "metadata.name" => Ok((f.into(), v.into())),
                _ => Err(format!("field label not supported: {f}")),
            })
            .unwrap();
        assert_eq!(mapped.to_string(), "metadata.name=a,spec.nodeName=n1");
        let err = FieldSelector::parse("spec.unknown=1")
            .unwrap()
            .transform(|f, _| Err::<(String, String), _>(f.to_string()));
        assert_eq!(err, Err("spec.unknown".to_string()));
    }

    #[test]
    fn builders_sets_and_serde() {
        let built = FieldSelector::everything()
            .not_equals("status.phase", "Running")
            .equals("spec.nodeName", "");
        assert_eq!(
            built,
            FieldSelector::parse("status.phase!=Running,spec.nodeName=").unwrap()
        );
        let from_set = FieldSelector::from(BTreeMap::from([
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "=".to_string()),
        ]));
        assert_eq!(from_set.to_string(), r"a=\=,b=2");
        let json = serde_json::to_string(&from_set).unwrap();
        assert_eq!(json, r#""a=\\=,b=2""#);
        assert_eq!(serde_json::from_str::<FieldSelector>(&json).unwrap(), from_set);
        assert!(serde_json::from_str::<FieldSelector>(r#""nope""#).is_err());
    }
}
