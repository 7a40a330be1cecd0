//! Running the plan's action DAG with bounded parallelism.
//!
//! An action starts when every action it depends on has succeeded. When an action fails, every
//! action that depends on it (transitively) is skipped and names the failure it waited for;
//! independent branches go on. With `fail_fast`, nothing new starts after the first failure
//! (what is running finishes). Among ready actions, the plan's order decides which starts
//! first, so runs are reproducible for a given executor.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;

use futures::stream::{FuturesUnordered, StreamExt};

use crate::core::plan::{Action, ActionId};

/// How one action ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    Succeeded(T),
    Failed(String),
    /// Not run because `because` (a dependency, possibly indirect) failed or was skipped.
    Skipped {
        because: ActionId,
    },
    /// Not started because of `--fail-fast`.
    NotStarted,
}

impl<T> Outcome<T> {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Succeeded(_))
    }

    pub fn status(&self) -> ActionStatus {
        match self {
            Outcome::Succeeded(_) => ActionStatus::Succeeded,
            Outcome::Failed(_) => ActionStatus::Failed,
            Outcome::Skipped { .. } => ActionStatus::Skipped,
            Outcome::NotStarted => ActionStatus::NotStarted,
        }
    }
}

/// How an action ended, as the apply's report, its `--json` output and the journal name it
/// (`succeeded`, `failed`, `skipped`, `not-started`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionStatus {
    Succeeded,
    Failed,
    /// A dependency failed (or was skipped).
    Skipped,
    /// `--fail-fast` (or a lost lease) stopped it before it started.
    NotStarted,
}

impl ActionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Succeeded => "succeeded",
            ActionStatus::Failed => "failed",
            ActionStatus::Skipped => "skipped",
            ActionStatus::NotStarted => "not-started",
        }
    }
}

impl std::fmt::Display for ActionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Run `actions` (in plan order, dependencies already validated acyclic by the planner) with
/// at most `parallelism` at a time. Returns every action's outcome in plan order.
///
/// `exec` is called once per started action; it owns retries and idempotence.
pub async fn run<'a, T, F, Fut>(
    actions: &'a [Action],
    parallelism: usize,
    fail_fast: bool,
    exec: F,
) -> Vec<(ActionId, Outcome<T>)>
where
    F: Fn(&'a Action) -> Fut,
    Fut: Future<Output = Result<T, String>> + 'a,
{
    let parallelism = parallelism.max(1);
    let index: BTreeMap<&ActionId, usize> = actions
        .iter()
        .enumerate()
        .map(|(i, a)| (&a.id, i))
        .collect();
    let mut waiting_on: Vec<usize> = vec![0; actions.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); actions.len()];
    for (i, a) in actions.iter().enumerate() {
        for dep in &a.depends_on {
            // A dependency outside this action list (e.g. filtered out by a target) is
            // treated as already satisfied: the planner includes every needed dependency.
            if let Some(&d) = index.get(dep) {
                waiting_on[i] += 1;
                dependents[d].push(i);
            }
        }
    }
    let mut outcomes: Vec<Option<Outcome<T>>> = (0..actions.len()).map(|_| None).collect();
    // Ready actions in plan order.
    let mut ready: VecDeque<usize> = (0..actions.len()).filter(|&i| waiting_on[i] == 0).collect();
    let mut running = FuturesUnordered::new();
    let mut stop_starting = false;

    loop {
        while !stop_starting && running.len() < parallelism {
            let Some(i) = ready.pop_front() else { break };
            let fut = exec(&actions[i]);
            running.push(async move { (i, fut.await) });
        }
        let Some((i, result)) = running.next().await else {
            break;
        };
        match result {
            Ok(value) => {
                outcomes[i] = Some(Outcome::Succeeded(value));
                let mut newly: Vec<usize> = Vec::new();
                for &d in &dependents[i] {
                    waiting_on[d] -= 1;
                    if waiting_on[d] == 0 && outcomes[d].is_none() {
                        newly.push(d);
                    }
                }
                // Keep the ready queue in plan order.
                ready.extend(newly);
                ready.make_contiguous().sort_unstable();
            }
            Err(message) => {
                outcomes[i] = Some(Outcome::Failed(message));
                skip_dependents(i, &actions[i].id, &dependents, &mut outcomes, &mut ready);
                if fail_fast {
                    stop_starting = true;
                }
            }
        }
    }
    actions
        .iter()
        .zip(outcomes)
        .map(|(a, o)| (a.id.clone(), o.unwrap_or(Outcome::NotStarted)))
        .collect()
}

