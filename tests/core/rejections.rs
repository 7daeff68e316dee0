//! Rejected credentials, IP and quota: a clear error, and the upstream is not
//! hammered (the calls are counted).

use wxtoken::ErrorKind;
use wxtoken_mock::{MockApp, MockConfig, MockServer};

use crate::support::*;

fn assert_cooled(app: &str, server: &MockServer, id: &str, kind: ErrorKind, errcode: i64) {
    let err = wxtoken::get(app).unwrap_err();
    assert_eq!((err.kind(), err.errcode()), (kind, errcode), "{err}");
    for _ in 0..20 {
        let again = wxtoken::get(app).unwrap_err();
        assert_eq!(again.errcode(), errcode);
    }
    assert_eq!(server.token_calls(id), 1, "one upstream call for 21 gets");
}

#[test]
fn wrong_secret() {
    let id = appid("badsecret");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |c| {
        c.secret = wxtoken::Secret::new("wrong-secret")
    });
    assert_cooled(&app, &server, &id, ErrorKind::CredentialsRejected, 40125);
    // Re-configuring with the right secret ends the cool-down at once.
    let app = configure(&server, &id, |_| {});
    let token = wxtoken::get(&app).expect("fixed secret works");
    assert_eq!(check(&server, &token), 0);
}

#[test]
fn wrong_appid() {
    let id = appid("badappid");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |c| c.appid = format!("{id}nope"));
    assert_cooled(
        &app,
        &server,
        &format!("{id}nope"),
        ErrorKind::CredentialsRejected,
        40013,
    );
}

#[test]
fn ip_not_on_the_allow_list() {
    let id = appid("badip");
    let server = MockServer::start(MockConfig {
        apps: vec![MockApp::mp(&id, SECRET)],
        allow_ips: Some(vec!["192.0.2.1".parse().unwrap()]),
        ..MockConfig::default()
    })
    .unwrap();
    let app = configure(&server, &id, |_| {});
    assert_cooled(&app, &server, &id, ErrorKind::IpNotAllowed, 40164);
}

#[test]
fn spent_quota() {
    let id = appid("quota");
    let server = MockServer::start(MockConfig {
        apps: vec![MockApp::mp(&id, SECRET)],
        daily_quota: 2,
        ..MockConfig::default()
    })
    .unwrap();
    let app = configure(&server, &id, |_| {});
    let first = wxtoken::get(&app).unwrap();
    let second = wxtoken::invalidate(&app, &first).unwrap();
    let err = wxtoken::invalidate(&app, &second).unwrap_err();
    assert_eq!(
        (err.kind(), err.errcode()),
        (ErrorKind::QuotaExhausted, 45009),
        "{err}"
    );
    for _ in 0..20 {
        assert_eq!(
            wxtoken::invalidate(&app, &second).unwrap_err().errcode(),
            45009
        );
    }
    assert_eq!(
        server.token_calls(&id),
        3,
        "no retry storm on a spent quota"
    );
    // The still-valid token keeps being served to plain readers.
    assert_eq!(wxtoken::get(&app).unwrap(), second);
}
