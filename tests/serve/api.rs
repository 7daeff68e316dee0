//! The JSON API: each route, each error with its status and stable code,
//! and what must never appear in an answer or the log.

use crate::harness::*;
use crate::support::{appid, check, mock_for, SECRET};

fn two_apps() -> (TempDir, wxtoken_mock::MockServer, String, Serve) {
    let dir = TempDir::new("api");
    let id = appid("api");
    let server = mock_for(&id, 7200, 300);
    let toml = format!(
        "listen = \"127.0.0.1:0\"\nstore = \"memory\"\n[limits]\nmax_body_bytes = 256\n{}{}{}{}",
        app_toml(&dir, "shop", &id, &server.base_url()),
        app_toml(&dir, "other", &id, &server.base_url()),
        client_toml("billing", KEY_A, &["shop"]),
        client_toml("ops", KEY_B, &["*"]),
    );
    let serve = Serve::start(&dir, &toml);
    (dir, server, id, serve)
}

#[test]
fn token_is_served_from_memory_with_its_generation_and_expiry() {
    let (_dir, server, id, serve) = two_apps();
    let (code, v) = serve.get("/v1/apps/shop/token", Some(KEY_A));
    assert_eq!(code, 200, "{v}");
    let token = v["access_token"].as_str().unwrap();
    assert_eq!(check(&server, token), 0, "the platform accepts it");
    let expires_in = v["expires_in"].as_u64().unwrap();
    assert!((7000..=7200).contains(&expires_in), "{v}");
    assert!(v["generation"].as_u64().unwrap() >= 1, "{v}");
    for _ in 0..20 {
        assert_eq!(serve.token("shop", KEY_A), token);
    }
    assert_eq!(server.token_calls(&id), 1, "one fetch for 21 requests");
}

#[test]
fn apps_lists_what_the_client_may_use_and_status_holds_no_token() {
    let (_dir, _server, id, serve) = two_apps();
    let (code, v) = serve.get("/v1/apps", Some(KEY_A));
    assert_eq!(code, 200);
    let names: Vec<&str> = v["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shop"]);
    assert_eq!(v["apps"][0]["appid"], id.as_str());
    let (_, v) = serve.get("/v1/apps", Some(KEY_B));
    assert_eq!(v["apps"].as_array().unwrap().len(), 2);

    let token = serve.token("shop", KEY_A);
    let (code, status) = serve.get("/v1/apps/shop/status", Some(KEY_A));
    assert_eq!(code, 200);
    assert_eq!(status["name"], "shop");
    assert_eq!(status["token"]["present"], true);
    assert!(!status.to_string().contains(&token));
    assert!(!status.to_string().contains(SECRET));
}

#[test]
fn health_needs_no_key_and_ready_means_tokens_load() {
    let (_dir, server, id, serve) = two_apps();
    let (code, v) = serve.get("/healthz", None);
    assert_eq!((code, v["status"].as_str()), (200, Some("ok")));
    let (code, v) = serve.get("/readyz", None);
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["ready"], true);
    assert!(server.token_calls(&id) >= 1, "readiness loaded the tokens");
}

/// GET /metrics (as the ops client), asserting each of `lines` is in it.
fn metrics_with(serve: &Serve, lines: &[&str]) -> String {
    let (code, text) = serve.text("/metrics", KEY_B);
    assert_eq!(code, 200);
    for line in lines {
        assert!(text.contains(line), "{line} missing in:\n{text}");
    }
    text
}

#[test]
fn readyz_is_503_when_a_token_cannot_be_had() {
    let dir = TempDir::new("notready");
    let id = appid("notready");
    let server = mock_for(&id, 7200, 300);
    // The simulator does not know this appid: credentials rejected.
    let toml = format!(
        "listen = \"127.0.0.1:0\"\nstore = \"memory\"\n{}{}",
        app_toml(&dir, "ghost", &format!("{id}nope"), &server.base_url()),
        client_toml("ops", KEY_B, &["*"]),
    );
    let serve = Serve::start(&dir, &toml);
    let (code, v) = serve.get("/readyz", None);
    assert_eq!(code, 503, "{v}");
    assert_eq!(v["ready"], false);
    let (code, v) = serve.get("/v1/apps/ghost/token", Some(KEY_B));
    assert_eq!(code, 502, "{v}");
    assert_eq!(v["error"]["code"], "credentials_rejected");
    // What ops alert on before users see errors.
    let text = metrics_with(
        &serve,
        &[
            "wxtoken_credentials_rejections_total{app=\"ghost\"} 1",
            "wxtoken_cooldowns_total{app=\"ghost\"} 1",
            "wxtoken_refreshes_total{app=\"ghost\"} 0",
            "wxtoken_failures_in_row{app=\"ghost\"} 1",
        ],
    );
    let cooldown = text
        .lines()
        .find_map(|l| l.strip_prefix("wxtoken_cooldown_seconds{app=\"ghost\"} "))
        .and_then(|v| v.parse::<f64>().ok())
        .expect("a cool-down gauge");
    assert!(cooldown > 0.0, "the rejection began a cool-down: {text}");
    assert_eq!(
        server.token_calls(&format!("{id}nope")),
        1,
        "one upstream call"
    );
}

