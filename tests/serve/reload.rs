//! SIGHUP: apps and clients change without a restart and without a fetch.

use crate::harness::*;
use crate::support::appid;

#[test]
fn sighup_adds_an_app_revokes_a_client_and_keeps_tokens() {
    let dir = TempDir::new("reload");
    let (id1, id2) = (appid("hup"), appid("hup"));
    let server = wxtoken::mock::MockServer::start(wxtoken::mock::MockConfig {
        apps: vec![
            wxtoken::mock::MockApp::mp(&id1, crate::support::SECRET),
            wxtoken::mock::MockApp::mp(&id2, crate::support::SECRET),
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
