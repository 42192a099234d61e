//! Label and field selectors: parse, match, convert.
//!
//! Both follow kube-apiserver exactly (`k8s.io/apimachinery/pkg/labels` and `pkg/fields`), so a
//! selector parsed here is accepted by a server exactly when Kubernetes would accept it, matches
//! the same objects, and renders (through `Display`) to the canonical form Kubernetes' `String()`
//! produces.
//!
//! - [`Selector`] is a label selector: `app=web,tier in (a,b),!canary,version>3`. It converts to
//!   and from [`LabelSelector`](k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector)
//!   (`matchLabels` + `matchExpressions`).
//! - [`FieldSelector`] is a field selector: `spec.nodeName=node-1,status.phase!=Running`, matched
//!   against a field lookup or directly against an object's JSON.
//!
//! The validation functions below ([`validate_qualified_name`], [`validate_label_value`],
//! [`validate_dns1123_subdomain`]) are the ones Kubernetes applies to label keys and values
//! everywhere (selectors and `metadata.labels` alike) and return its messages word for word.
//!
//! ```
//! use std::collections::BTreeMap;
//! use kube_core::{FieldSelector, Selector};
//!
//! let labels: Selector = "tier in (web, api), !canary".parse()?;
//! let pod_labels = BTreeMap::from([("tier".to_string(), "web".to_string())]);
//! assert!(labels.matches(&pod_labels));
//! assert_eq!(labels.to_string(), "!canary,tier in (api,web)");
//!
//! let fields: FieldSelector = "spec.nodeName=".parse()?;
//! let unscheduled = serde_json::json!({"metadata": {"name": "web-0"}, "spec": {}});
//! assert!(fields.matches_object(&unscheduled));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod field;
pub mod label;

pub use field::{FieldOperator, FieldSelector, FieldTerm};
pub use label::{Operator, Requirement, Selector};

/// Longest name part of a qualified name (a label key without its prefix).
pub const QUALIFIED_NAME_MAX_LENGTH: usize = 63;
/// Longest label value.
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;
/// Longest DNS-1123 subdomain (a label key prefix, most object names).
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;

const QUALIFIED_NAME_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

/// Checks a qualified name: a label or annotation key, `[prefix/]name`.
///
/// The optional prefix is a DNS-1123 subdomain (at most 253 characters); the name is at most 63
/// characters of `[-A-Za-z0-9_.]` that start and end with an alphanumeric character. On failure
/// returns every problem, each in the words of Kubernetes' `validation.IsQualifiedName`.
pub fn validate_qualified_name(value: &str) -> Result<(), Vec<String>> {
    let mut errs = Vec::new();
    let mut parts = value.split('/');
    let (prefix, name) = match (parts.next(), parts.next(), parts.next()) {
        (Some(name), None, _) => (None, name),
        (Some(prefix), Some(name), None) => (Some(prefix), name),
        _ => {
            return Err(vec![format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_ERR,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            )]);
        }
    };
    match prefix {
        Some("") => errs.push("prefix part must be non-empty".to_string()),
        Some(prefix) => {
            if let Err(msgs) = validate_dns1123_subdomain(prefix) {
                errs.extend(msgs.into_iter().map(|m| format!("prefix part {m}")));
            }
        }
        None => {}
    }
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > QUALIFIED_NAME_MAX_LENGTH {
        errs.push(format!("name part {}", max_len_error(QUALIFIED_NAME_MAX_LENGTH)));
    }
    if !is_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_ERR,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

/// Checks a label value: empty, or at most 63 characters of `[-A-Za-z0-9_.]` that start and end
/// with an alphanumeric character. On failure returns every problem, in the words of Kubernetes'
/// `validation.IsValidLabelValue`.
pub fn validate_label_value(value: &str) -> Result<(), Vec<String>> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(max_len_error(LABEL_VALUE_MAX_LENGTH));
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        errs.push(regex_error(
            LABEL_VALUE_ERR,
            &format!("({QUALIFIED_NAME_FMT})?"),
            &["MyValue", "my_value", "12345"],
        ));
    }
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

