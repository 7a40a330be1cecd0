//! The SaaS providers, each under its own prefix with its real auth header and shapes:
//!
//! | provider | auth | endpoints |
//! |---|---|---|
//! | Portkey | `x-portkey-api-key` | `POST /portkey/v1/chat/completions` (OpenAI-shaped), `GET /portkey/v1/models` |
//! | Tavily | `Authorization: Bearer` or `api_key` in the body | `POST /tavily/search` |
//! | Serper | `X-API-KEY` | `POST /serper/search` |
//! | Qdrant | `api-key` (or `Authorization: Bearer`) | `GET /qdrant/`, `GET /qdrant/collections`, `GET`/`PUT`/`DELETE /qdrant/collections/{name}` |
//! | Mem0 | `Authorization: Token` | `GET /mem0/v1/ping/`, `GET`/`POST /mem0/v1/memories/` |
//! | Slack | `Authorization: Bearer` | `POST /slack/api/auth.test`, `POST /slack/api/chat.postMessage` |
//! | Gong | `Authorization: Basic` (access key : secret) | `GET /gong/v2/users` |
//! | Lambda | `Authorization: Bearer` (or Basic, key as user) | `GET /lambda/api/v1/instances` |
//!
//! Answers are deterministic: a search returns results derived from the query, a completion
//! echoes the last user message.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::{Value, json};

use super::Shared;
use super::gate::{Caller, Provider, json_response, parse_json};
use super::state::{Collection, Memory, SlackMessage, now};

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/portkey/v1/chat/completions", post(portkey_chat))
        .route("/portkey/v1/models", get(portkey_models))
        .route("/tavily/search", post(tavily_search))
        .route("/serper/search", post(serper_search))
        .route("/qdrant", get(qdrant_root))
        .route("/qdrant/", get(qdrant_root))
        .route("/qdrant/collections", get(qdrant_list))
        .route(
            "/qdrant/collections/{name}",
            get(qdrant_get).put(qdrant_create).delete(qdrant_delete),
        )
        .route("/mem0/v1/ping/", get(mem0_ping))
        .route("/mem0/v1/ping", get(mem0_ping))
        .route("/mem0/v1/memories/", get(mem0_list).post(mem0_add))
        .route("/mem0/v1/memories", get(mem0_list).post(mem0_add))
        .route(
            "/slack/api/auth.test",
            post(slack_auth_test).get(slack_auth_test),
        )
        .route("/slack/api/chat.postMessage", post(slack_post_message))
        .route("/gong/v2/users", get(gong_users))
        .route("/lambda/api/v1/instances", get(lambda_instances))
}

fn body_json(provider: Provider, bytes: &Bytes) -> Result<Value, Response> {
    parse_json(provider, bytes)
}

// ---------------------------------------------------------------- Portkey

