//! Stable mode: independent callers share the platform's one stable token.

use wxtoken::Mode;
use wxtoken_mock::MockServer;

use crate::support::*;

/// `wxtoken token` in a fresh process with the memory store: a caller that
/// shares nothing with the others.
fn independent_caller(server: &MockServer, id: &str, mode: &str) -> String {
    printed_token(
        wxtoken_cli(server, id, &["token", "--store", "memory", "--mode", mode])
            .output()
            .expect("run wxtoken"),
    )
}

#[test]
fn independent_stable_callers_never_invalidate_each_other() {
    let id = appid("stable");
    let server = mock_for(&id, 7200, 0);
    let tokens: Vec<String> = (0..4)
        .map(|_| independent_caller(&server, &id, "stable"))
        .collect();
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "one stable token for all"
    );
    assert_eq!(check(&server, &tokens[0]), 0);
    assert_eq!(server.stats()["token_calls"][&id]["stable_token"], 4);
}

/// The contrast that motivates wxtoken: classic fetches by independent
/// callers kill each other's tokens.
#[test]
fn independent_classic_callers_do_invalidate_each_other() {
    let id = appid("classic");
    let server = mock_for(&id, 7200, 0);
    let first = independent_caller(&server, &id, "token");
    let second = independent_caller(&server, &id, "token");
    assert_ne!(first, second);
    assert_eq!(
        check(&server, &first),
        40001,
        "the second fetch killed the first token"
    );
    assert_eq!(check(&server, &second), 0);
}

#[test]
fn stable_invalidate_forces_once_then_waits_out_the_spacing() {
    let id = appid("stableforce");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |c| c.mode = Mode::Stable);
    let t1 = wxtoken::get(&app).unwrap();
    let t2 = wxtoken::invalidate(&app, &t1).unwrap();
    assert_ne!(t2, t1, "force_refresh issued a new token");
    assert_eq!(check(&server, &t1), 40001);
    assert_eq!(check(&server, &t2), 0);
    // Within 30 s no second force: a normal call, which returns t2 again.
    let t3 = wxtoken::invalidate(&app, &t2).unwrap();
    assert_eq!(t3, t2);
    assert_eq!(server.stats()["token_calls"][&id]["stable_token"], 3);
}
