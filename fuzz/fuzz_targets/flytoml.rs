//! The `fly.toml` importer, then what the shell does with an import: merge it into an app
//! (YAML fields win) and plan that app against an empty live snapshot.

#![no_main]

use chrono::{TimeZone as _, Utc};
use libfuzzer_sys::fuzz_target;
use sophia::core::desired::{self, Desired, FlyApp, FlyDesired, flytoml};
use sophia::core::live::LiveSnapshot;
use sophia::core::plan::{self, PlanOptions};
use sophia::core::render;

fuzz_target!(|data: &[u8]| {
    // The shell reads fly.toml with `read_to_string`: non-UTF-8 never reaches the importer.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let imported = match flytoml::import("apps/x/fly.toml", text) {
        Ok(i) => i,
        Err(e) => {
            assert!(e.line >= 1 || e.field.is_none(), "located nowhere: {e}");
            let _ = e.to_string();
            return;
        }
    };
    let mut app = FlyApp {
        config: Some("apps/x/fly.toml".to_string()),
        ..FlyApp::default()
    };
    desired::apply_fly_config(&mut app, &imported);
    let name = imported
        .app
        .clone()
        .unwrap_or_else(|| "fuzz-app".to_string());
    let state = Desired {
        fly: Some(FlyDesired {
            org: Some("pay-ready".to_string()),
            apps: [(name, app)].into_iter().collect(),
        }),
        ..Desired::default()
    };
    let opts = PlanOptions {
        tool_version: "0.0.0-fuzz".to_string(),
        tool_source: String::new(),
        created_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        ttl: chrono::Duration::hours(plan::DEFAULT_TTL_HOURS),
        nonce: "fuzz".to_string(),
        git_commit: None,
        git_dirty: false,
        targets: Vec::new(),
        prices: None,
    };
    if let Ok(p) = plan::build(&state, &LiveSnapshot::new("2026-01-01T00:00:00Z"), &opts) {
        let _ = render::text::render(&p, false);
        let _ = render::json::render(&p);
    }
});
