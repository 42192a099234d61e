//! Helpers on objects as JSON: metadata access, timestamps, names, and the conversion between
//! the stored form (no `resourceVersion`) and the served form (with it).

use bytes::Bytes;
use rand::Rng;
use serde_json::{Map, Value};

use crate::storage::Revision;

/// `metadata` of an object, created empty when missing or not an object.
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    let root = obj.as_object_mut().expect("objects are JSON objects");
    let meta = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut().expect("just made an object")
}

/// The value at a JSON pointer of plain field names (`/spec/template`), like
/// `Value::pointer` without its per-segment unescaping and allocations (a tenth of its cost).
/// A segment with `~` escapes falls back to `Value::pointer`.
pub fn at<'v>(value: &'v Value, pointer: &str) -> Option<&'v Value> {
    if pointer.contains('~') {
        return value.pointer(pointer);
    }
    pointer.split('/').skip(1).try_fold(value, |v, name| match v {
        Value::Object(m) => m.get(name),
        // As JSON pointers index arrays: decimal digits, no sign or leading zero.
        Value::Array(a) if name == "0" || !name.starts_with(['0', '+']) => a.get(name.parse::<usize>().ok()?),
        _ => None,
    })
}

/// A string field of `metadata`.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// The value at a dotted path (`spec.nodeName`), if present.
pub fn path<'a>(obj: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted.split('.').try_fold(obj, |v, seg| v.get(seg))
}

/// A field's value as a field selector sees it: strings as is, booleans and numbers as text,
/// anything missing or null as `default`.
pub fn field_value(obj: &Value, dotted: &str, default: &str) -> String {
    match path(obj, dotted) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Null) | None => default.to_string(),
        Some(other) => other.to_string(),
    }
}

/// Now, as Kubernetes writes `metav1.Time` (RFC 3339, whole seconds, `Z`).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `now + seconds`, in the same format.
pub fn rfc3339_after(seconds: i64) -> String {
    let t = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(seconds);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A name from `generateName`: the prefix plus five random characters from Kubernetes'
/// alphabet (no vowels, no confusable digits).
pub fn generate_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    let suffix: String = (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    // Kubernetes truncates the prefix so that the name stays within 63 characters.
    let max_prefix = 63 - 5;
    let prefix = if prefix.len() > max_prefix {
        &prefix[..max_prefix]
    } else {
        prefix
    };
    format!("{prefix}{suffix}")
}

/// A new uid.
pub fn new_uid() -> String {
    // A v4 UUID from the thread's RNG (seeded from the OS), not a getrandom call per object.
    uuid::Builder::from_random_bytes(rand::rng().random())
        .into_uuid()
        .to_string()
}

/// The stored form: the object without `metadata.resourceVersion`.
pub fn to_storage(mut obj: Value) -> Bytes {
    meta_mut(&mut obj).remove("resourceVersion");
    Bytes::from(serde_json::to_vec(&obj).expect("JSON values serialise"))
}

/// What [`crate::apply::record_create`] puts where the `fieldsV1` of a create goes, until
/// [`to_storage_with_fields`] replaces it with the JSON text: a NUL and a random token, which
/// no client can guess and send in an object.
pub static FIELDS_V1_PLACEHOLDER: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("\u{0}fieldsV1-{}", new_uid()));

/// A searcher for [`FIELDS_V1_PLACEHOLDER`] as serialised JSON, built once.
static PLACEHOLDER_JSON: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| {
        let json = serde_json::to_vec(&*FIELDS_V1_PLACEHOLDER).expect("strings serialise");
        memchr::memmem::Finder::new(&json).into_owned()
    });

/// [`to_storage`] for an object whose `fieldsV1` is [`FIELDS_V1_PLACEHOLDER`]: the `fields`
/// JSON text goes in its place in the stored bytes.
pub fn to_storage_with_fields(obj: Value, fields: &str) -> Bytes {
    let bytes = to_storage(obj);
    let placeholder_len = PLACEHOLDER_JSON.needle().len();
    let Some(at) = PLACEHOLDER_JSON.find(&bytes) else {
        // Not where it was put (cannot happen): the fields as a value, the slow way.
        let mut obj: Value = serde_json::from_slice(&bytes).expect("serialised just now");
        let fields: Value = serde_json::from_str(fields).expect("fieldsV1 text is JSON");
        for entry in obj
            .pointer_mut("/metadata/managedFields")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if entry.get("fieldsV1").and_then(Value::as_str) == Some(FIELDS_V1_PLACEHOLDER.as_str()) {
                entry["fieldsV1"] = fields.clone();
            }
        }
        return to_storage(obj);
    };
    let mut out = Vec::with_capacity(bytes.len() - placeholder_len + fields.len());
    out.extend_from_slice(&bytes[..at]);
    out.extend_from_slice(fields.as_bytes());
    out.extend_from_slice(&bytes[at + placeholder_len..]);
    Bytes::from(out)
}

