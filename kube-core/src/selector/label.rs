//! Label selectors: `app=web,tier in (a,b),!canary`.
//!
//! The grammar, the validation and the matching rules are those of kube-apiserver
//! (`k8s.io/apimachinery/pkg/labels`):
//!
//! ```text
//! selector    ::= "" | requirement ("," requirement)*
//! requirement ::= "!" KEY | KEY | KEY ("=" | "==" | "!=" | ">" | "<") VALUE?
//!               | KEY ("in" | "notin") "(" VALUE? ("," VALUE?)* ")"
//! ```
//!
//! Whitespace (space, tab, CR, LF) may surround every token. KEY is a qualified name
//! ([`validate_qualified_name`]); VALUE is a label value, possibly empty
//! ([`validate_label_value`]); `>` and `<` take an integer. `in` and `notin` are keywords only
//! where an operator is expected, so `in in (in)` is a valid selector.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use super::{validate_label_value, validate_qualified_name};

/// Why a requirement is invalid, or cannot be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The key is not a qualified name.
    #[error("invalid label key {key:?}: {}", reasons.join("; "))]
    InvalidKey {
        /// The key as given.
        key: String,
        /// Kubernetes' messages, see [`validate_qualified_name`].
        reasons: Vec<String>,
    },
    /// A value is not a valid label value.
    #[error("invalid value {value:?} for label {key:?}: {}", reasons.join("; "))]
    InvalidValue {
        /// The requirement's key.
        key: String,
        /// The value as given.
        value: String,
        /// Kubernetes' messages, see [`validate_label_value`].
        reasons: Vec<String>,
    },
    /// The operator takes a different number of values.
    #[error("operator '{operator}' {expected}, got {count}")]
    ValueCount {
        /// The operator.
        operator: Operator,
        /// What the operator takes, e.g. "takes exactly one value".
        expected: &'static str,
        /// How many values were given.
        count: usize,
    },
    /// `>` and `<` compare integers.
    #[error("value {value:?} for operator '{operator}' must be an integer")]
    NotAnInteger {
        /// [`Operator::GreaterThan`] or [`Operator::LessThan`].
        operator: Operator,
        /// The value as given.
        value: String,
    },
    /// A `matchExpressions` operator other than In, NotIn, Exists and DoesNotExist.
    #[error("{0:?} is not a valid label selector operator")]
    UnknownOperator(String),
    /// `metav1.LabelSelector` has no way to say `>` or `<`.
    #[error("operator '{0}' cannot be expressed in a metav1.LabelSelector")]
    NotExpressible(Operator),
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A selector string that does not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at position {position}: {kind}")]
pub struct ParseError {
    /// Byte offset in the input of the offending token (the input's length at its end).
    pub position: usize,
    /// What is wrong there.
    pub kind: ParseErrorKind,
}

/// What is wrong in a label selector string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// A token that the grammar does not allow here.
    #[error("expected {expected} but found {found}")]
    Unexpected {
        /// What the grammar allows here, in words.
        expected: &'static str,
        /// The token that was found, quoted, or `end of input`.
        found: String,
    },
    /// A well-formed requirement with an invalid key or value.
    #[error(transparent)]
    Invalid(#[from] Error),
}

/// How a [`Requirement`] relates a label to its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operator {
    /// `key=value` or `key==value`: the label is present and equal.
    Equals,
    /// `key!=value`: the label is absent or different.
    NotEquals,
    /// `key in (a,b)`: the label is present and one of the values.
    In,
    /// `key notin (a,b)`: the label is absent or none of the values.
    NotIn,
    /// `key`: the label is present.
    Exists,
    /// `!key`: the label is absent.
    DoesNotExist,
    /// `key>5`: the label is present, an integer, and greater.
    GreaterThan,
    /// `key<5`: the label is present, an integer, and smaller.
    LessThan,
}

impl fmt::Display for Operator {
    /// The names of Go's `selection.Operator`: `=`, `!=`, `in`, `notin`, `exists`, `!`, `gt`, `lt`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operator::Equals => "=",
            Operator::NotEquals => "!=",
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        })
    }
}

