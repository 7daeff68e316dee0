//! SIGHUP: apps and clients change without a restart and without a fetch.

use crate::harness::*;
use crate::support::appid;

#[test]
fn sighup_adds_an_app_revokes_a_client_and_keeps_tokens() {
    let dir = TempDir::new("reload");
    let (id1, id2) = (appid("hup"), appid("hup"));
    let server = wxtoken_mock::MockServer::start(wxtoken_mock::MockConfig {
        apps: vec![
            wxtoken_mock::MockApp::mp(&id1, crate::support::SECRET),
            wxtoken_mock::MockApp::mp(&id2, crate::support::SECRET),
        ],
        ..Default::default()
    })
    .unwrap();
    let head = "listen = \"127.0.0.1:0\"\nstore = \"memory\"\n";
    let shop = app_toml(&dir, "shop", &id1, &server.base_url());
    let serve = Serve::start(
        &dir,
        &format!(
            "{head}{shop}{}{}",
            client_toml("a", KEY_A, &["*"]),
            client_toml("b", KEY_B, &["shop"])
        ),
    );
    let token = serve.token("shop", KEY_A);
    assert_eq!(serve.token("shop", KEY_B), token);
    assert_eq!(serve.get("/v1/apps/more/token", Some(KEY_A)).0, 404);

    let more = app_toml(&dir, "more", &id2, &server.base_url());
    serve.reload(&format!(
        "{head}{shop}{more}{}",
        client_toml("a", KEY_A, &["*"])
    ));
    assert_eq!(serve.token("shop", KEY_A), token, "the token survives");
    assert_eq!(server.token_calls(&id1), 1, "no fetch for the reload");
    assert!(
        !serve.token("more", KEY_A).is_empty(),
        "the new app is served"
    );
    let (code, v) = serve.get("/v1/apps/shop/token", Some(KEY_B));
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (401, Some("unauthorized")),
        "revoked"
    );

    // A changed app (another timeout) keeps its token through the store.
    let shop_slower = shop.replace("[[apps]]\n", "[[apps]]\ntimeout_ms = 4000\n");
    serve.reload(&format!(
        "{head}{shop_slower}{more}{}",
        client_toml("a", KEY_A, &["*"])
    ));
    assert_eq!(serve.token("shop", KEY_A), token, "still the same token");
    assert_eq!(server.token_calls(&id1), 1, "and no fetch");

    // A broken file keeps the running configuration.
    serve.reload("this is = not [toml");
    assert!(serve.log().contains("reload failed"), "{}", serve.log());
    assert!(!serve.token("more", KEY_A).is_empty());
    assert_eq!(serve.get("/v1/apps/shop/token", Some(KEY_B)).0, 401);
}

/// SIGTERM: a request in flight (a slow fetch) is still answered, then the
/// server exits 0.
#[test]
fn sigterm_answers_the_request_in_flight_then_exits() {
    let dir = TempDir::new("term");
    let id = appid("term");
    let server = crate::support::mock_for(&id, 7200, 300);
    server.set_fault(
        wxtoken_mock::Fault::Slow(std::time::Duration::from_millis(1500)),
        None,
    );
    let mut serve = Serve::start(
        &dir,
        &format!(
            "listen = \"127.0.0.1:0\"\nstore = \"memory\"\n{}{}",
            app_toml(&dir, "shop", &id, &server.base_url()),
            client_toml("a", KEY_A, &["shop"]),
        ),
    );
    let base = serve.base.clone();
    let in_flight = std::thread::spawn(move || {
        ureq::get(&format!("{base}/v1/apps/shop/token"))
            .set("Authorization", &format!("Bearer {KEY_A}"))
            .timeout(std::time::Duration::from_secs(15))
            .call()
            .ok()
            .map(|r| r.status())
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let status = serve.terminate();
    assert!(status.success(), "{status}: {}", serve.log());
    assert_eq!(in_flight.join().unwrap(), Some(200));
}

/// An app removed from the file is no longer served nor refreshed; the
/// apps that stay are.
#[test]
fn sighup_removing_an_app_stops_its_refresh() {
    let dir = TempDir::new("remove");
    let (keep, gone) = (appid("keep"), appid("gone"));
    let server = wxtoken_mock::MockServer::start(wxtoken_mock::MockConfig {
        apps: vec![
            wxtoken_mock::MockApp::mp(&keep, crate::support::SECRET),
            wxtoken_mock::MockApp::mp(&gone, crate::support::SECRET),
        ],
        lifetime_s: 3,
        overlap_s: 1,
        ..Default::default()
    })
    .unwrap();
    let head = "listen = \"127.0.0.1:0\"\nstore = \"memory\"\n";
    let quick = |name: &str, id: &str| {
        app_toml(&dir, name, id, &server.base_url())
            .replace("[[apps]]\n", "[[apps]]\nrefresh_margin_s = 1\n")
    };
    let (keep_toml, gone_toml) = (quick("keep", &keep), quick("gone", &gone));
    let client = client_toml("a", KEY_A, &["*"]);
    let serve = Serve::start(&dir, &format!("{head}{keep_toml}{gone_toml}{client}"));
    serve.token("keep", KEY_A);
    serve.token("gone", KEY_A);

    serve.reload(&format!("{head}{keep_toml}{client}"));
    let (code, v) = serve.get("/v1/apps/gone/token", Some(KEY_A));
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (404, Some("unknown_app"))
    );
    let (_, apps) = serve.get("/v1/apps", Some(KEY_A));
    assert_eq!(apps["apps"].as_array().unwrap().len(), 1, "{apps}");

    std::thread::sleep(std::time::Duration::from_millis(4500));
    assert!(server.token_calls(&keep) >= 2, "the kept app is refreshed");
    assert_eq!(server.token_calls(&gone), 1, "the removed one is not");
}
