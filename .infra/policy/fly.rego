# The default policy for Sophia's Fly.io apps (issue 16). `sophia plan` judges every plan by
# the `.rego` files of this folder, with conftest's conventions: a `deny` fails the plan, a
# `warn` is shown and needs one more distinct signer. `input` is the plan file (`changes`,
# `actions`, `cost`, …) with the normalized desired state as `input.desired` (address →
# object). Tests: `fly_test.rego`, run by `sophia policy test`.
package sophia

import rego.v1

# Every Fly app is production (Sophia has no staging on Fly): one machine is one host
# failure, or one deploy, away from an outage. Fly's own default for an app with services
# is two machines.
min_machines := 2

# The apps allowed fewer machines, each with why. Take an app out when it scales out; a
# new app is held to `min_machines` until it is listed here through a reviewed change.
fewer_machines_allowed := {
	"sophiaai-mcp-repo-v2": "MCP server called only by the dashboard, which retries; stateless",
	"sophiaai-mcp-research-v2": "MCP server called only by the dashboard, which retries; stateless",
	"sophiaai-mcp-context-v2": "MCP server called only by the dashboard, which retries; stateless",
}

# The changes that leave something in place (not deletes).
kept := {"create", "update", "replace"}

# The machines of an app the plan creates or changes (`fly.app.<app>.machines`, or one
# process group's `fly.app.<app>.process.<group>`): the app's name.
machines_app(address) := app if {
	startswith(address, "fly.app.")
	endswith(address, ".machines")
	app := trim_suffix(trim_prefix(address, "fly.app."), ".machines")
}

machines_app(address) := app if {
	parts := split(trim_prefix(address, "fly.app."), ".process.")
	startswith(address, "fly.app.")
	count(parts) == 2
	app := parts[0]
}

deny contains msg if {
	some change in input.changes
	change.action in kept
	app := machines_app(change.address)
	not fewer_machines_allowed[app]
	machines := object.get(change.after, "count", 1)
	machines < min_machines
	msg := sprintf(
		"`%s` would run %d machine(s): production apps run at least %d (set `count: %d` for `%s` in desired/)",
		[change.address, machines, min_machines, min_machines, app],
	)
}

# An image is pinned when it names its digest: `name@sha256:<64 hex>`. `sophia plan`
# resolves a tag to its digest in Fly's registry, so the plan (and so the signature) names
# the exact bytes; an image that is still a tag here could change after approval.
pinned(image) if {
	parts := split(image, "@sha256:")
	count(parts) == 2
	count(parts[1]) == 64
}

deny contains msg if {
	some change in input.changes
	change.action in kept
	machines_app(change.address)
	image := change.after.image
	not pinned(image)
	msg := sprintf(
		"`%s` would deploy `%s`, which is not pinned by digest: deploy `name@sha256:…` so that what runs is what was approved",
		[change.address, image],
	)
}