/// One condition on one label; a [`Selector`] is the AND of its requirements.
///
/// Values are kept sorted and without duplicates, as Kubernetes treats them as a set.
#[doc(alias = "Expression")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// Builds a validated requirement, like Kubernetes' `labels.NewRequirement`.
    ///
    /// The key must be a qualified name and every value a label value; In and NotIn take at
    /// least one value, Equals, NotEquals, GreaterThan and LessThan exactly one (an integer for
    /// the last two), Exists and DoesNotExist none.
    pub fn new<I>(key: impl Into<String>, operator: Operator, values: I) -> Result<Self>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let key = key.into();
        let values: Vec<String> = values.into_iter().map(Into::into).collect();
        check_key(&key)?;
        let expected = match operator {
            Operator::In | Operator::NotIn if values.is_empty() => Some("takes at least one value"),
            Operator::Equals | Operator::NotEquals | Operator::GreaterThan | Operator::LessThan
                if values.len() != 1 =>
            {
                Some("takes exactly one value")
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => Some("takes no values"),
            _ => None,
        };
        if let Some(expected) = expected {
            return Err(Error::ValueCount {
                operator,
                expected,
                count: values.len(),
            });
        }
        for value in &values {
            check_value(&key, operator, value)?;
        }
        Ok(Self::new_unchecked(key, operator, values))
    }

    fn new_unchecked(key: String, operator: Operator, mut values: Vec<String>) -> Self {
        values.sort();
        values.dedup();
        Self {
            key,
            operator,
            values,
        }
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, sorted and without duplicates (empty for Exists and DoesNotExist).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Checks the key and values as [`Requirement::new`] does.
    pub fn validate(&self) -> Result<()> {
        Requirement::new(&*self.key, self.operator, self.values.iter().map(String::as_str)).map(drop)
    }

    /// Whether the labels satisfy this requirement. NotEquals and NotIn match when the label is
    /// absent; GreaterThan and LessThan never match a label that is not an integer.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_value(labels.get(&self.key).map(String::as_str))
    }

    /// [`Requirement::matches`] given the value of this requirement's label (`None`: absent).
    pub fn matches_value(&self, label: Option<&str>) -> bool {
        let has = |v: &str| self.values.binary_search_by(|x| x.as_str().cmp(v)).is_ok();
        match self.operator {
            Operator::Equals | Operator::In => label.is_some_and(has),
            Operator::NotEquals | Operator::NotIn => label.is_none_or(|v| !has(v)),
            Operator::Exists => label.is_some(),
            Operator::DoesNotExist => label.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let int = |s: &str| s.parse::<i64>().ok();
                match (label.and_then(int), self.values.first().and_then(|v| int(v))) {
                    (Some(have), Some(want)) if self.operator == Operator::GreaterThan => have > want,
                    (Some(have), Some(want)) => have < want,
                    _ => false,
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// Kubernetes' `Requirement.String()`: `!k`, `k`, `k=v`, `k!=v`, `k in (a,b)`,
    /// `k notin (a,b)`, `k>v`, `k<v`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let values = self.values.join(",");
        match self.operator {
            Operator::Exists | Operator::DoesNotExist => Ok(()),
            Operator::Equals => write!(f, "={values}"),
            Operator::NotEquals => write!(f, "!={values}"),
            Operator::GreaterThan => write!(f, ">{values}"),
            Operator::LessThan => write!(f, "<{values}"),
            Operator::In => write!(f, " in ({values})"),
            Operator::NotIn => write!(f, " notin ({values})"),
        }
    }
}

fn check_key(key: &str) -> Result<()> {
    validate_qualified_name(key).map_err(|reasons| Error::InvalidKey {
        key: key.to_string(),
        reasons,
    })
}

fn check_value(key: &str, operator: Operator, value: &str) -> Result<()> {
    if matches!(operator, Operator::GreaterThan | Operator::LessThan) && value.parse::<i64>().is_err() {
        return Err(Error::NotAnInteger {
            operator,
            value: value.to_string(),
        });
    }
    validate_label_value(value).map_err(|reasons| Error::InvalidValue {
        key: key.to_string(),
        value: value.to_string(),
        reasons,
    })
}

/// A label selector: the AND of [`Requirement`]s, kept sorted by key like Kubernetes does.
///
/// [`Selector::default`] and [`Selector::everything`] match every object; [`Selector::nothing`]
/// matches none (it is what a null `metav1.LabelSelector` means). Parse with [`str::parse`] or
/// [`Selector::parse`]; render with `Display`, which produces the canonical form kube-apiserver
/// accepts and [`Selector::parse`] reads back to an equal selector.
///
/// ```
/// use std::collections::BTreeMap;
/// use kube_core::Selector;
///
/// let built = Selector::everything().equals("app", "web").is_in("tier", ["b", "a"]).does_not_exist("canary");
/// assert_eq!(built.to_string(), "app=web,!canary,tier in (a,b)");
/// assert_eq!("tier in (a, b), app == web, !canary".parse::<Selector>()?, built);
///
/// let labels = BTreeMap::from([("app".into(), "web".into()), ("tier".into(), "a".into())]);
/// assert!(built.matches(&labels));
/// # Ok::<(), kube_core::selector::label::ParseError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Selector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl Selector {
    /// The selector that matches everything (no requirements; renders as `""`).
    pub fn everything() -> Self {
        Self::default()
    }

    /// The selector that matches nothing, Kubernetes' `labels.Nothing()`.
    ///
    /// It renders as `""` like in Kubernetes, which a server reads as *everything*: check
    /// [`Selector::is_nothing`] before sending a selector and skip the request instead.
    pub fn nothing() -> Self {
        Self {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Parses Kubernetes' selector syntax (see the [module docs](self)), validating keys and
    /// values. `""` parses to [`Selector::everything`].
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        Parser::new(input).selector().map(Self::from_iter)
    }

    /// Whether this selector has no requirements and so matches everything.
    /// False for [`Selector::nothing`], as in Kubernetes.
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// Whether this is [`Selector::nothing`].
    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    /// The requirements, sorted by key (stable: same-key requirements keep their order).
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether every requirement matches the labels.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_with(|key| labels.get(key).map(String::as_str))
    }

    /// Whether every requirement matches the labels that `label` looks up (`None`: absent), for
    /// labels kept in another shape than a map (client-go's `labels.Labels` interface).
    pub fn matches_with<'v>(&self, label: impl Fn(&str) -> Option<&'v str>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches_value(label(&r.key)))
    }

    /// The single value this selector requires `label` to have, if it does (`label=v`,
    /// `label==v` or `label in (v)`), as Kubernetes' `RequiresExactMatch`: only the first
    /// requirement on `label` is considered.
    pub fn requires_exact_match(&self, label: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == label)?;
        match (r.operator, r.values.as_slice()) {
            (Operator::Equals | Operator::In, [value]) => Some(value),
            _ => None,
        }
    }

    /// Checks every requirement as [`Requirement::new`] does; useful after the unchecked
    /// builder methods.
    pub fn validate(&self) -> Result<()> {
        self.requirements.iter().try_for_each(Requirement::validate)
    }

    /// Adds a requirement (ANDed with the others). Adding to [`Selector::nothing`] keeps it
    /// nothing.
    pub fn and(mut self, requirement: Requirement) -> Self {
        if !self.nothing {
            // Stable insertion after existing requirements with the same key.
            let at = self.requirements.partition_point(|r| r.key <= requirement.key);
            self.requirements.insert(at, requirement);
        }
        self
    }

    fn unchecked(self, key: impl Into<String>, operator: Operator, values: Vec<String>) -> Self {
        self.and(Requirement::new_unchecked(key.into(), operator, values))
    }

    /// Adds `key=value`. Not validated, like the other builder methods (see
    /// [`Selector::validate`]); kube-apiserver rejects invalid keys and values.
    pub fn equals(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.unchecked(key, Operator::Equals, vec![value.into()])
    }

    /// Adds `key!=value` (also matches objects without the label).
    pub fn not_equals(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.unchecked(key, Operator::NotEquals, vec![value.into()])
    }

    /// Adds `key in (values)`. Give at least one value: Kubernetes rejects an empty set.
    pub fn is_in<I: IntoIterator<Item: Into<String>>>(self, key: impl Into<String>, values: I) -> Self {
        self.unchecked(key, Operator::In, values.into_iter().map(Into::into).collect())
    }

    /// Adds `key notin (values)` (also matches objects without the label). Give at least one
    /// value: Kubernetes rejects an empty set.
    pub fn not_in<I: IntoIterator<Item: Into<String>>>(self, key: impl Into<String>, values: I) -> Self {
        self.unchecked(key, Operator::NotIn, values.into_iter().map(Into::into).collect())
    }

    /// Adds `key`: the label must be present.
    pub fn exists(self, key: impl Into<String>) -> Self {
        self.unchecked(key, Operator::Exists, Vec::new())
    }

    /// Adds `!key`: the label must be absent.
    pub fn does_not_exist(self, key: impl Into<String>) -> Self {
        self.unchecked(key, Operator::DoesNotExist, Vec::new())
    }

    /// Adds `key>value`: the label must be an integer greater than `value`.
    pub fn greater_than(self, key: impl Into<String>, value: i64) -> Self {
        self.unchecked(key, Operator::GreaterThan, vec![value.to_string()])
    }

    /// Adds `key<value`: the label must be an integer smaller than `value`.
    pub fn less_than(self, key: impl Into<String>, value: i64) -> Self {
        self.unchecked(key, Operator::LessThan, vec![value.to_string()])
    }

    /// Converts an optional `metav1.LabelSelector` like Kubernetes' `LabelSelectorAsSelector`:
    /// `None` (a null selector) gives [`Selector::nothing`], an empty one
    /// [`Selector::everything`]. Use `Selector::try_from(&label_selector)` when the
    /// field is not optional.
    pub fn from_label_selector(selector: Option<&LabelSelector>) -> Result<Self> {
        selector.map_or_else(|| Ok(Self::nothing()), Self::try_from)
    }

    /// Converts to a `metav1.LabelSelector`, the inverse of [`Selector::from_label_selector`]:
    /// [`Selector::nothing`] gives `None`. Equals requirements become `matchLabels` (a second,
    /// different value for the same key becomes an `In` expression, so the meaning is kept),
    /// NotEquals becomes `NotIn`; GreaterThan and LessThan cannot be expressed and are an error.
    pub fn to_label_selector(&self) -> Result<Option<LabelSelector>> {
        if self.nothing {
            return Ok(None);
        }
        let mut labels = BTreeMap::new();
        let mut expressions = Vec::new();
        for r in &self.requirements {
            let (operator, values) = match (r.operator, r.values.as_slice()) {
                (Operator::Equals, [value]) => match labels.get(&r.key) {
                    None => {
                        labels.insert(r.key.clone(), value.clone());
                        continue;
                    }
                    Some(existing) if existing == value => continue,
                    Some(_) => ("In", Some(r.values.clone())),
                },
                (Operator::Equals | Operator::In, _) => ("In", Some(r.values.clone())),
                (Operator::NotEquals | Operator::NotIn, _) => ("NotIn", Some(r.values.clone())),
                (Operator::Exists, _) => ("Exists", None),
                (Operator::DoesNotExist, _) => ("DoesNotExist", None),
                (op @ (Operator::GreaterThan | Operator::LessThan), _) => {
                    return Err(Error::NotExpressible(op));
                }
            };
            expressions.push(LabelSelectorRequirement {
                key: r.key.clone(),
                operator: operator.into(),
                values,
            });
        }
        Ok(Some(LabelSelector {
            match_labels: (!labels.is_empty()).then_some(labels),
            match_expressions: (!expressions.is_empty()).then_some(expressions),
        }))
    }
}

