//! Configuring several apps at once, all or none, and forgetting one.

use std::thread;

use wxtoken::{ErrorKind, StoreSpec};

use crate::support::*;

/// One app whose store cannot be opened fails the whole batch: the apps
/// already running keep their settings, the new ones are not added.
#[test]
fn configure_all_changes_nothing_when_one_app_fails() {
    let (kept, added, broken) = (appid("all"), appid("all"), appid("all"));
    let server = mock_for(&kept, 7200, 300);
    let app = configure(&server, &kept, |c| c.refresh_margin = secs(60.0));
    let token = wxtoken::get(&app).unwrap();

    let not_a_dir = std::env::temp_dir().join(format!("wxtoken-notadir-{}", std::process::id()));
    std::fs::write(&not_a_dir, "a regular file").unwrap();
    let mut kept_changed = config(&server, &kept);
    kept_changed.refresh_margin = secs(120.0);
    let new_app = config(&server, &added);
    let mut bad = config(&server, &broken);
    bad.store = StoreSpec::File(Some(not_a_dir.join("store")));
    let err = wxtoken::configure_all(vec![kept_changed, new_app, bad]).unwrap_err();
    std::fs::remove_file(&not_a_dir).unwrap();

    assert!(err.errmsg().contains(&broken), "names the app: {err}");
    let status = wxtoken::status(&app).unwrap();
    assert_eq!(status["refresh_margin_s"], 60, "unchanged: {status}");
    assert_eq!(wxtoken::get(&app).unwrap(), token);
    for name in [&added, &broken] {
        let e = wxtoken::get(name).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotConfigured, "{name}: {e}");
    }
    assert_eq!(server.token_calls(&kept), 1);
}

/// A name twice in one batch is refused before anything changes.
#[test]
fn configure_all_refuses_a_name_twice() {
    let id = appid("twice");
    let server = mock_for(&id, 7200, 300);
    let err = wxtoken::configure_all(vec![config(&server, &id), config(&server, &id)]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.errmsg().contains("twice"), "{err}");
    assert_eq!(
        wxtoken::get(&id).unwrap_err().kind(),
        ErrorKind::NotConfigured
    );
}

/// An unconfigured app is no longer refreshed in the background and its
/// calls fail as not configured; configured again, it finds its token in
/// the store.
#[test]
fn an_unconfigured_app_is_no_longer_refreshed() {
    let id = appid("forget");
    let server = mock_for(&id, 3, 1);
    let app = configure(&server, &id, |c| c.refresh_margin = secs(1.0));
    let token = wxtoken::get(&app).unwrap();
    assert!(wxtoken::unconfigure(&app));
    assert_eq!(
        wxtoken::get(&app).unwrap_err().kind(),
        ErrorKind::NotConfigured
    );
    assert_eq!(
        wxtoken::invalidate(&app, &token).unwrap_err().kind(),
        ErrorKind::NotConfigured
    );

    let again = configure(&server, &id, |c| c.refresh_margin = secs(1.0));
    assert_eq!(wxtoken::get(&again).unwrap(), token, "from the store");
    assert!(wxtoken::unconfigure(&app));
    assert!(!wxtoken::unconfigure(&app), "already gone");
    assert!(!wxtoken::unconfigure("never-configured"));

    // Past the point where the refresher would have refreshed it (see
    // refresh_cycles::an_idle_app_is_refreshed_in_the_background).
    thread::sleep(secs(4.5));
    assert_eq!(server.token_calls(&id), 1, "no background refresh");
}

/// One name is one configuration per process: a second, different one
/// replaces it for every caller, and status says which settings changed
/// (the secret by name, never its value).
#[test]
fn a_conflicting_re_configure_shows_in_status() {
    let id = appid("again");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |c| c.refresh_margin = secs(60.0));
    assert_eq!(
        wxtoken::status(&app).unwrap()["reconfigured"],
        serde_json::Value::Null
    );
    // The same settings again (PHP configures on every request): nothing.
    configure(&server, &id, |c| c.refresh_margin = secs(60.0));
    assert_eq!(
        wxtoken::status(&app).unwrap()["reconfigured"],
        serde_json::Value::Null
    );

    configure(&server, &id, |c| c.refresh_margin = secs(120.0));
    let st = wxtoken::status(&app).unwrap();
    assert_eq!(
        st["reconfigured"]["changed"],
        serde_json::json!(["refresh_margin_s"]),
        "{st}"
    );
    assert!(st["reconfigured"]["at_ms"].as_u64().unwrap() > 0);

    configure(&server, &id, |c| {
        c.refresh_margin = secs(120.0);
        c.secret = wxtoken::Secret::new("another-secret-value");
    });
    let st = wxtoken::status(&app).unwrap();
    assert_eq!(
        st["reconfigured"]["changed"],
        serde_json::json!(["secret"]),
        "{st}"
    );
    assert!(!st.to_string().contains("another-secret-value"));
}
