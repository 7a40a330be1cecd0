//! The Machines API's checks of a machine config's services, checks and mounts (its 400
//! `invalid config: …` answers): ports in range, `tcp`/`udp` services, known handlers, checks
//! of type `tcp` or `http` with a port, mounts with a path.

use serde_json::Value;

/// The handlers Fly's proxy knows.
const HANDLERS: [&str; 5] = ["http", "tls", "pg_tls", "proxy_proto", "edge_http"];

fn port_ok(v: &Value) -> bool {
    v.as_u64().is_some_and(|p| (1..=65535).contains(&p))
}

/// `Err(message)` for the first thing the Machines API would refuse.
pub(super) fn machine_config(config: &Value) -> Result<(), String> {
    for (i, s) in config
        .get("services")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        match s.get("protocol").and_then(Value::as_str) {
            Some("tcp" | "udp") => {}
            other => {
                return Err(format!(
                    "services[{i}].protocol {other:?} is not tcp or udp"
                ));
            }
        }
        if !s.get("internal_port").is_some_and(port_ok) {
            return Err(format!("services[{i}].internal_port must be 1-65535"));
        }
        for (j, p) in s
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let single = p.get("port").is_some_and(port_ok);
            let range =
                p.get("start_port").is_some_and(port_ok) && p.get("end_port").is_some_and(port_ok);
            if !single && !range {
                return Err(format!(
                    "services[{i}].ports[{j}] needs a port or a start_port/end_port range"
                ));
            }
            for h in p
                .get("handlers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if !h.as_str().is_some_and(|h| HANDLERS.contains(&h)) {
                    return Err(format!("services[{i}].ports[{j}]: unknown handler {h}"));
                }
            }
        }
    }
    for (name, c) in config
        .get("checks")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if !matches!(c.get("type").and_then(Value::as_str), Some("tcp" | "http")) {
            return Err(format!("checks.{name}.type must be tcp or http"));
        }
        if !c.get("port").is_some_and(port_ok) {
            return Err(format!("checks.{name}.port must be 1-65535"));
        }
    }
    for (i, m) in config
        .get("mounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if !m
            .get("path")
            .and_then(Value::as_str)
            .is_some_and(|p| p.starts_with('/'))
        {
            return Err(format!("mounts[{i}].path must be an absolute path"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_the_machines_api_refuses() {
        let ok = json!({"services": [{"protocol": "tcp", "internal_port": 8080,
            "ports": [{"port": 80, "handlers": ["http"]}, {"port": 443, "handlers": ["http", "tls"]}]}],
            "checks": {"alive": {"type": "tcp", "port": 8080}},
            "mounts": [{"name": "data", "path": "/data"}]});
        assert_eq!(machine_config(&ok), Ok(()));
        for bad in [
            json!({"services": [{"protocol": "sctp", "internal_port": 8080}]}),
            json!({"services": [{"protocol": "tcp", "internal_port": 0}]}),
            json!({"services": [{"protocol": "tcp", "internal_port": 1, "ports": [{"handlers": ["http"]}]}]}),
            json!({"services": [{"protocol": "tcp", "internal_port": 1, "ports": [{"port": 80, "handlers": ["gopher"]}]}]}),
            json!({"checks": {"x": {"type": "script", "port": 1}}}),
            json!({"checks": {"x": {"type": "tcp"}}}),
            json!({"mounts": [{"name": "data", "path": "data"}]}),
        ] {
            assert!(machine_config(&bad).is_err(), "{bad}");
        }
    }
}
