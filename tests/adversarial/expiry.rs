//! A token's life counts from before its request left: the platform starts
//! it somewhere in the round trip, so a slow response (a congested link, a
//! stalled proxy) must not make wxtoken serve it after the platform retired
//! it.

use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wxtoken_mock::Fault;

use crate::support::*;

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn a_slowly_delivered_token_never_looks_valid_after_the_platform_retired_it() {
    let id = appid("slowexp");
    let server = mock_for(&id, 4, 0);
    let app = configure(&server, &id, |c| {
        // No refresh before expiry: the first token is the one checked.
        c.refresh_margin = Duration::ZERO;
        c.timeout = secs(9.0);
        c.wait = secs(9.0);
    });
    // The token is issued at once; its response trickles in for over a second.
    server.set_fault(Fault::Dribble(Duration::from_millis(10)), Some(1));
    let token = wxtoken::get(&app).unwrap();
    let expires = wxtoken::status(&app).unwrap()["token"]["expires_at_ms"]
        .as_u64()
        .unwrap();
    // Just before the moment wxtoken stops serving it.
    let at = expires.saturating_sub(300);
    let left = at.saturating_sub(wall_ms());
    assert!(
        left < 10_000,
        "expires {left} ms from now: not the 4 s token"
    );
    thread::sleep(Duration::from_millis(left));
    assert_eq!(
        check(&server, &token),
        0,
        "wxtoken would still serve the token, but the platform retired it"
    );
}
