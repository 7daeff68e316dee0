//! The secret appears in no error, Debug output, status or log line.

use std::process::Command;
use std::time::Duration;

use wxtoken::Platform;
use wxtoken_mock::{Fault, MockApp, MockConfig, MockServer};

use crate::support::*;

const WRONG: &str = "Wr0ng-Secret-That-Must-Not-Leak";

fn assert_clean(text: &str) {
    assert!(
        !text.contains(WRONG) && !text.contains(SECRET),
        "secret leaked: {text}"
    );
}

#[test]
fn errors_debug_and_status_never_hold_the_secret() {
    let id = appid("secret");
    let server = MockServer::start(MockConfig {
        apps: vec![MockApp::mp(&id, SECRET), MockApp::wecom(&id, SECRET)],
        ..MockConfig::default()
    })
    .unwrap();
    let mut seen = Vec::new();
    for platform in [Platform::Mp, Platform::Wecom] {
        let app = configure(&server, &id, |c| {
            c.platform = platform;
            c.secret = wxtoken::Secret::new(WRONG);
            c.name = format!("{id}-{platform:?}");
        });
        let err = wxtoken::get(&app).unwrap_err();
        assert_eq!(err.kind(), wxtoken::ErrorKind::CredentialsRejected);
        seen.push(format!("{err} {err:?}"));
        seen.push(wxtoken::status(&app).unwrap().to_string());
        let mut cfg = config(&server, &id);
        cfg.secret = wxtoken::Secret::new(WRONG);
        seen.push(format!("{cfg:?}"));
    }
    // Transport errors: ureq's own text would quote the URL, secret and all.
    for (n, fault) in [Fault::Drop, Fault::Hang, Fault::Http500, Fault::Garbage]
        .into_iter()
        .enumerate()
    {
        let app = configure(&server, &id, |c| {
            c.name = format!("{id}-fault{n}");
            c.timeout = Duration::from_millis(200);
            c.wait = Duration::from_millis(3000);
        });
        server.set_fault(fault, None);
        let err = wxtoken::get(&app).unwrap_err();
        seen.push(format!("{err} {err:?}"));
        server.set_fault(Fault::None, None);
    }
    assert!(
        seen.iter().any(|s| s.contains("40125")),
        "the errors were produced: {seen:?}"
    );
    seen.iter().for_each(|s| assert_clean(s));
}

#[test]
fn tokens_are_redacted_in_debug() {
    let id = appid("tokdebug");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |_| {});
    let token = wxtoken::get(&app).unwrap();
    let debug = format!("{token:?}");
    assert!(!debug.contains(token.as_str()), "{debug}");
    assert!(debug.contains(&token[..6]));
}

#[test]
fn log_lines_never_hold_the_secret() {
    let id = appid("log");
    let server = mock_for(&id, 7200, 300);
    server.set_fault(Fault::Busy, Some(1));
    let run = |secret: &str| {
        Command::new(env!("CARGO_BIN_EXE_wxtoken"))
            .args([
                "token",
                "--store",
                "memory",
                "--appid",
                &id,
                "--api-base",
                &server.base_url(),
            ])
            .env("WXTOKEN_SECRET", secret)
            .env("WXTOKEN_LOG", "1")
            .output()
            .unwrap()
    };
    let ok = run(SECRET);
    let bad = run(WRONG);
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&ok.stderr),
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(ok.status.success());
    assert!(
        log.contains("retrying") && log.contains("fetched"),
        "the log has lines: {log}"
    );
    assert!(log.contains("40125"), "{log}");
    assert_clean(&log);
}
