//! A process with a wrong secret used to serve the tokens others stored, and
//! nobody noticed until it had to refresh itself (a secret rotation missed).
//! Status now says whether this process's own secret was ever verified (its
//! own fetch succeeded) or last rejected.

use std::path::PathBuf;
use std::thread;

use wxtoken::{ErrorKind, Mode, Secret, StoreSpec};

use crate::support::*;

fn store_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wxtoken-adv-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_wrong_secret_shows_as_unverified_then_rejected() {
    let id = appid("cred");
    let server = mock_for(&id, 7200, 300);
    let dir = store_dir("cred");
    let good = configure(&server, &id, |c| {
        c.store = StoreSpec::File(Some(dir.clone()))
    });
    let token = wxtoken::get(&good).unwrap();
    let creds = &wxtoken::status(&good).unwrap()["credentials"];
    assert_eq!(creds["verified"], true, "{creds}");
    assert!(creds["last_verified_at_ms"].as_u64().is_some(), "{creds}");

    // Another "process" (a cell of its own) with a rotated-away secret.
    let wrong = configure(&server, &id, |c| {
        c.name = format!("{id}-wrong");
        c.secret = Secret::new("the-secret-before-rotation");
        c.store = StoreSpec::File(Some(dir.clone()));
    });
    assert_eq!(
        wxtoken::get(&wrong).unwrap(),
        token,
        "served from the store"
    );
    let creds = wxtoken::status(&wrong).unwrap()["credentials"].clone();
    assert_eq!(creds["verified"], false, "{creds}");
    assert!(creds["last_verified_at_ms"].is_null(), "{creds}");
    assert!(creds["last_rejected"].is_null(), "{creds}");
    // Classic mode never fetches just to verify: that would kill the token.
    thread::sleep(secs(1.2));
    assert_eq!(server.token_calls(&id), 1);

    let err = wxtoken::invalidate(&wrong, &token).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CredentialsRejected, "{err}");
    let creds = wxtoken::status(&wrong).unwrap()["credentials"].clone();
    assert_eq!(creds["verified"], false, "{creds}");
    assert_eq!(creds["last_rejected"]["errcode"], err.errcode(), "{creds}");
    let shown = creds.to_string();
    assert!(!shown.contains("the-secret-before-rotation") && !shown.contains(SECRET));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn in_stable_mode_the_refresher_verifies_an_adopted_secret_once() {
    let id = appid("credstable");
    let server = mock_for(&id, 7200, 300);
    let dir = store_dir("credstable");
    let stable_file = |c: &mut wxtoken::Config| {
        c.mode = Mode::Stable;
        c.store = StoreSpec::File(Some(dir.clone()));
    };
    let first = configure(&server, &id, stable_file);
    let token = wxtoken::get(&first).unwrap();
    let adopter = configure(&server, &id, |c| {
        stable_file(c);
        c.name = format!("{id}-adopter");
    });
    let wrong = configure(&server, &id, |c| {
        stable_file(c);
        c.name = format!("{id}-wrong");
        c.secret = Secret::new("the-secret-before-rotation");
    });
    assert_eq!(wxtoken::get(&adopter).unwrap(), token);
    assert_eq!(wxtoken::get(&wrong).unwrap(), token);
    // The refresher visits every 500 ms at most.
    thread::sleep(secs(1.5));
    let adopted = wxtoken::status(&adopter).unwrap()["credentials"].clone();
    assert_eq!(adopted["verified"], true, "{adopted}");
    let rejected = wxtoken::status(&wrong).unwrap()["credentials"].clone();
    assert_eq!(rejected["verified"], false, "{rejected}");
    assert!(
        rejected["last_rejected"]["errcode"].as_i64().unwrap_or(0) != 0,
        "{rejected}"
    );
    assert_eq!(
        server.stats()["token_calls"][&id]["stable_token"],
        3,
        "one each"
    );
    thread::sleep(secs(1.2));
    assert_eq!(
        server.stats()["token_calls"][&id]["stable_token"],
        3,
        "only once"
    );
    // The same token throughout, still accepted, and still served by both.
    assert_eq!(wxtoken::get(&wrong).unwrap(), token);
    assert_eq!(check(&server, &token), 0);
    let _ = std::fs::remove_dir_all(&dir);
}
