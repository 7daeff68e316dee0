//! Two `wxtoken serve` instances on one Redis store act as one: one fetch
//! for a cold start across both, and a token replaced through one is what
//! the other hands out once told, without a fetch.

use std::sync::Barrier;

use crate::harness::*;
use crate::redis_server::RedisServer;
use crate::support::{appid, check, mock_for};
use wxtoken_mock::MockServer;

/// One `serve` instance of app "shop" on the shared Redis (a key prefix of
/// its own per test), client "billing" with KEY_A.
fn instance(redis: &RedisServer, server: &MockServer, id: &str, tag: &str) -> (TempDir, Serve) {
    let dir = TempDir::new(tag);
    let toml = format!(
        "listen = \"127.0.0.1:0\"\nstore = \"{}\"\nkey_prefix = \"{id}\"\n{}{}",
        redis.url(),
        app_toml(&dir, "shop", id, &server.base_url()),
        client_toml("billing", KEY_A, &["shop"]),
    );
    let serve = Serve::start(&dir, &toml);
    (dir, serve)
}

#[test]
fn two_instances_on_one_redis_fetch_once_and_agree() {
    let redis = RedisServer::start(&[]);
    let id = appid("ha");
    let server = mock_for(&id, 7200, 300);
    let start = |tag: &str| instance(&redis, &server, &id, tag);
    let (_da, a) = start("ha-a");
    let (_db, b) = start("ha-b");

    let barrier = Barrier::new(20);
    let tokens: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let (serve, barrier) = (if i % 2 == 0 { &a } else { &b }, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    serve.token("shop", KEY_A)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(server.token_calls(&id), 1, "one fetch for both instances");
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    let first = tokens[0].clone();

    let report = |serve: &Serve| {
        let (code, v) = serve.post(
            "/v1/apps/shop/invalidate",
            KEY_A,
            &format!("{{\"bad_token\": \"{first}\"}}"),
        );
        assert_eq!(code, 200, "{v}");
        (
            v["access_token"].as_str().unwrap().to_string(),
            v["generation"].as_u64().unwrap(),
        )
    };
    let (second, gen_a) = report(&a);
    assert_ne!(second, first);
    assert_eq!(check(&server, &second), 0);
    // b's client meets the dead token and reports it to b: the same new
    // token, the same generation, no fetch.
    let (from_b, gen_b) = report(&b);
    assert_eq!((from_b.as_str(), gen_b), (second.as_str(), gen_a));
    assert_eq!(b.token("shop", KEY_A), second);
    assert_eq!(
        server.token_calls(&id),
        2,
        "one fetch per refresh, fleet-wide"
    );
}

/// 40 concurrent reports of one bad token, spread over two instances:
/// one fetch. Then one instance is SIGKILLed: the other keeps answering
/// with the same token, and no fetch.
#[test]
fn forty_reports_over_two_instances_fetch_once_and_a_killed_one_loses_nothing() {
    let redis = RedisServer::start(&[]);
    let id = appid("ha40");
    let server = mock_for(&id, 7200, 300);
    let start = |tag: &str| instance(&redis, &server, &id, tag);
    let (_da, a) = start("ha40-a");
    let (_db, b) = start("ha40-b");
    let first = a.token("shop", KEY_A);
    assert_eq!(b.token("shop", KEY_A), first);
    server.supersede(&id); // the token dies: every business call now reports it

    let barrier = Barrier::new(40);
    let body = format!("{{\"bad_token\": \"{first}\"}}");
    let answers: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..40)
            .map(|i| {
                let (serve, barrier, body) = (if i % 2 == 0 { &a } else { &b }, &barrier, &body);
                s.spawn(move || {
                    barrier.wait();
                    let (code, v) = serve.post("/v1/apps/shop/invalidate", KEY_A, body);
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
        "one fetch for 40 reports on two instances"
    );
    assert!(answers.iter().all(|t| *t == answers[0]), "one new token");
    assert_ne!(answers[0], first);
    assert_eq!(check(&server, &answers[0]), 0);

    unsafe { libc::kill(a.pid(), libc::SIGKILL) };
    for _ in 0..20 {
        assert_eq!(b.token("shop", KEY_A), answers[0], "the survivor answers");
    }
    assert_eq!(server.token_calls(&id), 2, "and nothing was lost: no fetch");
}