/// Checks a DNS-1123 subdomain (a label key prefix and the name of most objects): at most 253
/// characters, dot-separated labels of lower-case alphanumerics and `-`, each starting and ending
/// with an alphanumeric. On failure returns every problem, in the words of Kubernetes'
/// `validation.IsDNS1123Subdomain`.
pub fn validate_dns1123_subdomain(value: &str) -> Result<(), Vec<String>> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    let label_ok = |label: &str| {
        let b = label.as_bytes();
        let inner = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-';
        let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        b.first().is_some_and(edge) && b.last().is_some_and(edge) && b.iter().all(inner)
    };
    if !value.split('.').all(label_ok) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, anchored.
fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    let edge = |c: &u8| c.is_ascii_alphanumeric();
    let inner = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.');
    b.first().is_some_and(edge) && b.last().is_some_and(edge) && b.iter().all(inner)
}

fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// Kubernetes' `validation.RegexError`.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!(
        "{msg} (e.g. {}regex used for validation is '{fmt}')",
        examples.join(" or ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names() {
        let ok = [
            "a",
            "app",
            "App.Name_1-x",
            "example.com/app",
            "a.b-c.d/X",
            &"a".repeat(63),
        ];
        for key in ok {
            assert_eq!(validate_qualified_name(key), Ok(()), "{key}");
        }
        let long_prefix = format!("{}/a", "a".repeat(254));
        let bad = [
            "",
            "-a",
            "a-",
            "a b",
            "/a",
            "a/",
            "a/b/c",
            "Example.com/a",
            "ex_ample.com/a",
            &long_prefix,
            &"a".repeat(64),
        ];
        for key in bad {
            assert!(validate_qualified_name(key).is_err(), "{key}");
        }
    }

    #[test]
    fn qualified_name_messages_are_kubernetes_words() {
        assert_eq!(
            validate_qualified_name("-a").unwrap_err(),
            [
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end \
              with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for \
              validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
            ]
        );
        assert_eq!(
            validate_qualified_name("/a").unwrap_err(),
            ["prefix part must be non-empty"]
        );
        assert_eq!(
            validate_qualified_name(&"a".repeat(64)).unwrap_err(),
            ["name part must be no more than 63 characters"]
        );
        let errs = validate_qualified_name("Bad.com/").unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(
            errs[0].starts_with("prefix part a lowercase RFC 1123 subdomain"),
            "{errs:?}"
        );
        assert_eq!(errs[1], "name part must be non-empty");
        assert!(
            validate_qualified_name("a/b/c").unwrap_err()[0].starts_with("a qualified name must consist")
        );
    }

    #[test]
    fn label_values() {
        for value in ["", "a", "1", "a-b_c.d", "A9", &"v".repeat(63)] {
            assert_eq!(validate_label_value(value), Ok(()), "{value}");
        }
        for value in ["-", "a-", ".a", "a b", "ä", "a/b"] {
            assert!(validate_label_value(value).is_err(), "{value}");
        }
        assert_eq!(
            validate_label_value(&"v".repeat(64)).unwrap_err(),
            ["must be no more than 63 characters"]
        );
        assert!(
            validate_label_value("a-").unwrap_err()[0]
                .contains("(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is")
        );
    }

    #[test]
    fn dns1123_subdomains() {
        for value in ["a", "example.com", "a-b.c0", &"a".repeat(253)] {
            assert_eq!(validate_dns1123_subdomain(value), Ok(()), "{value}");
        }
        for value in ["", "A", "a..b", ".a", "a.", "-a", "a_b", &"a".repeat(254)] {
            assert!(validate_dns1123_subdomain(value).is_err(), "{value}");
        }
    }
}