/// The served form of stored bytes as bytes: stamped in place when possible, else parsed and
/// serialised again.
pub fn served_bytes(stored: &[u8], rv: Revision) -> Result<Bytes, serde_json::Error> {
    match stamp_resource_version(stored, rv) {
        Some(b) => Ok(b),
        None => Ok(Bytes::from(serde_json::to_vec(&from_storage(stored, rv)?)?)),
    }
}

/// The served form of stored bytes: parsed, with `metadata.resourceVersion` set.
pub fn from_storage(bytes: &[u8], rv: Revision) -> Result<Value, serde_json::Error> {
    let mut obj: Value = serde_json::from_slice(bytes)?;
    if obj.is_object() {
        meta_mut(&mut obj).insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
    Ok(obj)
}

/// What a change of bumps `generation`: everything but `metadata` (and `status`, when the
/// status is written through its own subresource).
pub fn spec_part(obj: &Value, status_apart: bool) -> Map<String, Value> {
    obj.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| match k.as_str() {
                    "metadata" | "apiVersion" | "kind" => false,
                    "status" => !status_apart,
                    _ => true,
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_text_takes_the_place_of_the_placeholder() {
        let entry = |fields: Value| json!({"manager": "m", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": fields});
        let text = r#"{"f:data":{".":{},"f:k\"q":{}}}"#;
        let with = |fields: Value| {
            json!({"metadata": {"name": "a", "resourceVersion": "3", "annotations": {"fieldsV1": "x"},
                                "managedFields": [entry(fields)]}, "data": {"k\"q": "v"}})
        };
        let expected = to_storage(with(serde_json::from_str(text).unwrap()));
        let spliced = to_storage_with_fields(with(Value::String(FIELDS_V1_PLACEHOLDER.clone())), text);
        assert_eq!(spliced, expected);
        // The placeholder serialises with its NUL escaped: it cannot be confused with text.
        assert!(!spliced.contains(&0));
    }

    #[test]
    fn at_finds_what_json_pointers_find() {
        let obj = json!({"spec": {"containers": [{"name": "a"}], "a/b": {"c~d": 1}}, "n": null});
        for pointer in [
            "",
            "/spec",
            "/spec/containers/0/name",
            "/spec/containers/1",
            "/spec/containers/x",
            "/spec/containers/00",
            "/spec/containers/+0",
            "/spec/a~1b/c~0d",
            "/n",
            "/n/x",
            "/missing/x",
        ] {
            assert_eq!(at(&obj, pointer), obj.pointer(pointer), "{pointer}");
        }
    }

    #[test]
    fn storage_round_trip_stamps_the_revision() {
        let obj = json!({"metadata": {"name": "a", "resourceVersion": "9"}, "data": {"k": "v"}});
        let stored = to_storage(obj);
        assert!(!String::from_utf8_lossy(&stored).contains("resourceVersion"));
        let served = from_storage(&stored, 42).unwrap();
        assert_eq!(served["metadata"]["resourceVersion"], "42");
        assert_eq!(served["data"]["k"], "v");
    }

    #[test]
    fn field_values_and_generated_names() {
        let pod = json!({"spec": {"hostNetwork": true}, "status": {"phase": "Running"}});
        assert_eq!(field_value(&pod, "status.phase", ""), "Running");
        assert_eq!(field_value(&pod, "spec.hostNetwork", "false"), "true");
        assert_eq!(field_value(&pod, "spec.nodeName", ""), "");
        let n = generate_name("web-");
        assert!(n.starts_with("web-") && n.len() == 9);
        assert_eq!(generate_name(&"x".repeat(80)).len(), 63);
    }
}

/// Where `"resourceVersion":"N"` goes in stored JSON to make its served form: just inside the
/// top-level `metadata` object. Found once per stored object, so that its served form can be
/// written out (into a response, a list, a watch event) without keeping a stamped copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RvSlot {
    /// The index just past `metadata`'s `{`.
    at: usize,
    /// Whether other fields follow (a comma after the inserted field).
    comma: bool,
}

impl RvSlot {
    /// The slot of `stored`; `None` when it has no top-level `metadata` object (callers then
    /// use [`from_storage`]).
    pub fn find(stored: &[u8]) -> Option<RvSlot> {
        let open = top_level_object_field(stored, b"metadata")?;
        let rest = &stored[open + 1..];
        let empty = rest.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
        Some(RvSlot {
            at: open + 1,
            comma: !empty,
        })
    }

    /// The length of the served form of `stored` at `rv`.
    pub fn served_len(&self, stored: &[u8], rv: Revision) -> usize {
        stored.len() + r#""resourceVersion":"""#.len() + decimal_len(rv) + usize::from(self.comma)
    }

    /// The served form of `stored` at `rv`, as new bytes.
    pub fn served(&self, stored: &[u8], rv: Revision) -> Bytes {
        let mut out = Vec::with_capacity(self.served_len(stored, rv));
        self.write(stored, rv, &mut out);
        Bytes::from(out)
    }

    /// Appends the served form of `stored` (the bytes this slot was found in) at `rv`.
    pub fn write(&self, stored: &[u8], rv: Revision, out: &mut impl bytes::BufMut) {
        out.put_slice(&stored[..self.at]);
        out.put_slice(br#""resourceVersion":""#);
        out.put_slice(decimal(rv, &mut [0; 20]).as_bytes());
        out.put_u8(b'"');
        if self.comma {
            out.put_u8(b',');
        }
        out.put_slice(&stored[self.at..]);
    }
}

fn decimal_len(n: u64) -> usize {
    decimal(n, &mut [0; 20]).len()
}

/// `n` in decimal, written into `buf` without the formatting machinery (for hot paths).
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[at..]).expect("ASCII digits")
}

/// The served form of stored bytes without re-serialising: `"resourceVersion":"N"` is written
/// into the top-level `metadata` object of the stored JSON. `None` when the bytes have no
/// top-level `metadata` object (callers then use [`from_storage`]).
pub fn stamp_resource_version(stored: &[u8], rv: Revision) -> Option<Bytes> {
    Some(RvSlot::find(stored)?.served(stored, rv))
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The index just past the closing quote of the string starting at `i` (a `"`).
fn skip_string(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The index just past the JSON value starting at `i`.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']') && !b[j].is_ascii_whitespace() {
                j += 1;
            }
            Some(j)
        }
    }
}

