//! Which failed requests are retried, and after how long.
//!
//! - `429 TooManyRequests` is retried for every method: the server refused the request before
//!   doing anything.
//! - `503` and `504` are retried for idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE): the
//!   request may have been processed, and repeating those is harmless.
//! - A connection that could not be established is retried for every method; one that broke
//!   after the request was sent only for idempotent methods.
//!
//! The wait is the server's `Retry-After` when it sends one (capped at
//! [`RetryPolicy::max_retry_after`]), else exponential backoff with jitter (backon).

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use http::Method;

/// How a client retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 turns retries off).
    pub max_retries: u32,
    /// First backoff delay.
    pub min_delay: Duration,
    /// Largest backoff delay.
    pub max_delay: Duration,
    /// Largest `Retry-After` honoured.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: crate::config::DEFAULT_MAX_RETRIES,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// What went wrong with one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The server answered with this code and maybe a `Retry-After`.
    Status(u16, Option<Duration>),
    /// No connection could be made: nothing was sent.
    Connect,
    /// The connection broke after the request may have been sent.
    Transport,
}

/// Whether a method may be repeated without changing the outcome (RFC 9110 §9.2.2).
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    )
}

/// Parse `Retry-After` in its delay-seconds form (the form kube-apiserver sends).
pub fn parse_retry_after(value: &http::HeaderValue) -> Option<Duration> {
    value
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The retry schedule of one request.
#[derive(Debug)]
pub struct Retries {
    policy: RetryPolicy,
    attempts: u32,
    backoff: backon::ExponentialBackoff,
}

impl RetryPolicy {
    /// Start the schedule for one request.
    pub fn start(&self) -> Retries {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build();
        Retries {
            policy: *self,
            attempts: 0,
            backoff,
        }
    }
}

impl Retries {
    /// After `failure` of a `method` request: how long to wait before the next attempt, or
    /// `None` to give up.
    pub fn next_delay(&mut self, method: &Method, failure: Failure) -> Option<Duration> {
        if self.attempts >= self.policy.max_retries {
            return None;
        }
        let retry_after = match failure {
            Failure::Status(429, after) => after,
            Failure::Status(503 | 504, after) if is_idempotent(method) => after,
            Failure::Connect => None,
            Failure::Transport if is_idempotent(method) => None,
            _ => return None,
        };
        self.attempts += 1;
        let backoff = self.backoff.next().unwrap_or(self.policy.max_delay);
        Some(retry_after.map_or(backoff, |d| d.min(self.policy.max_retry_after)))
    }

    /// Retries made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decides_by_code_method_and_budget() {
        let policy = RetryPolicy {
            max_retries: 3,
            ..Default::default()
        };
        let mut r = policy.start();
        assert_eq!(
            r.next_delay(&Method::POST, Failure::Status(429, Some(Duration::from_secs(2)))),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            r.next_delay(&Method::POST, Failure::Status(503, None)),
            None,
            "POST is not idempotent"
        );
        assert_eq!(r.next_delay(&Method::POST, Failure::Transport), None);
        assert!(r.next_delay(&Method::POST, Failure::Connect).is_some());
        assert!(r.next_delay(&Method::GET, Failure::Status(504, None)).is_some());
        assert_eq!(
            r.next_delay(&Method::GET, Failure::Status(504, None)),
            None,
            "budget spent"
        );
        assert_eq!(r.attempts(), 3);
        let mut r = policy.start();
        assert_eq!(r.next_delay(&Method::GET, Failure::Status(500, None)), None);
        assert_eq!(r.next_delay(&Method::GET, Failure::Status(409, None)), None);
        assert_eq!(
            r.next_delay(
                &Method::GET,
                Failure::Status(429, Some(Duration::from_secs(3600)))
            ),
            Some(Duration::from_secs(60)),
            "Retry-After is capped"
        );
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let policy = RetryPolicy {
            max_retries: 20,
            ..Default::default()
        };
        let mut r = policy.start();
        let delays: Vec<_> = (0..20)
            .map(|_| r.next_delay(&Method::GET, Failure::Connect).unwrap())
            .collect();
        assert!(
            delays[0] >= Duration::from_millis(100) && delays[0] < Duration::from_millis(200),
            "{delays:?}"
        );
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(20)), "{delays:?}");
        assert!(delays[19] >= Duration::from_secs(10), "{delays:?}");
    }

    #[test]
    fn retry_after_parsing() {
        assert_eq!(
            parse_retry_after(&http::HeaderValue::from_static("7")),
            Some(Duration::from_secs(7))
        );
        assert_eq!(parse_retry_after(&http::HeaderValue::from_static("soon")), None);
    }
}
