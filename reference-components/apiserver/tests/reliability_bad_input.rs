//! Bad input against the real binary: every bad request gets the `Status` Kubernetes answers
//! with (code and reason), the server survives it (`/healthz` after each one, and the process
//! still running), and nothing stored changes (the list of every ConfigMap, including its
//! resourceVersion, which moves with any write anywhere, is the same before and after).
//!
//! Each test runs a table of requests and reports every mismatch at once.

mod support;

use kube_client::Client;
use serde_json::{Value, json};
use support::{Backend, Reply, ServerProcess, raw};

const CMS: &str = "/api/v1/namespaces/default/configmaps";
const SEED: &str = "/api/v1/namespaces/default/configmaps/seed";
const JSON: Option<&str> = Some("application/json");
const MERGE: Option<&str> = Some("application/merge-patch+json");
const JSON_PATCH: Option<&str> = Some("application/json-patch+json");
/// The server's body limit (kube-apiserver's): 3 MiB.
const LIMIT: usize = 3 * 1024 * 1024;

/// What a bad request must get.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// This code and reason, and a message containing this text.
    Status(u16, &'static str, &'static str),
    /// A body larger than the limit: 413, or, if the server stops reading and closes the
    /// connection before the client finished sending, a transport error (counted and reported).
    TooLarge,
}

struct Case {
    what: String,
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    expect: Expect,
}

fn case(
    what: impl Into<String>,
    method: &'static str,
    path: impl Into<String>,
    body: impl Into<Vec<u8>>,
    expect: Expect,
) -> Case {
    let content_type = if method == "PATCH" { MERGE } else { JSON };
    Case {
        what: what.into(),
        method,
        path: path.into(),
        content_type,
        body: body.into(),
        expect,
    }
}

fn with_type(mut c: Case, content_type: Option<&'static str>) -> Case {
    c.content_type = content_type;
    c
}

const fn status(code: u16, reason: &'static str, needle: &'static str) -> Expect {
    Expect::Status(code, reason, needle)
}

const BAD_JSON: Expect = status(400, "BadRequest", "json parse error");
const BAD_PATCH: Expect = status(400, "BadRequest", "error decoding patch");
const BAD_TYPE: Expect = status(400, "BadRequest", "cannot be handled as a ConfigMap");
const INVALID_NAME: Expect = status(422, "Invalid", "metadata.name");
const BAD_REQUEST: Expect = status(400, "BadRequest", "");
const BAD_VERSION_KIND: Expect = status(400, "BadRequest", "couldn't get version/kind");
const BAD_DRY_RUN: Expect = status(422, "Invalid", "dryRun: Unsupported value");
const UNSUPPORTED: Expect = status(415, "UnsupportedMediaType", "accepted media types include");

/// A server with two seed ConfigMaps in `default` (and a `scratch` namespace for the requests
/// that are meant to succeed).
struct Fixture {
    server: ServerProcess,
    client: Client,
    /// The list of every ConfigMap as it should stay.
    baseline: Value,
    transport_errors: Vec<String>,
}

async fn snapshot(client: &Client) -> Value {
    match raw(client, "GET", "/api/v1/configmaps", None, Vec::new()).await {
        Reply::Success { body, .. } => body,
        other => panic!("list every ConfigMap: {other:?}"),
    }
}

impl Fixture {
    async fn start() -> Self {
        let server = ServerProcess::start(Backend::Memory, std::path::Path::new("unused")).await;
        let client = server.client();
        let seed = json!({"metadata": {"name": "seed", "labels": {"app": "web"}, "annotations": {"note": "keep"}},
                          "data": {"k": "v", "other": "w"}});
        let seed2 = json!({"metadata": {"name": "seed2"}, "data": {"a": "b"}});
        for body in [seed, seed2] {
            let r = raw(&client, "POST", CMS, JSON, serde_json::to_vec(&body).unwrap()).await;
            assert!(matches!(r, Reply::Success { code: 201, .. }), "seed: {r:?}");
        }
        let ns = json!({"metadata": {"name": "scratch"}});
        let r = raw(
            &client,
            "POST",
            "/api/v1/namespaces",
            JSON,
            serde_json::to_vec(&ns).unwrap(),
        )
        .await;
        assert!(matches!(r, Reply::Success { code: 201, .. }), "namespace: {r:?}");
        let baseline = snapshot(&client).await;
        Fixture {
            server,
            client,
            baseline,
            transport_errors: Vec::new(),
        }
    }