fn skip_dependents<T>(
    failed: usize,
    failed_id: &ActionId,
    dependents: &[Vec<usize>],
    outcomes: &mut [Option<Outcome<T>>],
    ready: &mut VecDeque<usize>,
) {
    let mut stack: Vec<usize> = dependents[failed].clone();
    while let Some(d) = stack.pop() {
        if outcomes[d].is_none() {
            outcomes[d] = Some(Outcome::Skipped {
                because: failed_id.clone(),
            });
            ready.retain(|&r| r != d);
            stack.extend(dependents[d].iter().copied());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::core::address::Address;

    fn action(id: &str, deps: &[&str]) -> Action {
        Action {
            id: ActionId(id.to_string()),
            address: Address::Provider {
                name: id.to_string(),
            },
            kind: crate::core::plan::ActionKind::ProviderActivate,
            params: serde_json::Value::Null,
            depends_on: deps.iter().map(|d| ActionId(d.to_string())).collect(),
        }
    }

    /// Records start/finish events and the highest number of actions running at once. Each action
    /// yields to the scheduler a few times so that concurrency is really exercised.
    struct Probe {
        events: Mutex<Vec<String>>,
        running: AtomicUsize,
        peak: AtomicUsize,
    }

    impl Probe {
        fn new() -> Arc<Probe> {
            Arc::new(Probe {
                events: Mutex::new(Vec::new()),
                running: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
            })
        }
    }

    async fn exec(
        probe: Arc<Probe>,
        a: Action,
        fail: &'static [&'static str],
    ) -> Result<(), String> {
        probe.events.lock().unwrap().push(format!("start {}", a.id));
        let now = probe.running.fetch_add(1, Ordering::SeqCst) + 1;
        probe.peak.fetch_max(now, Ordering::SeqCst);
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        probe.running.fetch_sub(1, Ordering::SeqCst);
        probe
            .events
            .lock()
            .unwrap()
            .push(format!("finish {}", a.id));
        if fail.contains(&a.id.0.as_str()) {
            Err(format!("{} broke", a.id))
        } else {
            Ok(())
        }
    }

    #[tokio::test]
    async fn dependencies_finish_before_dependents_start() {
        let actions = vec![
            action("a", &[]),
            action("b", &["a"]),
            action("c", &["a"]),
            action("d", &["b", "c"]),
        ];
        let probe = Probe::new();
        let out = run(&actions, 4, false, |a| exec(probe.clone(), a.clone(), &[])).await;
        assert!(out.iter().all(|(_, o)| o.is_success()));
        let events = probe.events.lock().unwrap().clone();
        let at = |e: String| events.iter().position(|x| *x == e).unwrap();
        for a in &actions {
            for d in &a.depends_on {
                assert!(
                    at(format!("finish {d}")) < at(format!("start {}", a.id)),
                    "{} started before {d} finished: {events:?}",
                    a.id
                );
            }
        }
    }

    #[tokio::test]
    async fn parallelism_is_bounded_and_used() {
        let actions: Vec<Action> = (0..20).map(|i| action(&format!("x{i:02}"), &[])).collect();
        let probe = Probe::new();
        let out = run(&actions, 5, false, |a| exec(probe.clone(), a.clone(), &[])).await;
        assert_eq!(out.len(), 20);
        assert_eq!(probe.peak.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn a_failure_skips_its_dependents_and_spares_the_rest() {
        let actions = vec![
            action("a", &[]),
            action("b", &["a"]),
            action("c", &["b"]),
            action("x", &[]),
            action("y", &["x"]),
        ];
        let probe = Probe::new();
        let out = run(&actions, 2, false, |a| {
            exec(probe.clone(), a.clone(), &["a"])
        })
        .await;
        let by: BTreeMap<String, Outcome<()>> = out.into_iter().map(|(id, o)| (id.0, o)).collect();
        assert_eq!(by["a"], Outcome::Failed("a broke".into()));
        assert_eq!(
            by["b"],
            Outcome::Skipped {
                because: ActionId("a".into())
            }
        );
        assert_eq!(
            by["c"],
            Outcome::Skipped {
                because: ActionId("a".into())
            }
        );
        assert!(by["x"].is_success() && by["y"].is_success());
    }

    #[test]
    fn statuses_serialize_to_their_names() {
        for s in [
            ActionStatus::Succeeded,
            ActionStatus::Failed,
            ActionStatus::Skipped,
            ActionStatus::NotStarted,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.to_string(), s.as_str());
        }
        assert_eq!(ActionStatus::NotStarted.as_str(), "not-started");
    }

    #[tokio::test]
    async fn fail_fast_starts_nothing_new() {
        let actions = vec![action("a", &[]), action("b", &[]), action("c", &[])];
        let probe = Probe::new();
        let out = run(&actions, 1, true, |a| {
            exec(probe.clone(), a.clone(), &["a"])
        })
        .await;
        assert_eq!(out[0].1, Outcome::Failed("a broke".into()));
        assert_eq!(out[1].1, Outcome::NotStarted);
        assert_eq!(out[2].1, Outcome::NotStarted);
        assert_eq!(probe.events.lock().unwrap().len(), 2, "only `a` ran");
    }
}
