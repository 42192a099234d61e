//! The client's error type.

use kube_core::Status;

/// Everything that can go wrong talking to an apiserver.
///
/// Failures the server reports keep its [`Status`] ([`Error::Api`]); the `is_*` helpers answer
/// the usual questions without matching on codes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The apiserver answered with an error status.
    #[error("api error: {0}")]
    Api(#[source] Box<Status>),
    /// The request could not be built from the given options.
    #[error("invalid request: {0}")]
    BuildRequest(#[from] kube_core::request::Error),
    /// The base URL and the request path do not form a valid URL.
    #[error("invalid URL {url}: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The request could not be sent or the response not received (connection refused, reset,
    /// timed out, ...).
    #[error("HTTP request to {url} failed: {source}")]
    Http {
        /// Method and URL of the request.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The response body is not the JSON we expected.
    #[error("failed to decode the response to {url}: {source} (body starts with {body:?})")]
    Decode {
        /// Method and URL of the request.
        url: String,
        /// The first bytes of the body.
        body: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// A watch or log stream broke off mid-event.
    #[error("stream from {url} failed: {reason}")]
    Stream {
        /// Method and URL of the request.
        url: String,
        /// What happened.
        reason: String,
    },
    /// The configuration could not be loaded.
    #[error(transparent)]
    Config(#[from] crate::config::Error),
    /// Credentials could not be obtained.
    #[error(transparent)]
    Auth(#[from] crate::client::auth::AuthError),
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] crate::client::tls::TlsError),
    /// The HTTP client could not be built.
    #[error("failed to build the HTTP client: {0}")]
    BuildClient(#[source] reqwest::Error),
    /// Discovery did not find what was asked for.
    #[error("discovery: {0}")]
    Discovery(String),
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The server's status, when the server answered with one.
    pub fn status(&self) -> Option<&Status> {
        match self {
            Error::Api(s) => Some(s),
            _ => None,
        }
    }
    /// 404 NotFound.
    pub fn is_not_found(&self) -> bool {
        self.status().is_some_and(Status::is_not_found)
    }
    /// 409 Conflict: the write lost a race; re-read and retry.
    pub fn is_conflict(&self) -> bool {
        self.status().is_some_and(Status::is_conflict)
    }
    /// 409 AlreadyExists.
    pub fn is_already_exists(&self) -> bool {
        self.status().is_some_and(Status::is_already_exists)
    }
    /// 410 Gone / Expired: relist.
    pub fn is_gone(&self) -> bool {
        self.status().is_some_and(Status::is_gone)
    }
    /// 403 Forbidden.
    pub fn is_forbidden(&self) -> bool {
        self.status().is_some_and(Status::is_forbidden)
    }
    /// 422 Invalid.
    pub fn is_invalid(&self) -> bool {
        self.status().is_some_and(Status::is_invalid)
    }
    /// 401 Unauthorized.
    pub fn is_unauthorized(&self) -> bool {
        self.status().is_some_and(Status::is_unauthorized)
    }
    /// 429 TooManyRequests.
    pub fn is_too_many_requests(&self) -> bool {
        self.status().is_some_and(Status::is_too_many_requests)
    }
}

/// Build a [`Status`] from an HTTP error response whose body is not one (a proxy's HTML page,
/// an empty 503), keeping the code and a reason derived from it.
pub(crate) fn status_from_response(code: u16, body: &[u8]) -> Status {
    if let Ok(s) = serde_json::from_slice::<Status>(body)
        && s.kind == "Status"
        && (s.code != 0 || !s.reason.is_empty())
    {
        let code = if s.code == 0 { code } else { s.code };
        return Status { code, ..s };
    }
    use kube_core::status::reason;
    let reason = match code {
        400 => reason::BAD_REQUEST,
        401 => reason::UNAUTHORIZED,
        403 => reason::FORBIDDEN,
        404 => reason::NOT_FOUND,
        405 => reason::METHOD_NOT_ALLOWED,
        406 => reason::NOT_ACCEPTABLE,
        409 => reason::CONFLICT,
        410 => reason::GONE,
        413 => reason::REQUEST_ENTITY_TOO_LARGE,
        415 => reason::UNSUPPORTED_MEDIA_TYPE,
        422 => reason::INVALID,
        429 => reason::TOO_MANY_REQUESTS,
        503 => reason::SERVICE_UNAVAILABLE,
        504 => reason::TIMEOUT,
        _ => reason::INTERNAL_ERROR,
    };
    let text = String::from_utf8_lossy(&body[..body.len().min(512)])
        .trim()
        .to_string();
    let message = if text.is_empty() {
        format!("the server responded with HTTP {code}")
    } else {
        text
    };
    Status::failure(code, reason, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_from_bodies() {
        let s = status_from_response(404, br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"x","reason":"NotFound","code":404}"#);
        assert!(s.is_not_found());
        let s = status_from_response(503, b"");
        assert_eq!((s.code, s.reason.as_str()), (503, "ServiceUnavailable"));
        let s = status_from_response(409, b"<html>conflict</html>");
        assert!(s.is_conflict());
        assert_eq!(s.message, "<html>conflict</html>");
        let e = Error::Api(Box::new(Status::expired("old")));
        assert!(e.is_gone() && !e.is_not_found());
    }
}
