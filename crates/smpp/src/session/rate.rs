//! A token bucket for messages-per-second limits: per connection inside a [`super::Session`],
//! and shared by a group of connections (behind a mutex) in the pool. A plain value fed the time.

use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct TokenBucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// `per_second` tokens a second, at most `burst` saved up; starts full.
    pub fn new(per_second: f64, burst: f64, now: Instant) -> Self {
        // At least one a million seconds (11.6 days): any throttle an operator writes, and a
        // wait that Duration can always hold.
        let per_second = per_second.max(1e-6);
        TokenBucket {
            per_second,
            burst: burst.max(1.0),
            tokens: burst.max(1.0),
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.last = now;
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Changes the rate from `now` on (tokens saved so far are kept, up to the new burst).
    pub fn set_rate(&mut self, per_second: f64, burst: f64, now: Instant) {
        self.refill(now);
        self.per_second = per_second.max(1e-6);
        self.burst = burst.max(1.0);
        self.tokens = self.tokens.min(self.burst);
    }

    /// When the next token will be there.
    pub fn next_token(&self) -> Instant {
        if self.tokens >= 1.0 {
            return self.last;
        }
        self.last + Duration::from_secs_f64((1.0 - self.tokens) / self.per_second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_respected_over_time() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 10.0, t0);
        let mut sent = 0;
        // Over 2 simulated seconds in 1 ms steps: the initial burst plus 10 per second.
        for ms in 0..2000 {
            while b.take(t0 + Duration::from_millis(ms)) {
                sent += 1;
            }
        }
        assert!((29..=31).contains(&sent), "{sent}");
        assert!(b.next_token() > t0 + Duration::from_millis(1999));
    }
}