    /// Run every case; returns the mismatches (the server surviving is asserted at once).
    async fn run(&mut self, cases: Vec<Case>) -> Vec<String> {
        let mut problems = Vec::new();
        for c in cases {
            let reply = raw(&self.client, c.method, &c.path, c.content_type, c.body.clone()).await;
            let label = format!("{} ({} {}, {} bytes)", c.what, c.method, c.path, c.body.len());
            match (&reply, c.expect) {
                (Reply::Failure(s), Expect::Status(code, reason, needle)) => {
                    if (s.code, s.reason.as_str()) != (code, reason) || !s.message.contains(needle) {
                        problems.push(format!(
                            "{label}: expected {code} {reason} ({needle:?}), got {} {}: {}",
                            s.code, s.reason, s.message
                        ));
                    } else if s.kind != "Status" || s.status != "Failure" {
                        problems.push(format!("{label}: not a failure Status: {s:?}"));
                    }
                }
                (Reply::Failure(s), Expect::TooLarge) => {
                    if (s.code, s.reason.as_str()) != (413, "RequestEntityTooLarge") {
                        problems.push(format!(
                            "{label}: expected 413, got {} {}: {}",
                            s.code, s.reason, s.message
                        ));
                    }
                }
                (Reply::Transport(e), Expect::TooLarge) => {
                    self.transport_errors.push(format!("{label}: {e}"))
                }
                (other, expect) => {
                    problems.push(format!("{label}: expected {expect:?}, got {}", short(other)))
                }
            }
            // The server survived ...
            assert!(
                self.server.running() && support::healthz(&self.client).await,
                "the server died after {label}:\n{}",
                self.server.log()
            );
            // ... and stored nothing.
            let now = snapshot(&self.client).await;
            if now != self.baseline {
                problems.push(format!(
                    "{label}: stored data changed:\n  before {}\n  after  {}",
                    self.baseline, now
                ));
                self.baseline = now;
            }
        }
        problems
    }
}

fn short(r: &Reply) -> String {
    match r {
        Reply::Success { code, body, .. } => {
            let text = body.to_string();
            format!("{code} {}", &text[..text.len().min(300)])
        }
        Reply::Failure(s) => format!("{} {}: {}", s.code, s.reason, s.message),
        Reply::Transport(e) => format!("transport error: {e}"),
    }
}

