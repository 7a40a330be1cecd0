# The default policy for Sophia's GitHub governance (issue 16); see `fly.rego` for the
# conventions. Tests: `github_test.rego`.
package sophia

import rego.v1

# The protection of a repository's `main` (`github.repo.<owner>/<repo>.branch.main.protection`).
main_protection(address) if {
	startswith(address, "github.repo.")
	endswith(address, ".branch.main.protection")
}

# A pull request needs at least one approving review (GitHub's default count is 1 when the
# field is left out).
requires_review(protection) if {
	reviews := protection.required_pull_request_reviews
	is_object(reviews)
	object.get(reviews, "required_approving_review_count", 1) >= 1
}

deny contains msg if {
	some change in input.changes
	main_protection(change.address)
	change.action in {"create", "update", "replace"}
	not requires_review(change.after)
	msg := sprintf(
		"`%s` would let changes reach `main` without an approving review: set `required_pull_request_reviews` with `required_approving_review_count` of at least 1",
		[change.address],
	)
}

deny contains msg if {
	some change in input.changes
	main_protection(change.address)
	change.action in {"create", "update", "replace"}
	not change.after.enforce_admins == true
	msg := sprintf(
		"`%s` would let administrators bypass the protection of `main`: set `enforce_admins: true`",
		[change.address],
	)
}

deny contains msg if {
	some change in input.changes
	main_protection(change.address)
	change.action == "delete"
	msg := sprintf(
		"`%s` would be removed: `main` stays protected (a review and `enforce_admins`)",
		[change.address],
	)
}

# Deleting what a workflow depends on breaks it at its next run, and a deleted secret's
# value is gone: the approver is told, and one more person must agree.
repo_part(address, part) if {
	startswith(address, "github.repo.")
	contains(address, part)
}

warn contains msg if {
	some change in input.changes
	change.action == "delete"
	repo_part(change.address, ".secret.")
	msg := sprintf("`%s` would be deleted: the Actions secret and its value are gone for every workflow that reads it", [change.address])
}

warn contains msg if {
	some change in input.changes
	change.action == "delete"
	repo_part(change.address, ".environment.")
	msg := sprintf("`%s` would be deleted, with its protection rules, secrets and variables", [change.address])
}

warn contains msg if {
	some change in input.changes
	change.action == "update"
	repo_part(change.address, ".environment.")
	is_array(change.after.secrets)
	some name in object.get(change.before, "secrets", [])
	not name in change.after.secrets
	msg := sprintf("`%s` would lose its secret `%s`", [change.address, name])
}