/// The index of the `{` that opens the value of the top-level field `name`, if that value is an
/// object.
fn top_level_object_field(b: &[u8], name: &[u8]) -> Option<usize> {
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = skip_ws(b, i);
        if b.get(i)? != &b'"' {
            return None;
        }
        let key_end = skip_string(b, i)?;
        let key = &b[i + 1..key_end - 1];
        i = skip_ws(b, key_end);
        if b.get(i)? != &b':' {
            return None;
        }
        i = skip_ws(b, i + 1);
        if key == name {
            return (b.get(i)? == &b'{').then_some(i);
        }
        i = skip_ws(b, skip_value(b, i)?);
        match b.get(i)? {
            b',' => i += 1,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod stamp_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stamping_matches_a_full_round_trip() {
        let cases = [
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}),
            json!({"a": {"metadata": {"x": 1}}, "b": [1, {"c": "}\"{"}], "metadata": {}, "z": null}),
            json!({"data": {"k": "with \"quotes\" and \\ and {braces}"}, "metadata": {"labels": {"a": "b"}}, "n": -1.5e3, "t": true}),
        ];
        for obj in cases {
            let stored = to_storage(obj);
            for rv in [0, 9, 10, 77, 1_000_000, u64::MAX] {
                let bytes = stamp_resource_version(&stored, rv).unwrap();
                let slot = RvSlot::find(&stored).unwrap();
                assert_eq!(slot.served_len(&stored, rv), bytes.len());
                let stamped: Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(stamped, from_storage(&stored, rv).unwrap());
            }
        }
        assert!(stamp_resource_version(br#"{"kind":"X"}"#, 1).is_none());
        assert!(stamp_resource_version(br#"{"metadata":null}"#, 1).is_none());
        assert!(stamp_resource_version(b"[1]", 1).is_none());
        assert!(stamp_resource_version(br#"{"a":"unterminated"#, 1).is_none());
    }
}
