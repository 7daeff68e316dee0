//! The app secret and the client keys never appear in an answer, in the
//! metrics or in the log, even when the platform echoes the secret back.

use wxtoken_mock::Fault;

use crate::harness::*;
use crate::support::{appid, mock_for, SECRET};

#[test]
fn no_answer_metric_or_log_line_holds_the_secret_or_a_key() {
    let dir = TempDir::new("secrecy");
    let id = appid("secrecy");
    let server = mock_for(&id, 7200, 300);
    let toml = format!(
        "listen = \"127.0.0.1:0\"\nstore = \"memory\"\n{}{}{}",
        app_toml(&dir, "shop", &id, &server.base_url()),
        app_toml(&dir, "echo", &format!("{id}e"), &server.base_url()),
        client_toml("a", KEY_A, &["*"]),
    );
    let serve = Serve::start(&dir, &toml);
    // The platform echoes the secret in its error (the library redacts it).
    server.set_fault(
        Fault::Body(format!(
            "{{\"errcode\":40125,\"errmsg\":\"invalid appsecret {SECRET} secret={SECRET}\"}}"
        )),
        None,
    );
    let compat = |appid: &str, key: &str| {
        format!("/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={key}")
    };
    let mut answers = Vec::new();
    for (path, key) in [
        ("/v1/apps/echo/token".to_string(), Some(KEY_A)),
        ("/v1/apps/echo/status".to_string(), Some(KEY_A)),
        ("/v1/apps/shop/token".to_string(), Some(KEY_B)),
        ("/v1/apps".to_string(), Some(KEY_A)),
        ("/readyz".to_string(), None),
        (compat(&id, KEY_A), None),
        (compat(&id, KEY_B), None),
        (compat(&id, SECRET), None),
    ] {
        let (code, v) = serve.get(&path, key);
        answers.push(format!("{code} {v}"));
    }
    assert!(
        answers[0].contains("credentials_rejected"),
        "the echo was an error: {}",
        answers[0]
    );
    let (_, metrics) = serve.text("/metrics", KEY_A);
    answers.push(metrics);
    answers.push(serve.log());
    for text in &answers {
        for secret in [SECRET, KEY_A, KEY_B] {
            assert!(!text.contains(secret), "{secret} in: {text}");
        }
    }
}
