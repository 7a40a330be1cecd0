//! The built-in check of sophia's own gate: the GitHub environment that runs `sophia apply`
//! (`production` unless `.infra/sophia.toml` says `apply_environment`) is what makes a human
//! approve each apply. A plan warns when, once applied, that environment would have no
//! required reviewers, or would let the person who started a deployment approve it.
//!
//! The state after apply is what desired sets, over what live has (GitHub's defaults where
//! neither says: no self-review prevention).

use serde_json::Value;

use crate::core::address::Address;
use crate::core::desired::{Desired, GithubDesired, RepoDesired};
use crate::core::live::LiveSnapshot;
use crate::core::lower::Expected;

/// The environment that runs apply when the settings name none.
pub const DEFAULT_APPLY_ENVIRONMENT: &str = "production";

/// The part of `desired` [`warnings`] reads: the environments named `env_name` (and the
/// providers' activations), so that the check lowers a handful of environments rather than
/// the whole desired state a second time.
pub fn scope(desired: &Desired, env_name: &str) -> Desired {
    let repos = desired
        .github
        .iter()
        .flat_map(|g| &g.repos)
        .filter_map(|(name, repo)| {
            let environments: std::collections::BTreeMap<_, _> = repo
                .environments
                .iter()
                .filter(|(env, _)| env.eq_ignore_ascii_case(env_name))
                .map(|(env, e)| (env.clone(), e.clone()))
                .collect();
            (!environments.is_empty()).then(|| {
                (
                    name.clone(),
                    RepoDesired {
                        environments,
                        ..RepoDesired::default()
                    },
                )
            })
        })
        .collect();
    Desired {
        providers: desired.providers.clone(),
        github: desired.github.as_ref().map(|_| GithubDesired {
            orgs: Default::default(),
            repos,
        }),
        ..Desired::default()
    }
}

/// One warning per weakness of every managed environment named `env_name` (GitHub compares
/// environment names without case).
pub fn warnings(expected: &Expected, live: &LiveSnapshot, env_name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (address, want) in expected {
        let Address::GithubEnvironment { repo, env } = address else {
            continue;
        };
        if !env.eq_ignore_ascii_case(env_name) || want.is_null() {
            continue;
        }
        let have = live.get(address);
        let after = |key: &str| -> Option<&Value> {
            want.get(key)
                .or_else(|| have.and_then(|h| h.get(key)))
                .filter(|v| !v.is_null())
        };
        let reviewers = after("reviewers")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if reviewers == 0 {
            out.push(format!(
                "the environment `{env}` of {repo} runs `sophia apply` but would have no \
                 required reviewers: any run on an allowed branch could apply unapproved"
            ));
        } else if after("prevent_self_review").and_then(Value::as_bool) != Some(true) {
            out.push(format!(
                "the environment `{env}` of {repo} runs `sophia apply` but would allow \
                 self-review: whoever starts a deployment could approve it (set \
                 `prevent_self_review: true`)"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(name: &str) -> Address {
        Address::GithubEnvironment {
            repo: "o/r".into(),
            env: name.into(),
        }
    }

    #[test]
    fn a_gate_without_reviewers_or_allowing_self_review_warns() {
        let live = LiveSnapshot::new("t");
        let mut expected = Expected::new();
        expected.insert(env("production"), json!({"reviewers": []}));
        expected.insert(env("staging"), json!({"reviewers": []}));
        let w = warnings(&expected, &live, DEFAULT_APPLY_ENVIRONMENT);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("no required reviewers"), "{w:?}");

        expected.insert(
            env("production"),
            json!({"reviewers": [{"type": "User", "login": "ceo"}]}),
        );
        let w = warnings(&expected, &live, "Production");
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("self-review"), "{w:?}");

        // Live already prevents self-review and desired leaves it: the gate holds.
        let mut live = LiveSnapshot::new("t");
        live.resources.insert(
            env("production"),
            json!({"reviewers": [{"type": "User", "login": "ceo"}], "prevent_self_review": true}),
        );
        assert_eq!(
            warnings(&expected, &live, "production"),
            Vec::<String>::new()
        );
    }
}
