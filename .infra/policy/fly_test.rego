# Tests of `fly.rego`: `sophia policy test` runs every `test_*` rule (as `opa test` does).
package sophia_test

import rego.v1

import data.sophia

digest := "sha256:0f3ad5a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d"

pinned_image := concat("", ["registry.fly.io/web@", digest])

machines(app, action, after) := {"changes": [{
	"address": sprintf("fly.app.%s.machines", [app]),
	"action": action,
	"before": null,
	"after": after,
	"diff": [],
}]}

test_two_pinned_machines_pass if {
	count(sophia.deny) == 0 with input as machines("web", "create", {"count": 2, "image": pinned_image})
}

test_one_machine_is_denied if {
	some msg in sophia.deny with input as machines("web", "update", {"count": 1, "image": pinned_image})
	contains(msg, "`fly.app.web.machines` would run 1 machine(s)")
}

test_no_count_means_one_machine if {
	count(sophia.deny) == 1 with input as machines("web", "create", {"image": pinned_image})
}

test_scaling_to_zero_is_denied if {
	count(sophia.deny) == 1 with input as machines("web", "update", {"count": 0, "image": pinned_image})
}

test_each_process_group_runs_two if {
	some msg in sophia.deny with input as {"changes": [{
		"address": "fly.app.web.process.worker",
		"action": "create",
		"before": null,
		"after": {"count": 1, "image": pinned_image},
		"diff": [],
	}]}
	contains(msg, "`fly.app.web.process.worker` would run 1 machine(s)")
}

test_listed_apps_may_run_one_machine if {
	count(sophia.deny) == 0 with input as machines("sophiaai-mcp-repo-v2", "create", {"count": 1, "image": pinned_image})
}

test_deleting_machines_is_not_judged_here if {
	count(sophia.deny) == 0 with input as machines("web", "delete", null)
}

test_a_tag_is_denied if {
	some msg in sophia.deny with input as machines("web", "create", {"count": 2, "image": "registry.fly.io/web:v1"})
	contains(msg, "`registry.fly.io/web:v1`, which is not pinned by digest")
}

test_a_short_digest_is_not_a_pin if {
	count(sophia.deny) == 1 with input as machines("web", "create", {"count": 2, "image": "registry.fly.io/web@sha256:abc"})
}

test_a_tag_with_its_digest_is_pinned if {
	count(sophia.deny) == 0 with input as machines("web", "create", {"count": 2, "image": concat("", ["registry.fly.io/web:v1@", digest])})
}

test_an_unmanaged_image_is_not_judged if {
	count(sophia.deny) == 0 with input as machines("web", "update", {"count": 2})
}

test_other_resources_are_not_machines if {
	count(sophia.deny) == 0 with input as {"changes": [{
		"address": "fly.app.web.secrets",
		"action": "create",
		"before": null,
		"after": {"names": ["A"]},
		"diff": [],
	}]}
}
