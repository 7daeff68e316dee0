use std::sync::{Arc, Barrier};
use std::thread;

use wxtoken_mock::{MockApp, MockConfig, MockServer};

use crate::support::*;

#[test]
fn sixty_four_threads_at_cold_start_cause_one_fetch_and_share_the_token() {
    let id = appid("cold");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |_| {});
    let barrier = Arc::new(Barrier::new(64));
    let tokens: Vec<String> = (0..64)
        .map(|_| {
            let (app, barrier) = (app.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                wxtoken::get(&app).expect("get").to_string()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(server.token_calls(&id), 1, "exactly one upstream fetch");
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "every thread got the same token"
    );
    assert_eq!(check(&server, &tokens[0]), 0, "the platform accepts it");
}

#[test]
fn reconfiguring_keeps_the_token_and_never_fails_readers() {
    let id = appid("reconf");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |_| {});
    let first = wxtoken::get(&app).unwrap();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let app = app.clone();
            thread::spawn(move || {
                for _ in 0..20_000 {
                    wxtoken::get(&app).expect("get during reconfigure");
                }
            })
        })
        .collect();
    for i in 0..50 {
        configure(&server, &id, |c| c.wait = secs(1.0 + i as f64 / 100.0));
    }
    readers.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(
        wxtoken::get(&app).unwrap(),
        first,
        "the token survived 50 re-configurations"
    );
    assert_eq!(server.token_calls(&id), 1);
}

/// Configuring on every request (PHP's way) must not cost the fresh path:
/// the same settings keep the app's state; other settings replace it.
#[test]
fn configuring_the_same_settings_again_keeps_the_app_state() {
    let id = appid("sameconf");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |_| {});
    wxtoken::get(&app).unwrap();
    let calls = |app: &str| wxtoken::status(app).unwrap()["stats"]["upstream_calls"].clone();
    assert_eq!(calls(&app), 1);
    for _ in 0..10 {
        configure(&server, &id, |_| {});
    }
    assert_eq!(calls(&app), 1, "the same cell: its counters survived");
    configure(&server, &id, |c| c.wait = secs(3.0));
    assert_eq!(calls(&app), 0, "new settings, new cell");
    wxtoken::get(&app).unwrap();
    assert_eq!(
        server.token_calls(&id),
        1,
        "the token survived through the store"
    );
}

#[test]
fn unknown_and_empty_app_names_are_clear_errors() {
    let err = wxtoken::get("wx-never-configured").unwrap_err();
    assert_eq!(err.kind(), wxtoken::ErrorKind::NotConfigured);
    assert!(err.to_string().contains("wx-never-configured"), "{err}");
    assert_eq!(
        wxtoken::get("").unwrap_err().kind(),
        wxtoken::ErrorKind::InvalidArgument
    );
}

/// Status never says a token has more time left than the platform gave it
/// (the time left counts from before the request; status once read a
/// clock up to 4 ms behind and showed 7200001 ms).
#[test]
fn status_never_shows_more_than_the_lifetime() {
    let ids: Vec<String> = (0..20).map(|_| appid("left")).collect();
    let server = MockServer::start(MockConfig {
        apps: ids.iter().map(|id| MockApp::mp(id, SECRET)).collect(),
        ..MockConfig::default()
    })
    .unwrap();
    for id in &ids {
        let app = configure(&server, id, |_| {});
        wxtoken::get(&app).unwrap();
        let left = wxtoken::status(&app).unwrap()["token"]["expires_in_ms"]
            .as_u64()
            .unwrap();
        assert!(0 < left && left <= 7_200_000, "{id}: {left} ms left");
    }
}