/// Label selector tests; they live here to keep `label.rs` readable.
#[cfg(test)]
mod label_tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

    use super::label::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_form_round_trips_through_its_canonical_form() {
        let cases = [
            ("", ""),
            (" \t\r\n", ""),
            ("x", "x"),
            ("!x", "!x"),
            (" ! x ", "!x"),
            (" x = a ", "x=a"),
            ("x==a", "x=a"),
            ("x!=a", "x!=a"),
            ("x=", "x="),
            ("x==", "x="),
            ("x!=,y", "x!=,y"),
            ("x in (b, a, b)", "x in (a,b)"),
            ("x in(a),y notin(b)", "x in (a),y notin (b)"),
            ("x in ()", "x in ()"),
            ("x notin ()", "x notin ()"),
            ("x in (a,)", "x in (,a)"),
            ("x in (,)", "x in ()"),
            ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
            ("x>5,x<10", "x>5,x<10"),
            ("b=2,a=1,!c", "a=1,b=2,!c"),
            (
                "in in (in, notin), notin notin (x), x=in",
                "in in (in,notin),notin notin (x),x=in",
            ),
            (
                "example.com/app=web,app.kubernetes.io/name in (Web_1)",
                "app.kubernetes.io/name in (Web_1),example.com/app=web",
            ),
            ("\tx\n=\ra", "x=a"),
            ("a=1,a=1", "a=1,a=1"),
        ];
        for (input, canonical) in cases {
            let parsed: Selector = input.parse().unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(parsed.to_string(), canonical, "{input:?}");
            assert_eq!(Selector::parse(canonical).unwrap(), parsed, "{input:?}");
            assert_eq!(parsed.is_empty(), canonical.is_empty());
        }
    }

    #[test]
    fn parsed_requirements_are_typed() {
        let s = Selector::parse("x in (b,a), !y, z>3").unwrap();
        let r: Vec<_> = s
            .requirements()
            .iter()
            .map(|r| (r.key(), r.operator(), r.values()))
            .collect();
        let ab = ["a".to_string(), "b".to_string()];
        assert_eq!(
            r,
            [
                ("x", Operator::In, &ab[..]),
                ("y", Operator::DoesNotExist, &[][..]),
                ("z", Operator::GreaterThan, &["3".to_string()][..]),
            ]
        );
    }

    #[test]
    fn matching_follows_kubernetes() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("n", "5"), ("empty", "")]);
        let cases = [
            ("", true),
            ("app=web", true),
            ("app==db", false),
            ("app!=db", true),
            ("app!=web", false),
            ("missing!=x", true),
            ("missing=", false),
            ("missing!=", true),
            ("empty=", true),
            ("empty in ()", true),
            ("tier in (front,back)", true),
            ("tier in (back)", false),
            ("missing in (a)", false),
            ("missing notin (a)", true),
            ("tier notin (front)", false),
            ("tier notin (back)", true),
            ("app", true),
            ("missing", false),
            ("!missing", true),
            ("!app", false),
            ("n>4", true),
            ("n>5", false),
            ("n<6", true),
            ("n<5", false),
            ("app>1", false),
            ("missing<1", false),
            ("app=web,tier=back", false),
            ("app=web,tier=front,!canary,n>1", true),
        ];
        // The same labels as sorted pairs, looked up through `matches_with`.
        let pairs: Vec<(&str, &str)> = l.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let lookup = |key: &str| {
            pairs
                .binary_search_by(|(k, _)| (*k).cmp(key))
                .ok()
                .map(|i| pairs[i].1)
        };
        for (selector, expected) in cases {
            let parsed = Selector::parse(selector).unwrap();
            assert_eq!(parsed.matches(&l), expected, "{selector}");
            assert_eq!(parsed.matches_with(lookup), expected, "{selector} (matches_with)");
        }
        assert!(!Selector::nothing().matches(&l));
        assert!(!Selector::nothing().matches_with(lookup));
        assert!(Selector::everything().matches(&BTreeMap::new()));
    }

    #[test]
    fn syntax_errors_name_position_and_problem() {
        let cases = [
            ("x in (a", 7, "expected ',' or ')' but found end of input"),
            ("x in (", 6, "expected a value, ',' or ')' but found end of input"),
            (
                "x in (a,",
                8,
                "expected a value, ',' or ')' but found end of input",
            ),
            ("x in", 4, "expected '(' but found end of input"),
            ("x in a", 5, "expected '(' but found 'a'"),
            ("x in (a b)", 8, "expected ',' or ')' but found 'b'"),
            ("x in (=)", 6, "expected a value, ',' or ')' but found '='"),
            ("x in (a))", 8, "expected ',' or end of input but found ')'"),
            (
                "x,",
                2,
                "expected '!' or a label key after ',' but found end of input",
            ),
            ("a,,b", 2, "expected '!' or a label key after ',' but found ','"),
            (",", 0, "expected '!', a label key or end of input but found ','"),
            ("=a", 0, "expected '!', a label key or end of input but found '='"),
            ("x=a b", 4, "expected ',' or end of input but found 'b'"),
            (
                "x y",
                2,
                "expected '=', '==', '!=', 'in', 'notin', '>', '<', ',' or end of input but found 'y'",
            ),
            (
                "x(a)",
                1,
                "expected '=', '==', '!=', 'in', 'notin', '>', '<', ',' or end of input but found '('",
            ),
            ("!x=a", 2, "expected ',' or end of input but found '='"),
            ("!", 1, "expected a label key but found end of input"),
            ("!!x", 1, "expected a label key but found '!'"),
            ("x=(a)", 2, "expected a value but found '('"),
            ("x>=1", 2, "expected a value but found '='"),
            ("x>abc", 2, "value \"abc\" for operator 'gt' must be an integer"),
            ("y=1, x<", 7, "value \"\" for operator 'lt' must be an integer"),
            (
                "/a=b",
                0,
                "invalid label key \"/a\": prefix part must be non-empty",
            ),
        ];
        for (input, position, message) in cases {
            let err = Selector::parse(input).unwrap_err();
            assert_eq!(
                (err.position, err.kind.to_string()),
                (position, message.to_string()),
                "{input:?}"
            );
            assert_eq!(err.to_string(), format!("at position {position}: {message}"));
        }
    }

    #[test]
    fn invalid_keys_and_values_are_rejected_at_their_position() {
        let long_key = format!("a,{}", "k".repeat(64));
        let err = Selector::parse(&long_key).unwrap_err();
        assert_eq!(err.position, 2);
        assert!(
            matches!(&err.kind, ParseErrorKind::Invalid(Error::InvalidKey { reasons, .. })
            if reasons == &["name part must be no more than 63 characters"])
        );

        let long_value = format!("x={}", "v".repeat(64));
        let err = Selector::parse(&long_value).unwrap_err();
        assert_eq!(err.position, 2);
        assert!(
            err.to_string()
                .ends_with("for label \"x\": must be no more than 63 characters"),
            "{err}"
        );

        for (input, position, value) in [("x in (a,-b)", 8, "-b"), ("x>-1", 2, "-1"), ("x=a_", 2, "a_")] {
            let err = Selector::parse(input).unwrap_err();
            assert_eq!(err.position, position, "{input}");
            let prefix =
                format!("invalid value {value:?} for label \"x\": a valid label must be an empty string");
            assert!(err.kind.to_string().starts_with(&prefix), "{err}");
        }
        let err = Selector::parse("Bad Key").unwrap_err();
        assert!(
            matches!(err.kind, ParseErrorKind::Unexpected { .. }),
            "a space ends the key: {err}"
        );
        let err = Selector::parse("-x").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("at position 0: invalid label key \"-x\": name part must consist")
        );
    }

    #[test]
    fn requirement_new_validates_like_new_requirement() {
        let none: [&str; 0] = [];
        let err = |key: &str, op, values: &[&str]| {
            Requirement::new(key, op, values.iter().copied())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("x", Operator::In, &none),
            "operator 'in' takes at least one value, got 0"
        );
        assert_eq!(
            err("x", Operator::Equals, &["a", "b"]),
            "operator '=' takes exactly one value, got 2"
        );
        assert_eq!(
            err("x", Operator::Exists, &["a"]),
            "operator 'exists' takes no values, got 1"
        );
        assert_eq!(
            err("x", Operator::LessThan, &["1.5"]),
            "value \"1.5\" for operator 'lt' must be an integer"
        );
        assert!(err("x y", Operator::Exists, &none).starts_with("invalid label key \"x y\""));
        let r = Requirement::new("x", Operator::NotIn, ["b", "a", "b"]).unwrap();
        assert_eq!(r.values(), ["a", "b"]);
        assert_eq!(r.to_string(), "x notin (a,b)");
    }

    #[test]
    fn builders_sort_by_key_and_validate_on_request() {
        let s = Selector::everything()
            .not_in("zone", ["b", "a"])
            .equals("app", "web")
            .exists("team")
            .not_equals("app", "db")
            .greater_than("gen", 2)
            .less_than("gen", 9);
        assert_eq!(s.to_string(), "app=web,app!=db,gen>2,gen<9,team,zone notin (a,b)");
        assert_eq!(Selector::parse(&s.to_string()).unwrap(), s);
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.requires_exact_match("app"), Some("web"));
        assert_eq!(s.requires_exact_match("team"), None);
        assert_eq!(
            Selector::parse("a in (x)").unwrap().requires_exact_match("a"),
            Some("x")
        );
        assert_eq!(
            Selector::parse("a in (x,y)").unwrap().requires_exact_match("a"),
            None
        );
        assert!(
            Selector::everything()
                .is_in("x", Vec::<String>::new())
                .validate()
                .is_err()
        );
        assert!(Selector::everything().equals("bad key", "v").validate().is_err());

        let from_map = Selector::from(labels(&[("b", "2"), ("a", "1")]));
        assert_eq!(from_map.to_string(), "a=1,b=2");
        let nothing = Selector::nothing().equals("a", "1");
        assert!(nothing.is_nothing() && !nothing.is_empty() && nothing.requirements().is_empty());
    }

    #[test]
    fn from_label_selector_like_label_selector_as_selector() {
        let req = |key: &str, op: &str, values: Option<&[&str]>| LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: values.map(|v| v.iter().map(|s| s.to_string()).collect()),
        };
        let ls = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                req("tier", "In", Some(&["b", "a"])),
                req("env", "NotIn", Some(&["prod"])),
                req("team", "Exists", None),
                req("canary", "DoesNotExist", Some(&[])),
            ]),
        };
        let s = Selector::try_from(&ls).unwrap();
        assert_eq!(
            s.to_string(),
            "app=web,!canary,env notin (prod),team,tier in (a,b)"
        );

        assert!(Selector::try_from(LabelSelector::default()).unwrap().is_empty());
        let empty = LabelSelector {
            match_labels: Some(BTreeMap::new()),
            match_expressions: Some(vec![]),
        };
        assert!(
            Selector::from_label_selector(Some(&empty))
                .unwrap()
                .matches(&BTreeMap::new())
        );
        let none = Selector::from_label_selector(None).unwrap();
        assert!(none.is_nothing() && !none.matches(&BTreeMap::new()));

        let bad = |e: LabelSelectorRequirement| {
            let ls = LabelSelector {
                match_expressions: Some(vec![e]),
                ..Default::default()
            };
            Selector::try_from(ls).unwrap_err().to_string()
        };
        assert_eq!(
            bad(req("a", "In", None)),
            "operator 'in' takes at least one value, got 0"
        );
        assert_eq!(
            bad(req("a", "NotIn", Some(&[]))),
            "operator 'notin' takes at least one value, got 0"
        );
        assert_eq!(
            bad(req("a", "Exists", Some(&["x"]))),
            "operator 'exists' takes no values, got 1"
        );
        assert_eq!(
            bad(req("a", "DoesNotExist", Some(&["x"]))),
            "operator '!' takes no values, got 1"
        );
        assert_eq!(
            bad(req("a", "Gt", Some(&["1"]))),
            "\"Gt\" is not a valid label selector operator"
        );
        assert!(bad(req("a", "In", Some(&["-x"]))).starts_with("invalid value \"-x\" for label \"a\""));
        let bad_label = LabelSelector {
            match_labels: Some(labels(&[("a/b/c", "x")])),
            ..Default::default()
        };
        assert!(matches!(
            Selector::try_from(bad_label),
            Err(Error::InvalidKey { .. })
        ));
    }

    #[test]
    fn to_label_selector_keeps_the_meaning() {
        let s = Selector::parse("app=web,app=db,tier in (a,b),env!=prod,team,!canary,x=y").unwrap();
        let ls = s.to_label_selector().unwrap().unwrap();
        assert_eq!(
            serde_json::to_value(&ls).unwrap(),
            serde_json::json!({
                "matchLabels": {"app": "web", "x": "y"},
                "matchExpressions": [
                    {"key": "app", "operator": "In", "values": ["db"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                    {"key": "env", "operator": "NotIn", "values": ["prod"]},
                    {"key": "team", "operator": "Exists"},
                    {"key": "tier", "operator": "In", "values": ["a", "b"]},
                ]
            })
        );
        assert_eq!(
            Selector::try_from(&ls).unwrap().to_string(),
            "app=web,app in (db),!canary,env notin (prod),team,tier in (a,b),x=y"
        );
        assert_eq!(
            Selector::everything().to_label_selector().unwrap(),
            Some(LabelSelector::default())
        );
        assert_eq!(Selector::nothing().to_label_selector().unwrap(), None);
        assert_eq!(
            Selector::parse("n>1").unwrap().to_label_selector(),
            Err(Error::NotExpressible(Operator::GreaterThan))
        );
    }

    #[test]
    fn serde_uses_the_string_form() {
        let s = Selector::parse("b in (y,x),a").unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#""a,b in (x,y)""#);
        assert_eq!(serde_json::from_str::<Selector>(&json).unwrap(), s);
        assert!(serde_json::from_str::<Selector>(r#""a in (""#).is_err());
    }
}