impl TryFrom<&LabelSelector> for Selector {
    type Error = Error;

    /// `matchLabels` and `matchExpressions` ANDed, validated like Kubernetes'
    /// `LabelSelectorAsSelector`. An empty selector matches everything.
    fn try_from(selector: &LabelSelector) -> Result<Self> {
        let labels = selector.match_labels.iter().flatten();
        let mut requirements: Vec<Requirement> = labels
            .map(|(k, v)| Requirement::new(k.as_str(), Operator::Equals, [v.as_str()]))
            .collect::<Result<_>>()?;
        for expr in selector.match_expressions.iter().flatten() {
            let operator = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => return Err(Error::UnknownOperator(other.to_string())),
            };
            let values = expr.values.iter().flatten().map(String::as_str);
            requirements.push(Requirement::new(expr.key.as_str(), operator, values)?);
        }
        Ok(requirements.into_iter().collect())
    }
}

impl TryFrom<LabelSelector> for Selector {
    type Error = Error;

    /// See the conversion from `&LabelSelector`.
    fn try_from(selector: LabelSelector) -> Result<Self> {
        Self::try_from(&selector)
    }
}

impl From<BTreeMap<String, String>> for Selector {
    /// `key=value` for every entry, like Kubernetes' `SelectorFromSet` (not validated).
    fn from(labels: BTreeMap<String, String>) -> Self {
        labels
            .into_iter()
            .fold(Self::default(), |s, (k, v)| s.equals(k, v))
    }
}