async fn portkey_chat(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let p = Provider::Portkey;
    let body = match body_json(p, &body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return p.error(StatusCode::BAD_REQUEST, "messages is required");
    };
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("gpt-4o-mini")
        .to_string();
    let last = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .and_then(|m| m.get("content"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let reply = format!(
        "sandbox reply to: {}",
        last.chars().take(200).collect::<String>()
    );
    let prompt_tokens = messages
        .iter()
        .filter_map(|m| m.get("content").and_then(Value::as_str))
        .map(|c| c.split_whitespace().count())
        .sum::<usize>();
    let completion_tokens = reply.split_whitespace().count();
    let id = shared.world().hex_id(24);
    json_response(
        StatusCode::OK,
        json!({
            "id": format!("chatcmpl-{id}"),
            "object": "chat.completion",
            "created": chrono::Utc::now().timestamp(),
            "model": model,
            "provider": "openai",
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": reply },
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }),
    )
}

async fn portkey_models(State(shared): State<Arc<Shared>>) -> Response {
    let world = shared.world();
    let data: Vec<Value> = world
        .portkey
        .models
        .iter()
        .map(|m| json!({ "id": m, "object": "model", "owned_by": "portkey" }))
        .collect();
    json_response(StatusCode::OK, json!({ "object": "list", "data": data }))
}

// ---------------------------------------------------------------- research

fn query_slug(q: &str) -> String {
    q.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// Tavily returns at most 20 results; 5 by default.
const TAVILY_DEFAULT_RESULTS: u64 = 5;
const TAVILY_MAX_RESULTS: u64 = 20;

async fn tavily_search(body: Bytes) -> Response {
    let p = Provider::Tavily;
    let body = match body_json(p, &body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(query) = body
        .get("query")
        .and_then(Value::as_str)
        .filter(|q| !q.trim().is_empty())
    else {
        return p.error(StatusCode::BAD_REQUEST, "Query is missing.");
    };
    let n = body
        .get("max_results")
        .and_then(Value::as_u64)
        .unwrap_or(TAVILY_DEFAULT_RESULTS)
        .min(TAVILY_MAX_RESULTS);
    let slug = query_slug(query);
    let results: Vec<Value> = (1..=n)
        .map(|i| {
            json!({
                "title": format!("{query} — result {i}"),
                "url": format!("https://example.com/{slug}/{i}"),
                "content": format!("Sandbox result {i} for \"{query}\"."),
                "score": 1.0 - (i as f64) / 100.0,
                "raw_content": null,
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        json!({
            "query": query,
            "follow_up_questions": null,
            "answer": null,
            "images": [],
            "results": results,
            "response_time": 0.01,
        }),
    )
}

/// Serper returns 10 organic results by default, at most 100.
const SERPER_DEFAULT_RESULTS: u64 = 10;
const SERPER_MAX_RESULTS: u64 = 100;

async fn serper_search(body: Bytes) -> Response {
    let p = Provider::Serper;
    let body = match body_json(p, &body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(q) = body
        .get("q")
        .and_then(Value::as_str)
        .filter(|q| !q.trim().is_empty())
    else {
        return p.error(StatusCode::BAD_REQUEST, "Missing query parameter");
    };
    let n = body
        .get("num")
        .and_then(Value::as_u64)
        .unwrap_or(SERPER_DEFAULT_RESULTS)
        .min(SERPER_MAX_RESULTS);
    let slug = query_slug(q);
    let organic: Vec<Value> = (1..=n)
        .map(|i| {
            json!({
                "title": format!("{q} — result {i}"),
                "link": format!("https://example.com/{slug}/{i}"),
                "snippet": format!("Sandbox result {i} for \"{q}\"."),
                "position": i,
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        json!({
            "searchParameters": { "q": q, "type": "search", "engine": "google", "num": n },
            "organic": organic,
            "credits": 1,
        }),
    )
}

// ---------------------------------------------------------------- Qdrant

fn qdrant_ok(result: Value) -> Response {
    json_response(
        StatusCode::OK,
        json!({ "result": result, "status": "ok", "time": 0.000_1 }),
    )
}

async fn qdrant_root() -> Response {
    json_response(
        StatusCode::OK,
        json!({ "title": "qdrant - vector search engine", "version": "1.12.0" }),
    )
}

async fn qdrant_list(State(shared): State<Arc<Shared>>) -> Response {
    let world = shared.world();
    let names: Vec<Value> = world
        .qdrant
        .collections
        .keys()
        .map(|n| json!({ "name": n }))
        .collect();
    qdrant_ok(json!({ "collections": names }))
}

async fn qdrant_get(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    let world = shared.world();
    let Some(c) = world.qdrant.collections.get(&name) else {
        return Provider::Qdrant.error(
            StatusCode::NOT_FOUND,
            &format!("Not found: Collection `{name}` doesn't exist!"),
        );
    };
    qdrant_ok(json!({
        "status": "green",
        "optimizer_status": "ok",
        "indexed_vectors_count": 0,
        "points_count": 0,
        "segments_count": 1,
        "config": {
            "params": {
                "vectors": { "size": c.size, "distance": c.distance },
                "shard_number": 1,
                "replication_factor": 1,
                "write_consistency_factor": 1,
                "on_disk_payload": true,
            },
            "hnsw_config": { "m": 16, "ef_construct": 100, "full_scan_threshold": 10000, "max_indexing_threads": 0, "on_disk": false },
            "optimizer_config": { "deleted_threshold": 0.2, "vacuum_min_vector_number": 1000, "default_segment_number": 0, "max_segment_size": null, "memmap_threshold": null, "indexing_threshold": 20000, "flush_interval_sec": 5, "max_optimization_threads": null },
            "wal_config": { "wal_capacity_mb": 32, "wal_segments_ahead": 0 },
            "quantization_config": null,
        },
        "payload_schema": {},
    }))
}

/// Qdrant's distance names.
const DISTANCES: [&str; 4] = ["Cosine", "Euclid", "Dot", "Manhattan"];

async fn qdrant_create(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let p = Provider::Qdrant;
    let body = match body_json(p, &body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let vectors = body.get("vectors");
    let size = vectors.and_then(|v| v.get("size")).and_then(Value::as_u64);
    let distance = vectors
        .and_then(|v| v.get("distance"))
        .and_then(Value::as_str);
    let (Some(size), Some(distance)) = (size, distance) else {
        return p.error(
            StatusCode::BAD_REQUEST,
            "Wrong input: vectors.size and vectors.distance are required",
        );
    };
    if !DISTANCES.contains(&distance) || size == 0 {
        return p.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Wrong input: unknown distance `{distance}` or size 0"),
        );
    }
    let mut world = shared.world();
    if world.qdrant.collections.contains_key(&name) {
        return p.error(
            StatusCode::CONFLICT,
            &format!("Wrong input: Collection `{name}` already exists!"),
        );
    }
    world.qdrant.collections.insert(
        name,
        Collection {
            size,
            distance: distance.into(),
        },
    );
    qdrant_ok(json!(true))
}

async fn qdrant_delete(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    let removed = shared.world().qdrant.collections.remove(&name).is_some();
    qdrant_ok(json!(removed))
}

// ---------------------------------------------------------------- Mem0

async fn mem0_ping() -> Response {
    json_response(
        StatusCode::OK,
        json!({ "status": "ok", "org_id": "org_sandbox", "project_id": "proj_sandbox", "user_email": "sandbox@sophia.invalid" }),
    )
}

#[derive(serde::Deserialize)]
struct Mem0Query {
    user_id: Option<String>,
}

fn memory_json(m: &Memory) -> Value {
    json!({
        "id": m.id,
        "memory": m.memory,
        "user_id": m.user_id,
        "metadata": null,
        "categories": [],
        "created_at": m.created_at,
        "updated_at": m.created_at,
    })
}

async fn mem0_list(State(shared): State<Arc<Shared>>, Query(q): Query<Mem0Query>) -> Response {
    let world = shared.world();
    let out: Vec<Value> = world
        .mem0
        .memories
        .iter()
        .filter(|m| q.user_id.as_ref().is_none_or(|u| *u == m.user_id))
        .map(memory_json)
        .collect();
    json_response(StatusCode::OK, Value::Array(out))
}

async fn mem0_add(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let p = Provider::Mem0;
    let body = match body_json(p, &body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({ "messages": ["This field is required."] }),
        );
    };
    let user_id = body
        .get("user_id")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_string();
    let mut world = shared.world();
    let mut events = Vec::new();
    for m in messages {
        let Some(text) = m.get("content").and_then(Value::as_str) else {
            continue;
        };
        let id = world.uuid();
        let memory = Memory {
            id: id.clone(),
            user_id: user_id.clone(),
            memory: text.into(),
            created_at: now(),
        };
        events.push(json!({ "id": id, "event": "ADD", "data": { "memory": text } }));
        world.mem0.memories.push(memory);
    }
    json_response(StatusCode::OK, Value::Array(events))
}

// ---------------------------------------------------------------- Slack

async fn slack_auth_test(State(shared): State<Arc<Shared>>) -> Response {
    let world = shared.world();
    json_response(
        StatusCode::OK,
        json!({
            "ok": true,
            "url": "https://sophia-ai.slack.com/",
            "team": world.slack.team,
            "user": "sophia-bot",
            "team_id": "T0SANDBOX",
            "user_id": "U0SANDBOX",
            "bot_id": "B0SANDBOX",
            "is_enterprise_install": false,
        }),
    )
}

async fn slack_post_message(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    // Slack's Web API takes JSON or a form-encoded body.
    let form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let body: Value = if form {
        Value::Object(
            form_urlencoded::parse(&body)
                .filter(|(k, _)| k != "token")
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect(),
        )
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    };
    let ok_false =
        |error: &str| json_response(StatusCode::OK, json!({ "ok": false, "error": error }));
    let Some(channel) = body.get("channel").and_then(Value::as_str) else {
        return ok_false("channel_not_found");
    };
    let text = body
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if text.is_empty() && body.get("blocks").is_none() && body.get("attachments").is_none() {
        return ok_false("no_text");
    }
    let name = channel.trim_start_matches('#').to_string();
    let mut world = shared.world();
    if let Some(channels) = &world.slack.channels
        && !channels.contains(&name)
    {
        return ok_false("channel_not_found");
    }
    let now = chrono::Utc::now();
    let ts = format!(
        "{}.{:06}",
        now.timestamp(),
        world.slack.messages.len() as u32 + 1
    );
    world.slack.messages.push(SlackMessage {
        channel: name.clone(),
        text: text.clone(),
        ts: ts.clone(),
    });
    let channel_id = format!("C{}", name.to_uppercase().replace('-', ""));
    json_response(
        StatusCode::OK,
        json!({
            "ok": true,
            "channel": channel_id,
            "ts": ts,
            "message": {
                "type": "message", "subtype": "bot_message", "text": text,
                "bot_id": "B0SANDBOX", "user": "U0SANDBOX", "ts": ts,
            },
        }),
    )
}

// ---------------------------------------------------------------- Gong, Lambda

async fn gong_users(State(shared): State<Arc<Shared>>) -> Response {
    let world = shared.world();
    let users: Vec<Value> = world
        .gong
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            json!({
                "id": format!("{}", 7_000_000_000_000_000_000u64 + i as u64),
                "emailAddress": u.email,
                "firstName": u.first_name,
                "lastName": u.last_name,
                "title": null,
                "active": true,
                "created": "2024-01-01T00:00:00Z",
                "settings": { "webConferencesRecorded": true, "emailsImported": false },
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        json!({
            "requestId": format!("sandbox{}", users.len()),
            "records": { "totalRecords": users.len(), "currentPageSize": users.len(), "currentPageNumber": 0 },
            "users": users,
        }),
    )
}

async fn lambda_instances(
    State(shared): State<Arc<Shared>>,
    Extension(_caller): Extension<Caller>,
) -> Response {
    let world = shared.world();
    let data: Vec<Value> = world
        .lambda
        .instances
        .iter()
        .enumerate()
        .map(|(i, inst)| {
            json!({
                "id": format!("0920582c7ff041399e34823a0be6254{i}"),
                "name": inst.name,
                "ip": format!("198.51.100.{}", i + 10),
                "private_ip": format!("10.0.0.{}", i + 10),
                "status": inst.status,
                "ssh_key_names": ["sophia"],
                "file_system_names": [],
                "region": { "name": inst.region, "description": inst.region },
                "instance_type": {
                    "name": inst.instance_type,
                    "description": inst.instance_type,
                    "gpu_description": "NVIDIA A10",
                    "price_cents_per_hour": 75,
                    "specs": { "vcpus": 30, "memory_gib": 200, "storage_gib": 1400, "gpus": 1 },
                },
                "hostname": format!("{}.cloud.lambdalabs.com", inst.name),
                "is_reserved": false,
            })
        })
        .collect();
    json_response(StatusCode::OK, json!({ "data": data }))
}
