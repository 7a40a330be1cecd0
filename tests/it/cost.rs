//! The plan's monthly cost (issue 16): from the repository's price table, per app and in
//! total, in every rendering; drift posted to Slack once per new drift digest.

use serde_json::{Value, json};
use sophia::core::cost::{GuestSize, Money, PRICES_PATH, prices};

use crate::apply::Rig;
use crate::support::{Repo, project_root};

const DESIRED: &str = r#"
providers:
  fly: active
fly:
  org: pay-ready
  apps:
    api:
      image: registry.fly.io/api:v1
      regions: [ord]
      count: 2
      guest: { cpu_kind: performance, cpus: 2, memory_mb: 4096 }
"#;

/// The repository's price table.
fn table_text() -> String {
    std::fs::read_to_string(project_root().join(PRICES_PATH)).unwrap()
}

/// A repository with `desired`, the price table, and a live snapshot where the app's
/// machines number `live_count` (everything else as desired).
fn repo(desired: &str, live_count: u64, prices: &str) -> Repo {
    let repo = Repo::new();
    repo.file("desired/main.yaml", desired);
    repo.file(PRICES_PATH, prices);
    let d = crate::plan::load_yaml(&[("desired/main.yaml", desired)]);
    let mut resources = serde_json::Map::new();
    for (address, value) in sophia::core::lower::lower(&d) {
        resources.insert(address.to_string(), value);
    }
    resources["fly.app.api.machines"]["count"] = json!(live_count);
    let live = json!({"format": "sophia-live/v1", "taken_at": "2026-11-27T00:00:00Z", "resources": resources});
    repo.file("live.json", &serde_json::to_string_pretty(&live).unwrap());
    repo
}