impl FromIterator<Requirement> for Selector {
    fn from_iter<T: IntoIterator<Item = Requirement>>(iter: T) -> Self {
        let mut requirements: Vec<Requirement> = iter.into_iter().collect();
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Self {
            requirements,
            nothing: false,
        }
    }
}

impl fmt::Display for Selector {
    /// Requirements joined by `,`, sorted by key (Kubernetes' `String()`); `""` for both
    /// [`Selector::everything`] and [`Selector::nothing`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl FromStr for Selector {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}

impl serde::Serialize for Selector {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Selector {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer and parser, following the token rules of Kubernetes' labels.Lexer.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    End,
    Ident,
    In,
    NotIn,
    Bang,
    Eq,
    DoubleEq,
    NotEq,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    tok: Tok,
    text: &'a str,
    pos: usize,
}

fn lex(input: &str) -> Vec<Token<'_>> {
    let bytes = input.as_bytes();
    let special = |c: u8| matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<');
    let space = |c: u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let mut tokens = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && space(bytes[i]) {
            i += 1;
        }
        let start = i;
        let Some(&c) = bytes.get(i) else {
            tokens.push(Token {
                tok: Tok::End,
                text: "",
                pos: input.len(),
            });
            return tokens;
        };
        let tok = if special(c) {
            let double = bytes.get(i + 1) == Some(&b'=') && matches!(c, b'=' | b'!');
            i += if double { 2 } else { 1 };
            match (c, double) {
                (b'=', true) => Tok::DoubleEq,
                (b'!', true) => Tok::NotEq,
                (b'=', _) => Tok::Eq,
                (b'!', _) => Tok::Bang,
                (b'(', _) => Tok::Open,
                (b')', _) => Tok::Close,
                (b',', _) => Tok::Comma,
                (b'>', _) => Tok::Gt,
                _ => Tok::Lt,
            }
        } else {
            while i < bytes.len() && !special(bytes[i]) && !space(bytes[i]) {
                i += 1;
            }
            match &input[start..i] {
                "in" => Tok::In,
                "notin" => Tok::NotIn,
                _ => Tok::Ident,
            }
        };
        tokens.push(Token {
            tok,
            text: &input[start..i],
            pos: start,
        });
    }
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    next: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Self {
            tokens: lex(input),
            next: 0,
        }
    }

    /// The next token where a key or value is expected: keywords are identifiers there.
    fn peek(&self) -> Token<'a> {
        let mut t = self.tokens[self.next];
        if matches!(t.tok, Tok::In | Tok::NotIn) {
            t.tok = Tok::Ident;
        }
        t
    }

    fn bump(&mut self) -> Token<'a> {
        let t = self.peek();
        self.next = (self.next + 1).min(self.tokens.len() - 1);
        t
    }

    fn selector(&mut self) -> Result<Vec<Requirement>, ParseError> {
        let mut requirements = Vec::new();
        let t = self.peek();
        match t.tok {
            Tok::End => return Ok(requirements),
            Tok::Ident | Tok::Bang => {}
            _ => return Err(unexpected(t, "'!', a label key or end of input")),
        }
        loop {
            requirements.push(self.requirement()?);
            let t = self.bump();
            match t.tok {
                Tok::End => return Ok(requirements),
                Tok::Comma => {
                    let t = self.peek();
                    if !matches!(t.tok, Tok::Ident | Tok::Bang) {
                        return Err(unexpected(t, "'!' or a label key after ','"));
                    }
                }
                _ => return Err(unexpected(t, "',' or end of input")),
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, ParseError> {
        let mut t = self.bump();
        let negated = t.tok == Tok::Bang;
        if negated {
            t = self.bump();
        }
        if t.tok != Tok::Ident {
            return Err(unexpected(t, "a label key"));
        }
        let key = t.text.to_string();
        check_key(&key).map_err(|e| invalid(t.pos, e))?;
        let operator = if negated {
            Operator::DoesNotExist
        } else if matches!(self.peek().tok, Tok::End | Tok::Comma) {
            Operator::Exists
        } else {
            // Operators are read without turning keywords into identifiers.
            let t = self.tokens[self.next];
            self.bump();
            match t.tok {
                Tok::Eq | Tok::DoubleEq => Operator::Equals,
                Tok::NotEq => Operator::NotEquals,
                Tok::In => Operator::In,
                Tok::NotIn => Operator::NotIn,
                Tok::Gt => Operator::GreaterThan,
                Tok::Lt => Operator::LessThan,
                _ => {
                    return Err(unexpected(
                        t,
                        "'=', '==', '!=', 'in', 'notin', '>', '<', ',' or end of input",
                    ));
                }
            }
        };
        let values = match operator {
            Operator::Exists | Operator::DoesNotExist => Vec::new(),
            Operator::In | Operator::NotIn => self.value_set(&key, operator)?,
            _ => vec![self.exact_value(&key, operator)?],
        };
        Ok(Requirement::new_unchecked(key, operator, values))
    }

    /// `VALUE` or nothing (the empty value) before `,` or the end.
    fn exact_value(&mut self, key: &str, operator: Operator) -> Result<String, ParseError> {
        let t = self.peek();
        match t.tok {
            Tok::End | Tok::Comma => value(Token { text: "", ..t }, key, operator),
            Tok::Ident => {
                let t = self.bump();
                value(t, key, operator)
            }
            _ => Err(unexpected(t, "a value")),
        }
    }

    /// `"(" VALUE? ("," VALUE?)* ")"`; empty entries are the empty value, so `()` is `("")`.
    fn value_set(&mut self, key: &str, operator: Operator) -> Result<Vec<String>, ParseError> {
        let t = self.bump();
        if t.tok != Tok::Open {
            return Err(unexpected(t, "'('"));
        }
        let mut values = Vec::new();
        let mut expect_value = true;
        loop {
            let t = self.bump();
            match t.tok {
                Tok::Ident if expect_value => {
                    values.push(value(t, key, operator)?);
                    expect_value = false;
                }
                Tok::Comma | Tok::Close if expect_value => values.push(String::new()),
                Tok::Comma | Tok::Close => {}
                _ if expect_value => return Err(unexpected(t, "a value, ',' or ')'")),
                _ => return Err(unexpected(t, "',' or ')'")),
            }
            match t.tok {
                Tok::Close => return Ok(values),
                Tok::Comma => expect_value = true,
                _ => {}
            }
        }
    }
}

fn unexpected(t: Token<'_>, expected: &'static str) -> ParseError {
    let found = if t.tok == Tok::End {
        "end of input".to_string()
    } else {
        format!("'{}'", t.text)
    };
    ParseError {
        position: t.pos,
        kind: ParseErrorKind::Unexpected { expected, found },
    }
}

fn value(t: Token<'_>, key: &str, operator: Operator) -> Result<String, ParseError> {
    check_value(key, operator, t.text).map_err(|e| invalid(t.pos, e))?;
    Ok(t.text.to_string())
}

fn invalid(position: usize, error: Error) -> ParseError {
    ParseError {
        position,
        kind: ParseErrorKind::Invalid(error),
    }
}
