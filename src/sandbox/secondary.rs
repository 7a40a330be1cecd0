//! GitHub's secondary rate limits on content-creating requests (POST, PUT, PATCH, DELETE):
//! per token, at most 80 a minute and 500 an hour (GitHub's documented limits; configurable
//! in [`super::SandboxConfig::github_write_limits`]). A request over a limit is refused as
//! GitHub refuses it: 403 "You have exceeded a secondary rate limit" with `retry-after`, and
//! it does not count.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::gate::Provider;

/// GitHub's limits on content-creating requests: 80 a minute, 500 an hour.
pub const GITHUB_WRITE_LIMITS: [(usize, Duration); 2] = [
    (80, Duration::from_secs(60)),
    (500, Duration::from_secs(3600)),
];

/// The times of each token's accepted writes, within the longest window.
#[derive(Default)]
pub struct Writes {
    by_token: HashMap<String, VecDeque<Instant>>,
}

impl Writes {
    /// Count a write of `token` at `now`, or the refusal when a limit is reached.
    pub fn take(
        &mut self,
        token: &str,
        limits: &[(usize, Duration)],
        now: Instant,
    ) -> Result<(), Response> {
        let longest = limits.iter().map(|(_, w)| *w).max().unwrap_or_default();
        let sent = self.by_token.entry(token.to_string()).or_default();
        while sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= longest)
        {
            sent.pop_front();
        }
        for (max, window) in limits {
            let inside: Vec<&Instant> = sent
                .iter()
                .filter(|t| now.duration_since(**t) < *window)
                .collect();
            if inside.len() >= *max {
                let oldest = inside[0];
                let wait = (*window - now.duration_since(*oldest)).as_secs().max(1);
                let mut resp = Provider::Github.error(
                    StatusCode::FORBIDDEN,
                    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                );
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(wait));
                return Err(resp);
            }
        }
        sent.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_over_a_window_are_refused_with_retry_after_and_not_counted() {
        let limits = [(2, Duration::from_secs(60)), (3, Duration::from_secs(3600))];
        let mut w = Writes::default();
        let t0 = Instant::now();
        assert!(w.take("t", &limits, t0).is_ok());
        assert!(w.take("t", &limits, t0).is_ok());
        let refused = w
            .take("t", &limits, t0 + Duration::from_secs(1))
            .unwrap_err();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "59");
        // Another token has its own budget.
        assert!(w.take("u", &limits, t0).is_ok());
        // A minute later the minute allows one more; the hour then holds 3.
        let later = t0 + Duration::from_secs(61);
        assert!(w.take("t", &limits, later).is_ok());
        assert!(w.take("t", &limits, later).is_err());
    }
}
