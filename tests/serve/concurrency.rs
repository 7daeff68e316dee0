//! Many clients at once: one fetch for a cold start, one for a bad token
//! however many report it.

use std::sync::Barrier;

use crate::harness::*;
use crate::support::{appid, check, mock_for};

fn one_app(tag: &str) -> (TempDir, wxtoken_mock::MockServer, String, Serve) {
    let dir = TempDir::new(tag);
    let id = appid(tag);
    let server = mock_for(&id, 7200, 300);
    let toml = format!(
        "listen = \"127.0.0.1:0\"\nstore = \"memory\"\n{}{}",
        app_toml(&dir, "shop", &id, &server.base_url()),
        client_toml("billing", KEY_A, &["shop"]),
    );
    let serve = Serve::start(&dir, &toml);
    (dir, server, id, serve)
}

#[test]
fn twenty_concurrent_cold_requests_make_one_fetch() {
    let (_dir, server, id, serve) = one_app("cold");
    let barrier = Barrier::new(20);
    let tokens: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    serve.token("shop", KEY_A)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(server.token_calls(&id), 1);
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    assert_eq!(check(&server, &tokens[0]), 0);
}

#[test]
fn forty_concurrent_reports_of_one_bad_token_make_one_fetch() {
    let (_dir, server, id, serve) = one_app("reports");
    let bad = serve.token("shop", KEY_A);
    let barrier = Barrier::new(40);
    let fresh: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..40)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let (code, v) = serve.post(
                        "/v1/apps/shop/invalidate",
                        KEY_A,
                        &format!("{{\"bad_token\": \"{bad}\"}}"),
                    );
                    assert_eq!(code, 200, "{v}");
                    v["access_token"].as_str().unwrap().to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        server.token_calls(&id),
        2,
        "the first fetch and one refresh"
    );
    assert!(fresh.iter().all(|t| *t == fresh[0] && *t != bad));
    assert_eq!(check(&server, &fresh[0]), 0);
}
