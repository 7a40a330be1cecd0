//! Seeded fault injection. Every request a fault may hit draws twice from one ChaCha8 stream
//! (whether a fault fires, then which kind), so the same seed and the same request sequence
//! give the same faults, and a different seed a different sequence.
//!
//! A fault is decided before the request reaches its handler. Every kind but `lost` answers
//! in place of the handler, so the request never changes state: the client sees a failure and
//! nothing happened. `lost` is the other case a real service has: the handler runs and its
//! change is made, then the answer is lost on the way back (a proxy's 502), so the client
//! cannot tell whether it happened.

use std::str::FromStr;
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

/// What can go wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// 500 in the provider's error shape.
    Internal,
    /// 502 from the "load balancer": a plain-text body, not the provider's JSON.
    BadGateway,
    /// 429 with `Retry-After`.
    TooManyRequests,
    /// GitHub's secondary rate limit: 403 "You have exceeded a secondary rate limit" with
    /// `retry-after` (a 429 with `Retry-After` on the other providers).
    SecondaryRateLimit,
    /// The response comes after [`FaultConfig::slow`] (past a client's timeout), as a 504: the
    /// request was never handled.
    Slow,
    /// The connection closes without a response.
    Drop,
    /// The request is handled — its change is made — and then its answer is lost: the client
    /// gets a 502 from the "load balancer" instead.
    Lost,
}

impl FaultKind {
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Internal,
        FaultKind::BadGateway,
        FaultKind::TooManyRequests,
        FaultKind::SecondaryRateLimit,
        FaultKind::Slow,
        FaultKind::Drop,
        FaultKind::Lost,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Internal => "500",
            FaultKind::BadGateway => "502",
            FaultKind::TooManyRequests => "429",
            FaultKind::SecondaryRateLimit => "secondary",
            FaultKind::Slow => "slow",
            FaultKind::Drop => "drop",
            FaultKind::Lost => "lost",
        }
    }
}

impl FromStr for FaultKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown fault `{s}`; expected one of: {}",
                    FaultKind::ALL.map(|k| k.name()).join(", ")
                )
            })
    }
}

#[derive(Debug, Clone)]
pub struct FaultConfig {
    /// Probability in [0, 1] that a request fails.
    pub rate: f64,
    /// The seed of the fault stream.
    pub seed: u64,
    /// The kinds to choose from, uniformly.
    pub kinds: Vec<FaultKind>,
    /// How long a `slow` fault waits before answering.
    pub slow: Duration,
    /// The `Retry-After` seconds of 429 and secondary-limit faults.
    pub retry_after_secs: u64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            rate: 0.0,
            seed: 0,
            kinds: FaultKind::ALL.to_vec(),
            // Past the 10–30 s timeouts HTTP clients commonly use, so `slow` really times out.
            slow: Duration::from_secs(35),
            // One second: long enough to exercise `Retry-After`, short enough for tests and
            // demos (GitHub asks for 60).
            retry_after_secs: 1,
        }
    }
}

/// The fault stream.
pub struct Injector {
    rng: ChaCha8Rng,
    rate: f64,
    kinds: Vec<FaultKind>,
}

impl Injector {
    pub fn new(config: &FaultConfig) -> Injector {
        Injector {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            rate: config.rate.clamp(0.0, 1.0),
            kinds: config.kinds.clone(),
        }
    }

    /// The fault for the next request, if any. Always draws twice so that the stream stays
    /// aligned with the request sequence whatever the outcome.
    pub fn draw(&mut self) -> Option<FaultKind> {
        let fire: f64 = self.rng.random();
        let pick: u64 = self.rng.random();
        if self.kinds.is_empty() || fire >= self.rate {
            return None;
        }
        let index = (pick % self.kinds.len() as u64) as usize;
        Some(self.kinds[index])
    }
}

/// A 502 from the "load balancer": a plain HTML body, not the provider's JSON.
pub fn bad_gateway() -> Response {
    (
        StatusCode::BAD_GATEWAY,
        [(header::CONTENT_TYPE, "text/html")],
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequence(seed: u64) -> Vec<Option<FaultKind>> {
        let mut inj = Injector::new(&FaultConfig {
            rate: 0.5,
            seed,
            ..FaultConfig::default()
        });
        (0..64).map(|_| inj.draw()).collect()
    }

    #[test]
    fn same_seed_same_faults_different_seed_different() {
        assert_eq!(sequence(7), sequence(7));
        assert_ne!(sequence(7), sequence(8));
        assert!(sequence(7).iter().any(Option::is_some));
        assert!(sequence(7).iter().any(Option::is_none));
    }

    #[test]
    fn rate_zero_never_faults_and_rate_one_always() {
        let mut never = Injector::new(&FaultConfig::default());
        assert!((0..100).all(|_| never.draw().is_none()));
        let mut always = Injector::new(&FaultConfig {
            rate: 1.0,
            ..FaultConfig::default()
        });
        assert!((0..100).all(|_| always.draw().is_some()));
    }

    #[test]
    fn kinds_parse_by_name() {
        for kind in FaultKind::ALL {
            assert_eq!(kind.name().parse::<FaultKind>(), Ok(kind));
        }
        assert!(
            "teapot"
                .parse::<FaultKind>()
                .unwrap_err()
                .contains("expected one of")
        );
    }
}
