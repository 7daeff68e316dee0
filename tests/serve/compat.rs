//! GET /cgi-bin/token as the platform answers it, a client key as "secret";
//! an SDK's re-request after 40001 counts as its report, once per window.

use crate::harness::*;
use crate::support::{appid, check, mock_for};

fn compat_url(serve: &Serve, appid: &str, key: &str) -> String {
    format!("/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={key}")
        .replace(&serve.base, "")
}

#[test]
fn the_compatible_endpoint_answers_like_the_platform() {
    let dir = TempDir::new("compat");
    let id = appid("compat");
    let server = mock_for(&id, 7200, 300);
    let other = appid("compatother");
    let toml = format!(
        "listen = \"127.0.0.1:0\"\nstore = \"memory\"\n{}{}{}",
        app_toml(&dir, "shop", &id, &server.base_url()),
        app_toml(&dir, "other", &other, &server.base_url()),
        client_toml("billing", KEY_A, &["shop"]),
    );
    let serve = Serve::start(&dir, &toml);
    let (code, v) = serve.get(&compat_url(&serve, &id, KEY_A), None);
    assert_eq!(code, 200);
    let token = v["access_token"].as_str().unwrap().to_string();
    assert_eq!(check(&server, &token), 0);
    assert!(v["expires_in"].as_u64().unwrap() > 7000);
    assert_eq!(
        v.as_object().unwrap().len(),
        2,
        "exactly the platform's fields: {v}"
    );
    for (path, errcode) in [
        (
            format!("/cgi-bin/token?grant_type=x&appid={id}&secret={KEY_A}"),
            40002,
        ),
        (
            format!("/cgi-bin/token?grant_type=client_credential&appid={id}&secret=wrong"),
            40125,
        ),
        (
            format!("/cgi-bin/token?grant_type=client_credential&appid={id}&secret={KEY_B}"),
            40125,
        ),
        (
            format!("/cgi-bin/token?grant_type=client_credential&appid={other}&secret={KEY_A}"),
            40013,
        ),
        (
            format!("/cgi-bin/token?grant_type=client_credential&appid=wxnope&secret={KEY_A}"),
            40013,
        ),
    ] {
        let (code, v) = serve.get(&path, None);
        assert_eq!(
            (code, v["errcode"].as_i64()),
            (200, Some(errcode)),
            "{path}: {v}"
        );
        assert!(v["errmsg"].is_string());
        assert!(!v.to_string().contains(KEY_A));
    }
    assert_eq!(server.token_calls(&id), 1);
    assert_eq!(
        server.token_calls(&other),
        0,
        "a refused client caused no fetch"
    );
}

#[test]
fn a_re_request_for_the_same_generation_refreshes_once_per_window() {
    let dir = TempDir::new("compatretry");
    let id = appid("compatretry");
    let server = mock_for(&id, 7200, 300);
    let toml = format!(
        "listen = \"127.0.0.1:0\"\nstore = \"memory\"\n{}{}{}",
        app_toml(&dir, "shop", &id, &server.base_url()),
        client_toml("a", KEY_A, &["shop"]),
        client_toml("b", KEY_B, &["shop"]),
    );
    let serve = Serve::start(&dir, &toml);
    let url_a = compat_url(&serve, &id, KEY_A);
    let first = serve.get(&url_a, None).1["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    // Another client's first request is no report.
    let (_, v) = serve.get(&compat_url(&serve, &id, KEY_B), None);
    assert_eq!(v["access_token"], first.as_str());
    assert_eq!(server.token_calls(&id), 1);
    // Client a asks again for the generation it holds: its report.
    let second = serve.get(&url_a, None).1["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(second, first);
    assert_eq!(check(&server, &second), 0);
    assert_eq!(server.token_calls(&id), 2);
    // Again within the window: no second refresh for client a.
    let third = serve.get(&url_a, None).1["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(third, second);
    assert_eq!(server.token_calls(&id), 2);
    // Client b repeats too, for the new generation: repeats refresh an app
    // once per window, whichever clients make them (a fleet of SDKs that
    // each retry once costs one fetch, not one per client).
    let url_b = compat_url(&serve, &id, KEY_B);
    for _ in 0..2 {
        assert_eq!(serve.get(&url_b, None).1["access_token"], second.as_str());
    }
    assert_eq!(server.token_calls(&id), 2);
}

/// A client that asks for the token before every call (no cache) reports
/// one generation at most once, and none after: it cannot keep the app
/// refreshing (and spend its daily quota).
#[test]
fn a_client_without_a_cache_does_not_keep_refreshing() {
    let dir = TempDir::new("compatpoll");
    let id = appid("compatpoll");
    let server = mock_for(&id, 7200, 300);
    let toml = format!(
        "listen = \"127.0.0.1:0\"\nstore = \"memory\"\n[limits]\ncompat_retry_window_s = 1\n{}{}",
        app_toml(&dir, "shop", &id, &server.base_url()),
        client_toml("a", KEY_A, &["shop"]),
    );
    let serve = Serve::start(&dir, &toml);
    let url = compat_url(&serve, &id, KEY_A);
    let mut tokens = Vec::new();
    for _ in 0..8 {
        let (_, v) = serve.get(&url, None);
        tokens.push(v["access_token"].as_str().unwrap().to_string());
        std::thread::sleep(std::time::Duration::from_millis(400));
    }
    assert_eq!(
        server.token_calls(&id),
        2,
        "the second request's one refresh only"
    );
    assert!(tokens[1..].iter().all(|t| *t == tokens[1]));
    assert_eq!(check(&server, &tokens[7]), 0);
}
