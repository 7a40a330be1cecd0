//! The cache against a real Redis (127.0.0.1:6379). Tests use keys under their own prefix
//! and restore every configuration parameter they change.

use serde_json::json;
use sophia::core::address::Address;
use sophia::core::plan::{Action, ActionId};
use sophia::providers::redis::RedisProvider;

/// The server every Redis test uses (override with `SOPHIA_TEST_REDIS`).
pub fn redis_url() -> String {
    std::env::var("SOPHIA_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "Redis is not reachable at {} ({e}): these tests need a running server \
                 (set SOPHIA_TEST_REDIS to another one)",
                redis_url()
            )
        })
}

fn set_action(key: &str, value: &str) -> Action {
    let address = Address::RedisConfig { key: key.into() };
    Action {
        id: ActionId(format!("redis.config.set:{address}")),
        address,
        kind: "redis.config.set".parse().unwrap(),
        params: json!({ "key": key, "value": value }),
        depends_on: vec![],
    }
}

#[tokio::test]
async fn ping_and_info_describe_the_server() {
    let mut con = raw().await;
    let prefix = format!("sophia-it:{}:", std::process::id());
    let key = format!("{prefix}info");
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("1")
        .query_async(&mut con)
        .await
        .unwrap();

    let p = RedisProvider::from_url(&redis_url()).unwrap();
    let ping = p.ping().await.unwrap();
    assert_eq!(ping["reply"], "PONG");
    assert!(ping["round_trip_ms"].as_f64().unwrap() >= 0.0);

    let (text, results) = p
        .op("info", &json!({ "sections": ["server", "keyspace"] }))
        .await
        .unwrap();
    assert!(text.starts_with("Redis "), "{text}");
    let info = &results[0];
    assert!(info["server"]["redis_version"].is_string());
    assert!(
        info["keyspace"]["db0"]
            .as_str()
            .unwrap()
            .starts_with("keys=")
    );
    assert!(info.get("memory").is_none(), "only the sections asked for");

    let err = p.info(&["commandstats".into()]).await.unwrap_err();
    assert_eq!(err.code, "invalid-input");
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut con)
        .await
        .unwrap();
}

#[tokio::test]
async fn config_is_refreshed_and_set_idempotently() {
    // `slowlog-max-len` only sizes the slow log: changing it briefly disturbs nothing.
    let key = "slowlog-max-len";
    let mut con = raw().await;
    let original: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(key)
        .query_async(&mut con)
        .await
        .unwrap();
    let original = original[1].clone();
    let target = if original == "129" { "130" } else { "129" };

    let p = RedisProvider::from_url(&redis_url()).unwrap();
    let address = Address::RedisConfig { key: key.into() };
    let missing = Address::RedisConfig {
        key: "no-such-parameter".into(),
    };
    let live = p
        .refresh(&[address.clone(), missing.clone()])
        .await
        .unwrap();
    assert_eq!(live[&address], json!({ "value": original }));
    assert!(
        !live.contains_key(&missing),
        "an unknown parameter is absent"
    );

    for _ in 0..2 {
        let out = p.execute(&set_action(key, target)).await;
        assert!(out.is_success(), "{out:?}");
    }
    let live = p.refresh(std::slice::from_ref(&address)).await.unwrap();
    assert_eq!(live[&address], json!({ "value": target }));

    let out = p.execute(&set_action(key, &original)).await;
    assert!(out.is_success(), "restoring: {out:?}");
}

#[tokio::test]
async fn credential_parameters_are_never_read_or_set() {
    let p = RedisProvider::from_url(&redis_url()).unwrap();
    let err = p
        .refresh(&[Address::RedisConfig {
            key: "requirepass".into(),
        }])
        .await
        .unwrap_err();
    assert_eq!(err.code, "invalid-input");
    let out = p.execute(&set_action("requirepass", "x")).await;
    assert!(!out.is_success());
    assert_eq!(out.errors[0].code, "invalid-input");
    let out = p
        .execute(&set_action("maxmemory-policy", "not-a-policy"))
        .await;
    assert_eq!(out.errors[0].code, "command-failed", "{out:?}");
}

#[tokio::test]
async fn an_unreachable_server_fails_cleanly_without_the_password() {
    let p = RedisProvider::from_url("redis://:s3cr3t-pw@127.0.0.1:1").unwrap();
    let err = p.ping().await.unwrap_err();
    assert_eq!(err.code, "connection-failed", "{err:?}");
    assert!(err.message.contains("REDIS_URL"), "{}", err.message);
    assert!(!err.message.contains("s3cr3t-pw"), "{}", err.message);
}
