//! The watcher's default backoff: exponential with jitter, reset after a healthy spell.

use std::time::Duration;

use tokio::time::Instant;

/// Exponential backoff between failed attempts, as client-go's reflector uses it: the delay
/// starts at `initial`, doubles up to `max`, gets up to `jitter` × itself added at random, and
/// starts over once no failure has been seen for `reset_after`.
///
/// The defaults are client-go's: 800 ms to 30 s, jitter 1.0, reset after 2 minutes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffConfig {
    /// The first delay.
    pub initial: Duration,
    /// The largest delay (before jitter).
    pub max: Duration,
    /// Up to this fraction of the delay is added at random.
    pub jitter: f64,
    /// A failure after this long without one starts again from `initial`.
    pub reset_after: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(800),
            max: Duration::from_secs(30),
            jitter: 1.0,
            reset_after: Duration::from_secs(120),
        }
    }
}

/// The state of one backoff: call [`Backoff::next_delay`] on each failure.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    next: Duration,
    last_failure: Option<Instant>,
}

impl Backoff {
    /// A fresh backoff.
    pub fn new(config: BackoffConfig) -> Self {
        Self {
            config,
            next: config.initial,
            last_failure: None,
        }
    }

    /// The delay to wait after a failure now. Consecutive failures double it; a failure after a
    /// healthy spell of `reset_after` starts again from `initial`.
    pub fn next_delay(&mut self) -> Duration {
        let now = Instant::now();
        if self
            .last_failure
            .is_some_and(|at| now.saturating_duration_since(at) >= self.config.reset_after)
        {
            self.next = self.config.initial;
        }
        let base = self.next;
        self.next = (self.next * 2).min(self.config.max);
        let jitter = if self.config.jitter > 0.0 {
            base.mul_f64(self.config.jitter * rand::random::<f64>())
        } else {
            Duration::ZERO
        };
        let delay = base + jitter;
        // The healthy spell is counted from the end of this wait.
        self.last_failure = Some(now + delay);
        delay
    }

    /// Forget the failures: the next delay is `initial` again.
    pub fn reset(&mut self) {
        self.next = self.config.initial;
        self.last_failure = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_jitter() -> BackoffConfig {
        BackoffConfig {
            jitter: 0.0,
            ..BackoffConfig::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn doubles_up_to_the_cap() {
        let mut b = Backoff::new(no_jitter());
        let delays: Vec<_> = (0..8).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]);
    }

    #[tokio::test(start_paused = true)]
    async fn resets_after_two_healthy_minutes() {
        let mut b = Backoff::new(no_jitter());
        for _ in 0..4 {
            b.next_delay();
        }
        // 119 s after the last wait ended: still backing off.
        tokio::time::advance(Duration::from_millis(6400) + Duration::from_secs(119)).await;
        assert_eq!(b.next_delay(), Duration::from_millis(12800));
        tokio::time::advance(Duration::from_millis(12800) + Duration::from_secs(120)).await;
        assert_eq!(b.next_delay(), Duration::from_millis(800));
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_adds_up_to_the_fraction() {
        let mut b = Backoff::new(BackoffConfig::default());
        for _ in 0..50 {
            b.reset();
            let d = b.next_delay();
            assert!(
                d >= Duration::from_millis(800) && d < Duration::from_millis(1600),
                "{d:?}"
            );
        }
    }
}
