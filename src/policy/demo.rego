# The demo's policy: every plan is judged by the Rego files of .infra/policy/ (the
# repository ships a fuller one). A `deny` fails the plan; a `warn` needs one more signer.
package sophia

deny contains msg if {
	some change in input.changes
	endswith(change.address, ".branch.main.protection")
	not change.after.enforce_admins == true
	msg := sprintf("`%s` would let administrators bypass the protection of `main`", [change.address])
}

deny contains msg if {
	some change in input.changes
	endswith(change.address, ".machines")
	object.get(change.after, "count", 1) < 1
	msg := sprintf("`%s` would run no machine", [change.address])
}
