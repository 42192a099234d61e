//! Helpers shared by the reliability tests: the real `ref-apiserver` binary as a child process
//! (started on a free loopback port, ready once `/healthz` answers, killed with SIGKILL or
//! signalled), clients that never retry behind a test's back, raw requests that keep the
//! server's `Status` and `Warning` headers, and polling with a deadline.

#![allow(dead_code)] // each test binary uses its own part of this module

use http::Request;
use kube_client::Client;
use kube_core::Status;
use serde_json::Value;

mod process;
#[allow(unused_imports)] // as dead_code above
pub use process::*;

#[allow(unused_imports)] // as dead_code above
pub use reference_apiserver::testing::eventually;

/// What a raw request got.
#[derive(Debug)]
pub enum Reply {
    /// A 2xx response: its code, `Warning` headers and JSON body.
    Success {
        /// HTTP status code.
        code: u16,
        /// `Warning` header values.
        warnings: Vec<String>,
        /// The body.
        body: Value,
    },
    /// An error response (as the `Status` the server sent).
    Failure(Box<Status>),
    /// No response: the connection failed or broke (the error with its causes).
    Transport(String),
}

/// An error and its chain of causes, on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// Send `method path` with `body` (and `content_type`, if any) through kube-client, keeping
/// whatever came back.
pub async fn raw(
    client: &Client,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        req = req.header(http::header::CONTENT_TYPE, ct);
    }
    let req = req.body(body).expect("request");
    match client.send(req, false).await {
        Ok(resp) => {
            let code = resp.status().as_u16();
            let warnings = resp
                .headers()
                .get_all(http::header::WARNING)
                .iter()
                .map(|v| v.to_str().unwrap_or_default().to_string())
                .collect();
            match resp.bytes().await {
                Ok(bytes) => Reply::Success {
                    code,
                    warnings,
                    body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                },
                Err(e) => Reply::Transport(error_chain(&e)),
            }
        }
        Err(kube_client::Error::Api(status)) => Reply::Failure(status),
        Err(e) => Reply::Transport(error_chain(&e)),
    }
}

/// A resourceVersion as a number.
pub fn rv_of(rv: Option<&str>) -> u64 {
    rv.expect("a resourceVersion")
        .parse()
        .expect("resourceVersions are integers")
}