#[test]
fn every_refusal_has_its_status_and_stable_code() {
    let (_dir, _server, _id, serve) = two_apps();
    let cases: [(&str, Option<&str>, u16, &str); 7] = [
        ("/v1/apps/shop/token", None, 401, "unauthorized"),
        (
            "/v1/apps/shop/token",
            Some("not-a-client-key"),
            401,
            "unauthorized",
        ),
        ("/metrics", None, 401, "unauthorized"),
        ("/v1/apps/other/token", Some(KEY_A), 403, "forbidden"),
        // A restricted client learns no app names: forbidden either way.
        ("/v1/apps/nope/token", Some(KEY_A), 403, "forbidden"),
        ("/v1/apps/nope/token", Some(KEY_B), 404, "unknown_app"),
        ("/v1/nothing", Some(KEY_A), 404, "not_found"),
    ];
    for (path, key, status, code) in cases {
        let (got, v) = serve.get(path, key);
        assert_eq!(
            (got, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {v}"
        );
        assert!(v["error"]["message"].is_string());
    }
    let (got, v) = serve.post("/v1/apps/shop/token", KEY_A, "{}");
    assert_eq!(
        (got, v["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let (got, v) = serve.get("/v1/apps/shop/invalidate", Some(KEY_A));
    assert_eq!(
        (got, v["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let big = format!("{{\"bad_token\": \"{}\"}}", "x".repeat(300));
    let (got, v) = serve.post("/v1/apps/shop/invalidate", KEY_A, &big);
    assert_eq!(
        (got, v["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    let (got, v) = serve.post("/v1/apps/shop/invalidate", KEY_A, "{not json");
    assert_eq!(
        (got, v["error"]["code"].as_str()),
        (400, Some("malformed_json"))
    );
    let (got, v) = serve.post("/v1/apps/shop/invalidate", KEY_A, "{\"token\": \"x\"}");
    assert_eq!(
        (got, v["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    // A chunked body past the limit is cut off too, with no Content-Length.
    let chunk = "y".repeat(300);
    let raw = serve.raw(
        format!(
            "POST /v1/apps/shop/invalidate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY_A}\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
            chunk.len()
        )
        .as_bytes(),
    );
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
}

#[test]
fn invalidate_replaces_the_reported_token_and_ignores_an_old_one() {
    let (_dir, server, id, serve) = two_apps();
    let first = serve.token("shop", KEY_A);
    let (code, v) = serve.post(
        "/v1/apps/shop/invalidate",
        KEY_A,
        &format!("{{\"bad_token\": \"{first}\"}}"),
    );
    assert_eq!(code, 200, "{v}");
    let second = v["access_token"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert_eq!(check(&server, &second), 0);
    assert!(v["generation"].as_u64() > Some(1), "{v}");
    assert_eq!(server.token_calls(&id), 2);
    // The old token again: the current one, no fetch.
    let (_, v) = serve.post(
        "/v1/apps/shop/invalidate",
        KEY_A,
        &format!("{{\"bad_token\": \"{first}\"}}"),
    );
    assert_eq!(v["access_token"], second.as_str());
    assert_eq!(server.token_calls(&id), 2);
    assert_eq!(serve.token("shop", KEY_A), second);
}

#[test]
fn invalidations_that_would_refresh_are_rate_limited_per_client() {
    let dir = TempDir::new("ratelimit");
    let id = appid("rl");
    let server = mock_for(&id, 7200, 300);
    let toml = format!(
        "listen = \"127.0.0.1:0\"\nstore = \"memory\"\n[limits]\ninvalidations_per_minute = 2\n{}{}{}",
        app_toml(&dir, "shop", &id, &server.base_url()),
        client_toml("a", KEY_A, &["shop"]),
        client_toml("b", KEY_B, &["shop"]),
    );
    let serve = Serve::start(&dir, &toml);
    let report = |key: &str| {
        let t = serve.token("shop", key);
        serve.post(
            "/v1/apps/shop/invalidate",
            key,
            &format!("{{\"bad_token\": \"{t}\"}}"),
        )
    };
    assert_eq!(report(KEY_A).0, 200);
    assert_eq!(report(KEY_A).0, 200);
    let (code, v) = report(KEY_A);
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "{v}"
    );
    assert_eq!(
        server.token_calls(&id),
        3,
        "the refused report fetched nothing"
    );
    assert_eq!(report(KEY_B).0, 200, "another client has its own budget");
}

#[test]
fn metrics_count_requests_fetches_and_expiry_and_hold_no_secret() {
    let (_dir, _server, _id, serve) = two_apps();
    let token = serve.token("shop", KEY_A);
    let _ = serve.get("/v1/apps/other/token", Some(KEY_A));
    let text = metrics_with(
        &serve,
        &[
            "wxtoken_serve_requests_total{route=\"token\",status=\"200\"} 1",
            "wxtoken_serve_requests_total{route=\"token\",status=\"403\"} 1",
            "wxtoken_fetches_total{app=\"shop\"} 1",
            "wxtoken_invalidations_total{app=\"shop\"} 0",
        ],
    );
    assert!(
        text.contains("wxtoken_token_expires_in_seconds{app=\"shop\"} 7"),
        "{text}"
    );
    for secret in [SECRET, KEY_A, KEY_B, token.as_str()] {
        assert!(!text.contains(secret));
        assert!(!serve.log().contains(secret), "{}", serve.log());
    }
}
