//! Tickets and the JS-SDK config over the HTTP API: the routes, their
//! refusals (the token routes' rules), the rate limit, and the signature.

use crate::harness::*;
use crate::support::{appid, mock_for, SECRET};

/// `overlap_s` as long as the lifetime: every ticket fetch gets a new one
/// (the platform hands the same one back until its last overlap window).
fn serve_for(
    tag: &str,
    overlap_s: u64,
    limits: &str,
) -> (TempDir, wxtoken_mock::MockServer, String, Serve) {
    let dir = TempDir::new(tag);
    let id = appid(tag);
    let server = mock_for(&id, 7200, overlap_s);
    let toml = format!(
        "listen = \"127.0.0.1:0\"\nstore = \"memory\"\n[limits]\nmax_body_bytes = 256\n{limits}{}{}{}{}",
        app_toml(&dir, "shop", &id, &server.base_url()),
        app_toml(&dir, "other", &id, &server.base_url()),
        client_toml("billing", KEY_A, &["shop"]),
        client_toml("ops", KEY_B, &["*"]),
    );
    let serve = Serve::start(&dir, &toml);
    (dir, server, id, serve)
}

fn ticket_calls(server: &wxtoken_mock::MockServer, id: &str, kind: &str) -> u64 {
    server.stats()["ticket_calls"][id][kind]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn a_ticket_is_served_with_its_generation_and_expiry_and_fetched_once() {
    let (_dir, server, id, serve) = serve_for("tkget", 300, "");
    let (code, v) = serve.get("/v1/apps/shop/tickets/jsapi", Some(KEY_A));
    assert_eq!(code, 200, "{v}");
    let ticket = v["ticket"].as_str().unwrap().to_string();
    assert!(!ticket.is_empty());
    assert!(
        (7000..=7200).contains(&v["expires_in"].as_u64().unwrap()),
        "{v}"
    );
    assert!(v["generation"].as_u64().unwrap() >= 1, "{v}");
    for _ in 0..10 {
        let (_, again) = serve.get("/v1/apps/shop/tickets/jsapi", Some(KEY_A));
        assert_eq!(again["ticket"], ticket.as_str());
    }
    assert_eq!(server.token_calls(&id), 1);
    assert_eq!(ticket_calls(&server, &id, "jsapi"), 1);
    let (code, card) = serve.get("/v1/apps/shop/tickets/wx_card", Some(KEY_A));
    assert_eq!(code, 200, "{card}");
    assert_ne!(card["ticket"], ticket.as_str());
    // Status shows the ticket's timing, never the ticket.
    let (_, status) = serve.get("/v1/apps/shop/status", Some(KEY_A));
    assert_eq!(
        status["tickets"]["jsapi"]["token"]["present"], true,
        "{status}"
    );
    assert!(!status.to_string().contains(&ticket));
    assert!(!serve.log().contains(&ticket), "{}", serve.log());
}

#[test]
fn jssdk_answers_the_wx_config_object_signed_without_the_fragment() {
    let (_dir, server, id, serve) = serve_for("tkjssdk", 300, "");
    let url = "https://shop.example/pay?order=7";
    let (code, v) = serve.post(
        "/v1/apps/shop/jssdk",
        KEY_A,
        &format!("{{\"url\": \"{url}#frag\"}}"),
    );
    assert_eq!(code, 200, "{v}");
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["appId", "nonceStr", "signature", "timestamp"]);
    assert_eq!(v["appId"], id.as_str());
    let (_, t) = serve.get("/v1/apps/shop/tickets/jsapi", Some(KEY_A));
    let expected = wxtoken::jssdk_signature(
        t["ticket"].as_str().unwrap(),
        v["nonceStr"].as_str().unwrap(),
        v["timestamp"].as_u64().unwrap(),
        url,
    );
    assert_eq!(v["signature"], expected.as_str());
    assert_eq!(ticket_calls(&server, &id, "jsapi"), 1);
    for (body, status, code) in [
        ("{}", 400, "bad_request"),
        ("{\"url\": \"\"}", 400, "bad_request"),
        ("{\"url\": 7}", 400, "bad_request"),
        ("{nope", 400, "malformed_json"),
    ] {
        let (got, v) = serve.post("/v1/apps/shop/jssdk", KEY_A, body);
        assert_eq!(
            (got, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
}

#[test]
fn ticket_routes_refuse_as_the_token_routes_do() {
    let (_dir, server, id, serve) = serve_for("tkrefuse", 300, "");
    let gets: [(&str, Option<&str>, u16, &str); 7] = [
        ("/v1/apps/shop/tickets/jsapi", None, 401, "unauthorized"),
        (
            "/v1/apps/other/tickets/jsapi",
            Some(KEY_A),
            403,
            "forbidden",
        ),
        ("/v1/apps/nope/tickets/jsapi", Some(KEY_A), 403, "forbidden"),
        (
            "/v1/apps/nope/tickets/jsapi",
            Some(KEY_B),
            404,
            "unknown_app",
        ),
        (
            "/v1/apps/shop/tickets/bogus",
            Some(KEY_A),
            404,
            "unknown_ticket_kind",
        ),
        (
            "/v1/apps/shop/tickets/JSAPI",
            Some(KEY_A),
            404,
            "unknown_ticket_kind",
        ),
        // A kind the app's platform lacks (WeCom's, on an Official Account).
        (
            "/v1/apps/shop/tickets/agent_config",
            Some(KEY_A),
            400,
            "invalid_argument",
        ),
    ];
    for (path, key, status, code) in gets {
        let (got, v) = serve.get(path, key);
        assert_eq!(
            (got, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {v}"
        );
    }
    let (got, v) = serve.post("/v1/apps/shop/tickets/jsapi", KEY_A, "{}");
    assert_eq!(
        (got, v["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let (got, v) = serve.get("/v1/apps/shop/tickets/jsapi/invalidate", Some(KEY_A));
    assert_eq!(
        (got, v["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let (got, v) = serve.get("/v1/apps/shop/jssdk", Some(KEY_A));
    assert_eq!(
        (got, v["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let posts: [(&str, &str, &str, u16, &str); 7] = [
        (
            "/v1/apps/other/jssdk",
            KEY_A,
            "{\"url\": \"https://x/\"}",
            403,
            "forbidden",
        ),
        (
            "/v1/apps/nope/jssdk",
            KEY_B,
            "{\"url\": \"https://x/\"}",
            404,
            "unknown_app",
        ),
        (
            "/v1/apps/shop/tickets/bogus/invalidate",
            KEY_A,
            "{\"bad_ticket\": \"x\"}",
            404,
            "unknown_ticket_kind",
        ),
        (
            "/v1/apps/shop/tickets/jsapi/invalidate",
            KEY_A,
            "{not json",
            400,
            "malformed_json",
        ),
        (
            "/v1/apps/shop/tickets/jsapi/invalidate",
            KEY_A,
            "{\"bad_token\": \"x\"}",
            400,
            "bad_request",
        ),
        (
            "/v1/apps/shop/tickets/jsapi/invalidate",
            "not-a-client-key",
            "{}",
            401,
            "unauthorized",
        ),
        (
            "/v1/apps/shop/jssdk",
            KEY_A,
            "{\"url\": \"https://x/\"}     ",
            200,
            "",
        ),
    ];
    for (path, key, body, status, code) in posts {
        let (got, v) = serve.post(path, key, body);
        if status == 200 {
            assert_eq!(got, 200, "{path}: {v}");
            continue;
        }
        assert_eq!(
            (got, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {v}"
        );
    }
    let big = format!("{{\"url\": \"https://x/{}\"}}", "x".repeat(300));
    for path in [
        "/v1/apps/shop/jssdk",
        "/v1/apps/shop/tickets/jsapi/invalidate",
    ] {
        let (got, v) = serve.post(path, KEY_A, &big);
        assert_eq!(
            (got, v["error"]["code"].as_str()),
            (413, Some("payload_too_large")),
            "{path}"
        );
    }
    // Nothing refused above fetched a ticket (the one 200 fetched one).
    assert_eq!(ticket_calls(&server, &id, "jsapi"), 1);
    assert!(!serve.log().contains(SECRET));
}

#[test]
fn a_ticket_invalidation_refetches_once_and_is_rate_limited() {
    let (_dir, server, id, serve) = serve_for("tkinval", 7200, "invalidations_per_minute = 2\n");
    let report = |key: &str| {
        let (_, t) = serve.get("/v1/apps/shop/tickets/jsapi", Some(key));
        let t = t["ticket"].as_str().unwrap().to_string();
        let (code, v) = serve.post(
            "/v1/apps/shop/tickets/jsapi/invalidate",
            key,
            &format!("{{\"bad_ticket\": \"{t}\"}}"),
        );
        (t, code, v)
    };
    let (first, code, v) = report(KEY_A);
    assert_eq!(code, 200, "{v}");
    let second = v["ticket"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert!(v["generation"].as_u64() > Some(1), "{v}");
    assert_eq!(ticket_calls(&server, &id, "jsapi"), 2);
    // The old ticket again: the current one, no fetch, not counted.
    let (code, v) = serve.post(
        "/v1/apps/shop/tickets/jsapi/invalidate",
        KEY_A,
        &format!("{{\"bad_ticket\": \"{first}\"}}"),
    );
    assert_eq!((code, v["ticket"].as_str()), (200, Some(second.as_str())));
    assert_eq!(ticket_calls(&server, &id, "jsapi"), 2);
    assert_eq!(report(KEY_A).1, 200);
    let (_, code, v) = report(KEY_A);
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "{v}"
    );
    assert_eq!(
        ticket_calls(&server, &id, "jsapi"),
        3,
        "the refused report fetched nothing"
    );
    assert_eq!(report(KEY_B).1, 200, "another client has its own budget");
    assert_eq!(
        server.token_calls(&id),
        1,
        "tickets never cost a token fetch here"
    );
}