#[test]
fn one_more_performance_2x_in_ord_costs_what_the_table_says() {
    // The hand computation, from the figures the table is made of (its header): a
    // performance vCPU costs $0.000012732 a second in iad, `ord` is 1.25 × iad, a month is
    // 2,592,000 s. performance-2x/4GB has 2 vCPUs and the 4 GB they include: 2 × 12,732
    // nano-dollars × 1.25 × 2,592,000 s = $82.50336, shown to the cent: $82.50.
    let nano_dollars = 2 * 12_732 * 2_592_000 * 125 / 100;
    let cents = (nano_dollars + 5_000_000) / 10_000_000;
    assert_eq!(cents, 8250);
    let table = prices::parse(PRICES_PATH, &table_text()).unwrap();
    let guest = GuestSize::parse("performance-2x/4GB").unwrap();
    assert_eq!(table.machine("ord", &guest), Some(Money(cents)));
    // One machine before, two after: the delta is one machine's month.
    let (before, after) = (cents, 2 * cents);
    let money = |c: i64| Money(c).to_string();
    assert_eq!(
        (money(before), money(after), money(after - before)),
        ("82.50".into(), "165.00".into(), "82.50".into())
    );

    let repo = repo(DESIRED, 1, &table_text());
    let out = repo.run(&["plan", "--live", "live.json", "--out", "plan.json"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "Monthly cost (USD, Fly prices of {}): 82.50 → 165.00 (+82.50)\n  fly.app.api: 82.50 → 165.00 (+82.50)\n",
            table.date
        )),
        "{}",
        out.stdout
    );

    let out = repo.run(&["show", "plan.json", "--format", "markdown"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("82.50 → 165.00 (+82.50)**"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("| `api` | 82.50 | 165.00 | +82.50 |\n| **total** | **82.50** | **165.00** | **+82.50** |"),
        "{}",
        out.stdout
    );

    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(repo.root().join("plan.json")).unwrap())
            .unwrap();
    assert_eq!(
        plan["cost"],
        json!({
            "currency": "USD",
            "before": "82.50", "after": "165.00", "delta": "82.50",
            "prices_date": table.date, "prices_source": table.source,
            "apps": {"api": {"before": "82.50", "after": "165.00", "delta": "82.50"}},
        })
    );
    // The cost is signed with the rest: editing it breaks the digest.
    let text = std::fs::read_to_string(repo.root().join("plan.json")).unwrap();
    repo.file("plan.json", &text.replace("\"165.00\"", "\"16.50\""));
    let out = repo.run(&["show", "plan.json"], &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("digest does not match"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_guest_size_the_table_lacks_is_a_warning_not_a_figure() {
    let desired = DESIRED.replace("cpus: 2, memory_mb: 4096", "cpus: 2, memory_mb: 6144");
    let repo = repo(&desired, 1, &table_text());
    let out = repo.run(&["plan", "--live", "live.json", "--out", "plan.json"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "warning: fly.app.api is left out of the cost: the price table has no price for \
             performance-2x/6GB in `ord`"
        ),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("0.00 → 0.00 (0.00)"), "{}", out.stdout);
}

#[test]
fn a_bad_price_table_is_an_error_with_its_position_and_no_plan() {
    let bad = table_text().replacen("gb_month = \"0.15\"", "gb_month = \"fifteen cents\"", 1);
    let line = bad.lines().position(|l| l.starts_with("gb_month")).unwrap() + 1;
    let repo = repo(DESIRED, 1, &bad);
    let out = repo.run(&["plan", "--live", "live.json", "--out", "plan.json"], &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains(&format!(
            ".infra/prices/fly.toml:{line}:12: `fifteen cents` is not an amount"
        )),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("hint: "), "{}", out.stderr);
    assert!(!repo.root().join("plan.json").exists());
}

/// The Slack messages the sandbox received, in order.
fn slack_messages(rig: &Rig) -> Vec<String> {
    rig.sandbox
        .with_world(|w| w.slack.messages.iter().map(|m| m.text.clone()).collect())
}

#[test]
fn drift_posts_to_slack_once_per_new_digest_security_first() {
    let rig = Rig::new();
    rig.repo.file(
        "desired/slack.yaml",
        "providers:\n  slack: active\nslack: { notify_channel: \"#infra\" }\n",
    );
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let before = slack_messages(&rig).len();

    // No drift: nothing posted.
    let out = rig.run(&["drift"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(slack_messages(&rig).len(), before);

    // Out of band: a hot-fixed image, and `main` no longer enforced for admins.
    rig.sandbox.with_world(|w| {
        for m in w.fly.apps.get_mut("app-two").unwrap().machines.values_mut() {
            m.config["image"] = json!("registry.fly.io/app-two:hotfix");
        }
        match w
            .github
            .repos
            .get_mut("acme/infra")
            .unwrap()
            .branches
            .get_mut("main")
        {
            Some(Some(p)) => p["enforce_admins"] = json!(false),
            _ => panic!("main should be protected"),
        }
    });
    let out = rig.run(&["drift"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("Notified Slack"), "{}", out.stderr);
    let messages = slack_messages(&rig);
    assert_eq!(messages.len(), before + 1, "{messages:?}");
    let first = &messages[before];
    assert!(first.starts_with("sophia drift: 2 change(s)"), "{first}");
    let security = first.find("Security-relevant:\n• ~ github.repo.acme/infra.branch.main.protection — branch protection (enforce_admins)");
    let other = first.find("Other drift:\n• ~ fly.app.app-two.machines (image)");
    assert!(
        matches!((security, other), (Some(s), Some(o)) if s < o),
        "security-relevant changes come first:\n{first}"
    );

    // The same drift again: not posted again.
    let out = rig.run(&["drift"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(!out.stderr.contains("Notified Slack"), "{}", out.stderr);
    assert_eq!(slack_messages(&rig).len(), before + 1);

    // More drift — a secret deleted behind sophia's back — is a new digest: posted once.
    rig.sandbox.with_world(|w| {
        w.github
            .repos
            .get_mut("acme/infra")
            .unwrap()
            .secrets
            .remove("ONE_SECRET");
    });
    let out = rig.run(&["drift"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = rig.run(&["drift"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let messages = slack_messages(&rig);
    assert_eq!(messages.len(), before + 2, "{messages:?}");
    let second = &messages[before + 1];
    assert!(second.starts_with("sophia drift: 3 change(s)"), "{second}");
    assert!(
        second.contains("Security-relevant:\n• ~ github.repo.acme/infra.branch.main.protection")
            && second.contains("• + github.repo.acme/infra.secret.ONE_SECRET — secrets"),
        "{second}"
    );
    assert!(
        second.find("ONE_SECRET").unwrap() < second.find("Other drift:").unwrap(),
        "{second}"
    );
    // Names only: no value of any secret.
    assert!(messages.iter().all(|m| !m.contains(crate::apply::CANARY)));
}
