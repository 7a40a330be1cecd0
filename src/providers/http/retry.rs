//! When a request is sent again, and how long the client waits first: the retry policy
//! (capped exponential backoff with jitter), whether a request may be repeated at all, and
//! the rate-limit answers servers send (`Retry-After`, `x-ratelimit-*`). The loop that uses
//! them is [`super::Http::send`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{REQUEST_TIMEOUT, Resp};

/// How many times and how long to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included. 5 attempts with the default backoff span about
    /// 15 s, enough to ride out a deploy of the API or a load-balancer blip.
    pub max_attempts: u32,
    /// First backoff; doubled each attempt.
    pub base_backoff: Duration,
    /// Cap of one backoff step.
    pub max_backoff: Duration,
    /// The longest wait a server may ask for (`Retry-After`, `x-ratelimit-reset`) that is
    /// honoured; past it the call fails with `rate-limited` instead of sleeping.
    pub max_wait: Duration,
    /// The total time of one attempt of a request that does not set its own
    /// ([`super::Req::timeout`]): [`REQUEST_TIMEOUT`], or `SOPHIA_HTTP_TIMEOUT_MS` (tests that make the
    /// sandbox answer slower than this, to exercise timeouts in seconds rather than minutes).
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            // 500 ms, 1 s, 2 s, 4 s: long enough for a 502 during a server restart to clear.
            base_backoff: Duration::from_millis(500),
            // Capped so a long outage fails within seconds rather than minutes.
            max_backoff: Duration::from_secs(8),
            // GitHub's secondary limits ask for up to 60 s; a longer wait (an exhausted
            // primary quota resets hourly) is reported instead of slept through.
            max_wait: Duration::from_secs(60),
            attempt_timeout: REQUEST_TIMEOUT,
        }
    }
}

impl RetryPolicy {
    /// A policy with tiny backoffs, for tests: same attempts, same logic, no long waits.
    pub fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            max_wait: Duration::from_secs(5),
            attempt_timeout: REQUEST_TIMEOUT,
        }
    }

    /// The backoff before attempt `attempt + 1` (1-based `attempt`): capped exponential with
    /// "equal jitter" (a random point in the upper half), so retries of many clients spread.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.max_backoff);
        let half = capped / 2;
        let jitter_ms = rand::random_range(0..=half.as_millis().max(1) as u64);
        half + Duration::from_millis(jitter_ms)
    }
}

/// Whether a request may be sent again after a failure that may have reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Same effect however often it runs.
    Idempotent,
    /// Creates something: only rate-limit refusals are retried.
    Never,
}

/// Whether `resp` is a rate-limit refusal, and how long to wait before trying again.
///
/// - 429, or 403 with `retry-after` or with `x-ratelimit-remaining: 0` (GitHub documents
///   both for primary and secondary limits), or a 403 whose message names a secondary rate
///   limit.
/// - The wait is `Retry-After` seconds when given; else, when remaining is 0, the time until
///   `x-ratelimit-reset`; else one minute for a secondary limit (GitHub's advice) and zero
///   (the policy's backoff applies) for a bare 429.
pub fn rate_limit_wait(resp: &Resp, now: SystemTime) -> Option<Duration> {
    let status = resp.status.as_u16();
    if status != 429 && status != 403 {
        return None;
    }
    let header = |name: &str| {
        resp.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let retry_after = header("retry-after").and_then(|v| v.parse::<u64>().ok());
    let remaining_zero = header("x-ratelimit-remaining") == Some("0");
    let secondary = status == 403
        && String::from_utf8_lossy(&resp.body)
            .to_ascii_lowercase()
            .contains("secondary rate limit");
    if status == 403 && retry_after.is_none() && !remaining_zero && !secondary {
        // A plain permission refusal: not retried.
        return None;
    }
    if let Some(secs) = retry_after {
        return Some(Duration::from_secs(secs));
    }
    if remaining_zero && let Some(reset) = header("x-ratelimit-reset").and_then(|v| v.parse().ok())
    {
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let reset: u64 = reset;
        return Some(Duration::from_secs(reset.saturating_sub(now)));
    }
    if secondary {
        // GitHub: "wait for at least one minute before retrying".
        return Some(Duration::from_secs(60));
    }
    Some(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode;
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

    use super::*;

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Resp {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        Resp {
            what: "GET /x".into(),
            status: StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn rate_limits_are_recognized_as_github_documents_them() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(
            rate_limit_wait(&resp(429, &[("retry-after", "3")], ""), now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            rate_limit_wait(
                &resp(
                    403,
                    &[
                        ("x-ratelimit-remaining", "0"),
                        ("x-ratelimit-reset", "1030")
                    ],
                    "{}"
                ),
                now
            ),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            rate_limit_wait(
                &resp(
                    403,
                    &[],
                    r#"{"message":"You have exceeded a secondary rate limit"}"#
                ),
                now
            ),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            rate_limit_wait(
                &resp(403, &[], r#"{"message":"Resource not accessible"}"#),
                now
            ),
            None
        );
        assert_eq!(rate_limit_wait(&resp(500, &[], ""), now), None);
    }

    #[test]
    fn backoff_is_capped_and_jittered_in_the_upper_half() {
        let p = RetryPolicy::default();
        for attempt in 1..20 {
            let d = p.backoff(attempt);
            assert!(d <= p.max_backoff, "{d:?}");
            let full = p
                .base_backoff
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(p.max_backoff);
            assert!(d >= full / 2, "{d:?} < half of {full:?}");
        }
    }
}
