//! Pacing of content-creating requests (POST, PUT, PATCH, DELETE) within GitHub's secondary
//! limits — 80 a minute and 500 an hour — so an apply never meets them (a refusal would cost
//! a wait of a minute or more). Every writer to one API shares one pacer in the process; a
//! write marked [`super::Req::paced`] waits, once it holds its concurrency slot (so that the
//! time counted is the time it goes out, not the time it queued), until it fits every window.
//! The windows are kept a little wider than GitHub's (5 %) so that a request delayed on the
//! way still arrives inside the limits.
//!
//! `SOPHIA_GITHUB_WRITE_LIMITS` (`count/seconds,…`, default `80/60,500/3600`) sets other
//! limits, e.g. for a GitHub Enterprise Server configured differently.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

/// GitHub's secondary limits on content-creating requests.
pub const DEFAULT_LIMITS: [(usize, Duration); 2] = [
    (80, Duration::from_secs(60)),
    (500, Duration::from_secs(3600)),
];

/// The write times of one API, within the longest window.
#[derive(Debug)]
pub struct Pacer {
    limits: Vec<(usize, Duration)>,
    sent: Mutex<VecDeque<Instant>>,
}

/// `count/seconds,…` → limits; `None` when it does not parse.
pub fn parse_limits(text: &str) -> Option<Vec<(usize, Duration)>> {
    text.split(',')
        .map(|part| {
            let (n, secs) = part.trim().split_once('/')?;
            let n: usize = n.trim().parse().ok().filter(|n| *n > 0)?;
            let secs: f64 = secs.trim().parse().ok().filter(|s: &f64| *s > 0.0)?;
            Some((n, Duration::from_secs_f64(secs)))
        })
        .collect()
}

impl Pacer {
    /// The pacer of the API at `key` (one per process), with `limits`.
    pub fn shared(key: &str, limits: Vec<(usize, Duration)>) -> Arc<Pacer> {
        static ALL: OnceLock<Mutex<HashMap<String, Arc<Pacer>>>> = OnceLock::new();
        let mut all = ALL
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        all.entry(key.to_string())
            .or_insert_with(|| {
                Arc::new(Pacer {
                    limits,
                    sent: Mutex::new(VecDeque::new()),
                })
            })
            .clone()
    }

    /// The wait before a write may go at `now` (zero: it is counted and may go).
    fn reserve(&self, now: Instant) -> Duration {
        let widen = |w: Duration| w + w / 20;
        let longest = self
            .limits
            .iter()
            .map(|(_, w)| widen(*w))
            .max()
            .unwrap_or_default();
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        while sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= longest)
        {
            sent.pop_front();
        }
        let mut wait = Duration::ZERO;
        for (max, window) in &self.limits {
            let window = widen(*window);
            let inside: Vec<&Instant> = sent
                .iter()
                .filter(|t| now.duration_since(**t) < window)
                .collect();
            if inside.len() >= *max {
                // Free once the oldest write that keeps this window full leaves it.
                let oldest = inside[inside.len() - max];
                wait = wait.max(window - now.duration_since(*oldest));
            }
        }
        if wait.is_zero() {
            sent.push_back(now);
        }
        wait
    }

    /// Wait until a write fits every window, and count it.
    pub async fn wait(&self) {
        loop {
            let wait = self.reserve(Instant::now());
            if wait.is_zero() {
                return;
            }
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_and_a_full_window_makes_writes_wait() {
        assert_eq!(
            parse_limits("80/60, 500/3600"),
            Some(DEFAULT_LIMITS.to_vec())
        );
        assert_eq!(parse_limits("80"), None);
        assert_eq!(parse_limits("0/60"), None);
        let p = Pacer {
            limits: vec![(2, Duration::from_secs(20))],
            sent: Mutex::new(VecDeque::new()),
        };
        let t0 = Instant::now();
        assert_eq!(p.reserve(t0), Duration::ZERO);
        assert_eq!(p.reserve(t0), Duration::ZERO);
        // Full: the third waits for the first to leave the (widened, 21 s) window.
        assert_eq!(
            p.reserve(t0 + Duration::from_secs(1)),
            Duration::from_secs(20)
        );
        assert_eq!(p.reserve(t0 + Duration::from_secs(21)), Duration::ZERO);
    }
}