fn assert_none(what: &str, problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{what}: {} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// A valid ConfigMap body padded (inside a data value) to exactly `len` bytes.
fn body_of_len(name: &str, len: usize) -> Vec<u8> {
    let head = format!(r#"{{"metadata":{{"name":"{name}"}},"data":{{"k":""#);
    let tail = r#""}}"#;
    let mut b = head.into_bytes();
    b.resize(len - tail.len(), b'x');
    b.extend_from_slice(tail.as_bytes());
    assert_eq!(b.len(), len);
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_truncated_binary_empty_and_oversized_bodies() {
    let mut f = Fixture::start().await;
    let mut cases = Vec::new();

    // Every prefix of a valid object is malformed JSON: create, replace and patch with each.
    let valid = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"trunc","labels":{"app":"x"}},"data":{"key":"value","n":"1"}}"#;
    let seed_valid =
        br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"seed"},"data":{"k":"changed"}}"#;
    for at in 0..valid.len() {
        cases.push(case(
            format!("create truncated at {at}"),
            "POST",
            CMS,
            &valid[..at],
            BAD_JSON,
        ));
    }
    for at in (0..seed_valid.len()).step_by(7) {
        cases.push(case(
            format!("replace truncated at {at}"),
            "PUT",
            SEED,
            &seed_valid[..at],
            BAD_JSON,
        ));
        cases.push(case(
            format!("merge patch truncated at {at}"),
            "PATCH",
            SEED,
            &seed_valid[..at],
            BAD_PATCH,
        ));
    }
    // Malformed.
    for (what, body) in [
        ("trailing comma", &br#"{"metadata":{"name":"x"},}"#[..]),
        ("single quotes", br#"{'metadata':{'name':'x'}}"#),
        ("bare word", b"nul"),
        ("NaN", br#"{"metadata":{"name":"x"},"data":{"k":NaN}}"#),
        (
            "two documents",
            br#"{"metadata":{"name":"x"}} {"metadata":{"name":"y"}}"#,
        ),
        ("unterminated string", br#"{"metadata":{"name":"x}}"#),
        (
            "control character in a string",
            b"{\"metadata\":{\"name\":\"x\x01\"}}",
        ),
        (
            "lone surrogate escape",
            br#"{"metadata":{"name":"x"},"data":{"k":"\ud800"}}"#,
        ),
    ] {
        cases.push(case(what, "POST", CMS, body, BAD_JSON));
    }
    for (what, body) in [
        ("an array", &b"[1,2]"[..]),
        ("a string", br#""text""#),
        ("null", b"null"),
        ("a number", b"42"),
    ] {
        cases.push(case(
            format!("{what} as the object"),
            "POST",
            CMS,
            body,
            status(400, "BadRequest", "expected an object"),
        ));
    }
    // Deeply nested: far past any parser's recursion limit.
    let depth = 100_000;
    let deep_object = format!(
        r#"{{"metadata":{{"name":"deep"}},"data":{}"x"{}}}"#,
        r#"{"a":"#.repeat(depth),
        "}".repeat(depth)
    );
    let deep_array = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    cases.push(case(
        "deeply nested object",
        "POST",
        CMS,
        deep_object.as_bytes(),
        BAD_JSON,
    ));
    cases.push(case(
        "deeply nested arrays",
        "POST",
        CMS,
        deep_array.as_bytes(),
        BAD_JSON,
    ));
    cases.push(case(
        "deeply nested replace",
        "PUT",
        SEED,
        deep_object.as_bytes(),
        BAD_JSON,
    ));
    cases.push(case(
        "deeply nested merge patch",
        "PATCH",
        SEED,
        deep_object.as_bytes(),
        BAD_PATCH,
    ));
    cases.push(with_type(
        case(
            "deeply nested JSON patch",
            "PATCH",
            SEED,
            deep_array.as_bytes(),
            BAD_PATCH,
        ),
        JSON_PATCH,
    ));
    // Binary and non-UTF-8.
    let binary: Vec<u8> = (0..=255u8).rev().cycle().take(1000).collect();
    let mut bad_utf8 = br#"{"metadata":{"name":"bin"},"data":{"k":""#.to_vec();
    bad_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    bad_utf8.extend_from_slice(br#""}}"#);
    cases.push(case("binary body", "POST", CMS, binary.clone(), BAD_JSON));
    cases.push(case(
        "non-UTF-8 in a string",
        "POST",
        CMS,
        bad_utf8.clone(),
        BAD_JSON,
    ));
    cases.push(case("binary replace", "PUT", SEED, binary.clone(), BAD_JSON));
    cases.push(case("non-UTF-8 replace", "PUT", SEED, bad_utf8, BAD_JSON));
    cases.push(case(
        "binary merge patch",
        "PATCH",
        SEED,
        binary.clone(),
        BAD_PATCH,
    ));
    cases.push(with_type(
        case("binary JSON patch", "PATCH", SEED, binary.clone(), BAD_PATCH),
        JSON_PATCH,
    ));
    cases.push(case(
        "binary DeleteOptions",
        "DELETE",
        SEED,
        binary,
        status(400, "BadRequest", "invalid DeleteOptions"),
    ));
    // Empty.
    cases.push(case("empty create", "POST", CMS, Vec::new(), BAD_JSON));
    cases.push(case("empty replace", "PUT", SEED, Vec::new(), BAD_JSON));
    cases.push(case("empty merge patch", "PATCH", SEED, Vec::new(), BAD_PATCH));
    cases.push(with_type(
        case("empty JSON patch", "PATCH", SEED, Vec::new(), BAD_PATCH),
        JSON_PATCH,
    ));
    // Too large: one byte over the limit, and 10 MiB.
    cases.push(case(
        "create of limit+1 bytes",
        "POST",
        CMS,
        body_of_len("big", LIMIT + 1),
        Expect::TooLarge,
    ));
    cases.push(case(
        "replace of limit+1 bytes",
        "PUT",
        SEED,
        body_of_len("seed", LIMIT + 1),
        Expect::TooLarge,
    ));
    cases.push(case(
        "merge patch of limit+1 bytes",
        "PATCH",
        SEED,
        body_of_len("seed", LIMIT + 1),
        Expect::TooLarge,
    ));
    cases.push(case(
        "create of 10 MiB",
        "POST",
        CMS,
        body_of_len("big", 10 << 20),
        Expect::TooLarge,
    ));
    cases.push(case(
        "replace of 10 MiB",
        "PUT",
        SEED,
        body_of_len("seed", 10 << 20),
        Expect::TooLarge,
    ));
    // Exactly at the limit the body is read and parsed: then validation refuses 3 MiB of data.
    cases.push(case(
        "create of exactly the limit",
        "POST",
        CMS,
        body_of_len("big", LIMIT),
        status(422, "Invalid", "Too long"),
    ));

    let problems = f.run(cases).await;
    if !f.transport_errors.is_empty() {
        eprintln!(
            "oversized bodies that got a transport error instead of 413:\n{}",
            f.transport_errors.join("\n")
        );
    }
    assert_none("bodies", problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_objects_names_types_fields_and_kinds() {
    let mut f = Fixture::start().await;
    let mut cases = Vec::new();
    let create = |what: &str, body: Value, expect: Expect| {
        case(what, "POST", CMS, serde_json::to_vec(&body).unwrap(), expect)
    };

    // Names.
    for (what, name) in [
        ("uppercase name", "Seed".to_string()),
        ("name of 254 characters", "a".repeat(254)),
        ("name with a slash", "a/b".into()),
        ("name '.'", ".".into()),
        ("name '..'", "..".into()),
        ("name starting with '-'", "-a".into()),
        ("name with an underscore", "a_b".into()),
        ("name with a space", "a b".into()),
        ("non-ASCII name", "caf\u{e9}".into()),
    ] {
        cases.push(create(what, json!({"metadata": {"name": name}}), INVALID_NAME));
    }
    cases.push(create(
        "invalid generateName",
        json!({"metadata": {"generateName": "Bad_"}}),
        status(422, "Invalid", "metadata.generateName"),
    ));
    cases.push(create("no name", json!({"metadata": {}}), INVALID_NAME));
    cases.push(case(
        "slash in the URL name",
        "POST",
        format!("{CMS}/a/b"),
        br#"{"metadata":{"name":"a"}}"#.to_vec(),
        status(404, "NotFound", ""),
    ));
    // Wrong types for known fields.
    cases.push(create(
        "number where a string is expected",
        json!({"metadata": {"name": "t1"}, "data": {"k": 5}}),
        BAD_TYPE,
    ));
    cases.push(create(
        "object where a string is expected",
        json!({"metadata": {"name": "t2"}, "data": {"k": {"x": 1}}}),
        BAD_TYPE,
    ));
    cases.push(create(
        "string where a map is expected",
        json!({"metadata": {"name": "t3"}, "data": "k=v"}),
        BAD_TYPE,
    ));
    cases.push(create(
        "string where a boolean is expected",
        json!({"metadata": {"name": "t4"}, "immutable": "yes"}),
        BAD_TYPE,
    ));
    cases.push(create(
        "string labels",
        json!({"metadata": {"name": "t5", "labels": "app=web"}}),
        BAD_TYPE,
    ));
    cases.push(create(
        "object as the name",
        json!({"metadata": {"name": {"x": 1}}}),
        BAD_TYPE,
    ));
    cases.push(create(
        "string as metadata",
        json!({"metadata": "t6", "data": {"k": "v"}}),
        BAD_TYPE,
    ));
    cases.push(create(
        "number as the name",
        json!({"metadata": {"name": 7}}),
        BAD_TYPE,
    ));
    cases.push(create(
        "number as the generateName",
        json!({"metadata": {"generateName": 7}}),
        BAD_TYPE,
    ));
    cases.push(create(
        "bad base64 in binaryData",
        json!({"metadata": {"name": "t8"}, "binaryData": {"k": "not base64!"}}),
        BAD_TYPE,
    ));
    cases.push(case(
        "string where an integer is expected (pod)",
        "POST",
        "/api/v1/namespaces/default/pods",
        serde_json::to_vec(
            &json!({"metadata": {"name": "p"}, "spec": {"terminationGracePeriodSeconds": "30",
            "containers": [{"name": "c", "image": "nginx"}]}}),
        )
        .unwrap(),
        status(400, "BadRequest", "cannot be handled as a Pod"),
    ));
    let replace = |what: &str, body: Value, expect: Expect| {
        case(what, "PUT", SEED, serde_json::to_vec(&body).unwrap(), expect)
    };
    cases.push(replace(
        "replace with a number in data",
        json!({"metadata": {"name": "seed"}, "data": {"k": 1}}),
        BAD_TYPE,
    ));
    cases.push(replace(
        "replace with a string as metadata",
        json!({"metadata": "seed", "data": {"k": "changed"}}),
        BAD_TYPE,
    ));
    cases.push(replace(
        "replace with a number as the name",
        json!({"metadata": {"name": 5}, "data": {"k": "changed"}}),
        BAD_TYPE,
    ));
    // A numeric resourceVersion is no precondition: it must not become an unconditional write.
    cases.push(replace(
        "replace with a numeric resourceVersion",
        json!({"metadata": {"name": "seed", "resourceVersion": 1}, "data": {"k": "changed"}}),
        BAD_TYPE,
    ));
    cases.push(replace(
        "replace with a string as labels",
        json!({"metadata": {"name": "seed", "labels": "x"}, "data": {}}),
        BAD_TYPE,
    ));
    let patch = |what: &str, body: Value, expect: Expect| {
        case(what, "PATCH", SEED, serde_json::to_vec(&body).unwrap(), expect)
    };
    cases.push(patch(
        "merge patch with a number in data",
        json!({"data": {"k": 1}}),
        BAD_TYPE,
    ));
    cases.push(patch(
        "merge patch with a string as data",
        json!({"data": "x"}),
        BAD_TYPE,
    ));
    cases.push(patch(
        "merge patch with a numeric resourceVersion",
        json!({"metadata": {"resourceVersion": 1}, "data": {"k": "changed"}}),
        BAD_TYPE,
    ));
    cases.push(patch(
        "merge patch with a string as metadata",
        json!({"metadata": "x"}),
        BAD_TYPE,
    ));
    // Unknown fields.
    let strict = format!("{CMS}?fieldValidation=Strict");
    let body = |v: Value| serde_json::to_vec(&v).unwrap();
    cases.push(case(
        "unknown field, Strict",
        "POST",
        &strict,
        body(json!({"metadata": {"name": "u1"}, "bogus": 1})),
        status(400, "BadRequest", "unknown field \"bogus\""),
    ));
    cases.push(case(
        "unknown nested field, Strict",
        "POST",
        &strict,
        body(json!({"metadata": {"name": "u2", "bogus": 1}})),
        status(400, "BadRequest", "unknown field \"metadata.bogus\""),
    ));
    cases.push(case(
        "unknown field in replace, Strict",
        "PUT",
        format!("{SEED}?fieldValidation=Strict"),
        body(json!({"metadata": {"name": "seed"}, "data": {"k": "changed"}, "bogus": 1})),
        status(400, "BadRequest", "unknown field \"bogus\""),
    ));
    cases.push(case(
        "unknown field in merge patch, Strict",
        "PATCH",
        format!("{SEED}?fieldValidation=Strict"),
        body(json!({"data": {"k": "changed"}, "bogus": 1})),
        status(400, "BadRequest", "unknown field \"bogus\""),
    ));
    cases.push(case(
        "unsupported fieldValidation",
        "POST",
        format!("{CMS}?fieldValidation=Loud"),
        body(json!({"metadata": {"name": "u3"}})),
        status(400, "BadRequest", "fieldValidation"),
    ));
    // Kind and apiVersion that do not match the URL.
    cases.push(create(
        "apiVersion v2",
        json!({"apiVersion": "v2", "kind": "ConfigMap", "metadata": {"name": "k1"}}),
        status(400, "BadRequest", "does not match the expected API version"),
    ));
    cases.push(create(
        "apiVersion apps/v1",
        json!({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "k2"}}),
        status(400, "BadRequest", "does not match the expected API version"),
    ));
    cases.push(create(
        "kind Secret",
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k3"}}),
        status(400, "BadRequest", "does not match the expected kind"),
    ));
    cases.push(create(
        "apiVersion of the wrong type",
        json!({"apiVersion": 1, "kind": "ConfigMap", "metadata": {"name": "k4"}}),
        BAD_VERSION_KIND,
    ));
    cases.push(create(
        "kind of the wrong type",
        json!({"apiVersion": "v1", "kind": ["ConfigMap"], "metadata": {"name": "k5"}}),
        BAD_VERSION_KIND,
    ));
    cases.push(replace(
        "replace as a Secret",
        json!({"kind": "Secret", "metadata": {"name": "seed"}}),
        status(400, "BadRequest", "does not match the expected kind"),
    ));
    cases.push(patch(
        "merge patch to kind Secret",
        json!({"kind": "Secret"}),
        status(400, "BadRequest", "does not match the expected kind"),
    ));
    cases.push(case(
        "a ConfigMap sent to deployments",
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        body(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "k6"}})),
        status(400, "BadRequest", "does not match the expected API version"),
    ));
    // Identity and server-owned fields.
    cases.push(replace(
        "replace with another name",
        json!({"metadata": {"name": "other"}}),
        status(400, "BadRequest", "does not match the name on the URL"),
    ));
    cases.push(create(
        "another namespace in the body",
        json!({"metadata": {"name": "n1", "namespace": "kube-system"}}),
        status(400, "BadRequest", "does not match the namespace"),
    ));
    cases.push(create(
        "resourceVersion on create",
        json!({"metadata": {"name": "n2", "resourceVersion": "1"}}),
        status(400, "BadRequest", "resourceVersion should not be set"),
    ));
    cases.push(case(
        "create in a missing namespace",
        "POST",
        "/api/v1/namespaces/nope/configmaps",
        body(json!({"metadata": {"name": "n3"}})),
        status(404, "NotFound", "namespaces \"nope\" not found"),
    ));
    cases.push(case(
        "replace of a missing object",
        "PUT",
        format!("{CMS}/missing"),
        body(json!({"metadata": {"name": "missing"}, "data": {}})),
        status(404, "NotFound", "configmaps \"missing\" not found"),
    ));
    cases.push(case(
        "merge patch of a missing object",
        "PATCH",
        format!("{CMS}/missing"),
        body(json!({"data": {}})),
        status(404, "NotFound", "configmaps \"missing\" not found"),
    ));
    cases.push(case(
        "delete of a missing object",
        "DELETE",
        format!("{CMS}/missing"),
        Vec::new(),
        status(404, "NotFound", "configmaps \"missing\" not found"),
    ));
    cases.push(replace(
        "stale resourceVersion",
        json!({"metadata": {"name": "seed", "resourceVersion": "1"}, "data": {"k": "changed"}}),
        status(409, "Conflict", "the object has been modified"),
    ));
    // dryRun has one value, All: anything else is refused, never taken for a real write.
    let post = |path: String, v: Value| case("unknown dryRun value", "POST", path, body(v), BAD_DRY_RUN);
    cases.push(post(
        format!("{CMS}?dryRun=true"),
        json!({"metadata": {"name": "d1"}}),
    ));
    let mut c = post(
        format!("{SEED}?dryRun=Maybe"),
        json!({"metadata": {"name": "seed"}, "data": {}}),
    );
    c.method = "PUT";
    cases.push(c);
    let mut c = post(format!("{SEED}?dryRun=true"), json!({"data": {"k": "changed"}}));
    (c.method, c.content_type) = ("PATCH", MERGE);
    cases.push(c);
    for path in [format!("{SEED}?dryRun=true"), format!("{CMS}?dryRun=true")] {
        cases.push(case(
            "delete with an unknown dryRun value",
            "DELETE",
            path,
            Vec::new(),
            BAD_DRY_RUN,
        ));
    }
    for path in [SEED, CMS] {
        let options = br#"{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["Maybe"]}"#.to_vec();
        cases.push(case(
            "DeleteOptions with an unknown dryRun value",
            "DELETE",
            path,
            options,
            BAD_DRY_RUN,
        ));
    }

    let problems = f.run(cases).await;

    // Warn (the default) and Ignore accept unknown fields: 201, a Warning header per field
    // with Warn, and the field is not stored.
    let scratch = "/api/v1/namespaces/scratch/configmaps";
    for (query, name, warns) in [
        ("?fieldValidation=Warn", "w1", true),
        ("", "w2", true),
        ("?fieldValidation=Ignore", "w3", false),
    ] {
        let b = body(json!({"metadata": {"name": name, "bogus": 1}, "data": {"k": "v"}, "extra": {"x": 1}}));
        match raw(&f.client, "POST", &format!("{scratch}{query}"), JSON, b).await {
            Reply::Success { code, warnings, body } => {
                assert_eq!(code, 201, "{query}");
                let mut want = Vec::new();
                if warns {
                    want = vec![
                        r#"299 - "unknown field \"extra\"""#.to_string(),
                        r#"299 - "unknown field \"metadata.bogus\"""#.to_string(),
                    ];
                }
                let mut got = warnings.clone();
                got.sort();
                assert_eq!(got, want, "Warning headers with {query:?}");
                assert!(
                    body.get("extra").is_none() && body["metadata"].get("bogus").is_none(),
                    "{body}"
                );
            }
            other => panic!("unknown fields with {query:?}: {other:?}"),
        }
    }
    assert_none("objects", problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_patches_delete_options_and_query_parameters() {
    let mut f = Fixture::start().await;
    let mut cases = Vec::new();
    let patch = |what: &str, ct: Option<&'static str>, body: &[u8], expect: Expect| {
        with_type(case(what, "PATCH", SEED, body.to_vec(), expect), ct)
    };
    // Content types a PATCH cannot have.
    for ct in [
        Some("application/json"),
        Some("text/plain"),
        None,
        Some("application/merge-patch+xml"),
    ] {
        cases.push(patch(
            &format!("PATCH as {ct:?}"),
            ct,
            br#"{"data":{"k":"changed"}}"#,
            UNSUPPORTED,
        ));
    }
    // Server-side apply is served (tests/apply.rs), but only with a field manager.
    cases.push(patch(
        "apply without fieldManager",
        Some("application/apply-patch+yaml"),
        br#"{"data":{"k":"changed"}}"#,
        status(422, "Invalid", "fieldManager: Required value"),
    ));
    cases.push(patch(
        "JSON patch array as a merge patch",
        MERGE,
        br#"[{"op":"add","path":"/data/x","value":"y"}]"#,
        BAD_PATCH,
    ));
    // JSON patches that cannot apply.
    for (what, body, expect) in [
        (
            "unknown op",
            &br#"[{"op":"frobnicate","path":"/data/k","value":"x"}]"#[..],
            BAD_PATCH,
        ),
        ("op without a path", br#"[{"op":"add","value":"x"}]"#, BAD_PATCH),
        (
            "a patch that is not an array",
            br#"{"op":"add","path":"/data/x","value":"y"}"#,
            BAD_PATCH,
        ),
        (
            "path without a leading slash",
            br#"[{"op":"add","path":"data/x","value":"y"}]"#,
            BAD_PATCH,
        ),
        (
            "replace of a missing path",
            br#"[{"op":"replace","path":"/data/missing","value":"x"}]"#,
            status(422, "Invalid", ""),
        ),
        (
            "remove of a missing path",
            br#"[{"op":"remove","path":"/data/missing"}]"#,
            status(422, "Invalid", ""),
        ),
        (
            "failing test",
            br#"[{"op":"add","path":"/data/x","value":"y"},{"op":"test","path":"/data/k","value":"no"}]"#,
            status(422, "Invalid", ""),
        ),
        (
            "move into its own child",
            br#"[{"op":"move","from":"/data","path":"/data/inner"}]"#,
            status(422, "Invalid", ""),
        ),
        (
            "replace of the whole object by a number",
            br#"[{"op":"replace","path":"","value":5}]"#,
            status(400, "BadRequest", "non-object"),
        ),
        (
            "number into data",
            br#"[{"op":"add","path":"/data/x","value":5}]"#,
            BAD_TYPE,
        ),
        (
            "rename through the patch",
            br#"[{"op":"replace","path":"/metadata/name","value":"other"}]"#,
            status(400, "BadRequest", "does not match the name on the URL"),
        ),
    ] {
        cases.push(patch(&format!("JSON patch: {what}"), JSON_PATCH, body, expect));
    }
    cases.push(patch(
        "merge patch with a stale resourceVersion",
        MERGE,
        br#"{"metadata":{"resourceVersion":"1"},"data":{"k":"changed"}}"#,
        status(409, "Conflict", ""),
    ));
    // DeleteOptions that do not parse; a collection delete with them deletes nothing.
    let invalid_options = status(400, "BadRequest", "");
    for (what, body) in [
        ("not JSON", &b"{gracePeriodSeconds: 0"[..]),
        ("a string grace period", br#"{"gracePeriodSeconds":"soon"}"#),
        (
            "an unknown propagation policy",
            br#"{"propagationPolicy":"Sideways"}"#,
        ),
        (
            "orphanDependents and propagationPolicy",
            br#"{"orphanDependents":true,"propagationPolicy":"Foreground"}"#,
        ),
        ("an array", b"[1]"),
        ("preconditions of the wrong type", br#"{"preconditions":"yes"}"#),
    ] {
        cases.push(case(
            format!("delete with {what}"),
            "DELETE",
            SEED,
            body,
            invalid_options,
        ));
        cases.push(case(
            format!("delete collection with {what}"),
            "DELETE",
            CMS,
            body,
            invalid_options,
        ));
    }
    cases.push(case(
        "delete with an unknown propagationPolicy parameter",
        "DELETE",
        format!("{SEED}?propagationPolicy=Sideways"),
        Vec::new(),
        invalid_options,
    ));
    cases.push(case(
        "delete with a non-numeric gracePeriodSeconds",
        "DELETE",
        format!("{SEED}?gracePeriodSeconds=soon"),
        Vec::new(),
        invalid_options,
    ));
    cases.push(case(
        "delete with a failing uid precondition",
        "DELETE",
        SEED,
        br#"{"preconditions":{"uid":"not-the-uid"}}"#.to_vec(),
        status(409, "Conflict", "Precondition failed"),
    ));
    cases.push(case(
        "delete with a failing resourceVersion precondition",
        "DELETE",
        SEED,
        br#"{"preconditions":{"resourceVersion":"1"}}"#.to_vec(),
        status(409, "Conflict", "Precondition failed"),
    ));
    // Query parameters of reads.
    let get = |what: &str, path: String, expect: Expect| case(what, "GET", path, Vec::new(), expect);
    for (what, query, expect) in [
        (
            "unsupported field selector",
            "fieldSelector=spec.nodeName%3Dx",
            status(400, "BadRequest", "field label not supported"),
        ),
        (
            "field selector without an operator",
            "fieldSelector=metadata.name",
            BAD_REQUEST,
        ),
        (
            "unclosed set in a label selector",
            "labelSelector=app%20in%20(web",
            BAD_REQUEST,
        ),
        (
            "double negation in a label selector",
            "labelSelector=!!app",
            BAD_REQUEST,
        ),
        (
            "a label selector with two equals",
            "labelSelector=a%3D%3Db%3D%3Dc",
            BAD_REQUEST,
        ),
        (
            "a label key with a space",
            "labelSelector=bad%20key%3Dx",
            BAD_REQUEST,
        ),
        ("a non-numeric limit", "limit=abc", BAD_REQUEST),
        ("a negative limit", "limit=-1", BAD_REQUEST),
        ("a fractional limit", "limit=1.5", BAD_REQUEST),
        (
            "a non-numeric resourceVersion",
            "resourceVersion=abc",
            status(400, "BadRequest", "resource version"),
        ),
        (
            "a negative resourceVersion",
            "resourceVersion=-1",
            status(400, "BadRequest", "resource version"),
        ),
        (
            "resourceVersionMatch without resourceVersion",
            "resourceVersionMatch=Exact",
            status(400, "BadRequest", "resourceVersionMatch"),
        ),
        (
            "NotOlderThan without resourceVersion",
            "resourceVersionMatch=NotOlderThan",
            status(400, "BadRequest", "resourceVersionMatch"),
        ),
        (
            "an unknown resourceVersionMatch",
            "resourceVersion=1&resourceVersionMatch=Sometimes",
            status(400, "BadRequest", "Unsupported value"),
        ),
        (
            "Exact with resourceVersion 0",
            "resourceVersion=0&resourceVersionMatch=Exact",
            status(400, "BadRequest", "Exact"),
        ),
        (
            "Exact with a non-numeric resourceVersion",
            "resourceVersion=abc&resourceVersionMatch=Exact",
            status(400, "BadRequest", "resource version"),
        ),
        (
            "a garbage continue token",
            "continue=garbage",
            status(400, "BadRequest", "continue"),
        ),
        (
            "a continue token with a resourceVersion",
            "continue=garbage&resourceVersion=5",
            BAD_REQUEST,
        ),
        (
            "a resourceVersion far in the future",
            "resourceVersion=999999999",
            status(504, "Timeout", "Too large resource version"),
        ),
    ] {
        cases.push(get(
            &format!("list with {what}"),
            format!("{CMS}?{query}"),
            expect,
        ));
    }
    for (what, query) in [
        ("a non-numeric resourceVersion", "resourceVersion=abc"),
        ("a negative resourceVersion", "resourceVersion=-1"),
        ("a bad label selector", "labelSelector=app%20in%20(web"),
        ("an unsupported field selector", "fieldSelector=spec.nodeName%3Dx"),
        ("a non-numeric timeoutSeconds", "timeoutSeconds=soon"),
        (
            "sendInitialEvents without resourceVersionMatch",
            "sendInitialEvents=true&allowWatchBookmarks=true",
        ),
    ] {
        let expect = if query.starts_with("sendInitialEvents") {
            status(422, "Invalid", "sendInitialEvents")
        } else {
            BAD_REQUEST
        };
        cases.push(get(
            &format!("watch with {what}"),
            format!("{CMS}?watch=true&{query}"),
            expect,
        ));
    }
    cases.push(get(
        "get with a non-numeric resourceVersion",
        format!("{SEED}?resourceVersion=abc"),
        status(400, "BadRequest", "resource version"),
    ));
    cases.push(get(
        "get with a negative resourceVersion",
        format!("{SEED}?resourceVersion=-1"),
        status(400, "BadRequest", "resource version"),
    ));
    cases.push(case(
        "delete collection with a bad label selector",
        "DELETE",
        format!("{CMS}?labelSelector=app%20in%20(web"),
        Vec::new(),
        BAD_REQUEST,
    ));
    cases.push(case(
        "delete collection with an unsupported field selector",
        "DELETE",
        format!("{CMS}?fieldSelector=spec.x%3Dy"),
        Vec::new(),
        BAD_REQUEST,
    ));
    // Paths and methods.
    cases.push(get(
        "an unknown resource",
        "/api/v1/namespaces/default/nothings".into(),
        status(404, "NotFound", ""),
    ));
    cases.push(get(
        "an unknown group",
        "/apis/nowhere.example.com/v1/things".into(),
        status(404, "NotFound", ""),
    ));
    cases.push(get(
        "an unknown subresource",
        format!("{SEED}/nothing"),
        status(404, "NotFound", ""),
    ));
    cases.push(case(
        "POST to /healthz",
        "POST",
        "/healthz",
        Vec::new(),
        status(405, "MethodNotAllowed", ""),
    ));

    let problems = f.run(cases).await;
    assert_none("patches, deletes and queries", problems);
}
