# Tests of `github.rego`.
package sophia_test

import rego.v1

import data.sophia

main := "github.repo.ai-cherry/sophia-intel-ai.branch.main.protection"

protection(action, after) := {"changes": [{
	"address": main,
	"action": action,
	"before": null,
	"after": after,
	"diff": [],
}]}

good := {
	"enforce_admins": true,
	"required_pull_request_reviews": {"required_approving_review_count": 1},
	"required_status_checks": null,
	"restrictions": null,
}

test_a_reviewed_enforced_main_passes if {
	count(sophia.deny) == 0 with input as protection("create", good)
}

test_the_default_review_count_is_a_review if {
	count(sophia.deny) == 0 with input as protection("update", object.union(good, {"required_pull_request_reviews": {"require_code_owner_reviews": true}}))
}

test_no_reviews_is_denied if {
	some msg in sophia.deny with input as protection("update", object.union(good, {"required_pull_request_reviews": null}))
	contains(msg, "without an approving review")
}

test_zero_reviews_is_denied if {
	count(sophia.deny) == 1 with input as protection("update", object.union(good, {"required_pull_request_reviews": {"required_approving_review_count": 0}}))
}

test_admins_bypassing_is_denied if {
	some msg in sophia.deny with input as protection("update", object.union(good, {"enforce_admins": false}))
	contains(msg, "set `enforce_admins: true`")
}

test_both_failures_are_reported if {
	count(sophia.deny) == 2 with input as protection("create", {"enforce_admins": null, "required_pull_request_reviews": null})
}

test_removing_main_protection_is_denied if {
	some msg in sophia.deny with input as protection("delete", null)
	contains(msg, "would be removed")
}

test_other_branches_are_not_judged if {
	count(sophia.deny) == 0 with input as {"changes": [{
		"address": "github.repo.ai-cherry/sophia-intel-ai.branch.dev.protection",
		"action": "create",
		"before": null,
		"after": {"enforce_admins": false, "required_pull_request_reviews": null},
		"diff": [],
	}]}
}

change(address, action, before, after) := {"changes": [{
	"address": address,
	"action": action,
	"before": before,
	"after": after,
	"diff": [],
}]}

test_deleting_an_actions_secret_warns if {
	some msg in sophia.warn with input as change("github.repo.o/r.secret.FLY_API_TOKEN", "delete", {}, null)
	contains(msg, "`github.repo.o/r.secret.FLY_API_TOKEN` would be deleted")
	count(sophia.deny) == 0 with input as change("github.repo.o/r.secret.FLY_API_TOKEN", "delete", {}, null)
}

test_creating_an_actions_secret_does_not_warn if {
	count(sophia.warn) == 0 with input as change("github.repo.o/r.secret.FLY_API_TOKEN", "create", null, {})
}

test_deleting_an_environment_warns if {
	some msg in sophia.warn with input as change("github.repo.o/r.environment.production", "delete", {"reviewers": []}, null)
	contains(msg, "`github.repo.o/r.environment.production` would be deleted")
}

test_removing_an_environment_secret_warns if {
	some msg in sophia.warn with input as change(
		"github.repo.o/r.environment.production",
		"update",
		{"reviewers": [], "secrets": ["A", "B"]},
		{"reviewers": [], "secrets": ["B"]},
	)
	msg == "`github.repo.o/r.environment.production` would lose its secret `A`"
}

test_an_environment_with_unmanaged_secrets_does_not_warn if {
	count(sophia.warn) == 0 with input as change(
		"github.repo.o/r.environment.production",
		"update",
		{"reviewers": [], "secrets": ["A"]},
		{"reviewers": [{"type": "User", "login": "x"}]},
	)
}
