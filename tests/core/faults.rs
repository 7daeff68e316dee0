//! Each fault of the upstream: the valid token keeps being served; once no
//! valid token is left, the error surfaces clearly within wait_ms.

use std::thread;
use std::time::{Duration, Instant};

use wxtoken::ErrorKind;
use wxtoken_mock::Fault;

use crate::support::*;

fn outage(tag: &str, fault: Fault, expect: ErrorKind) {
    let id = appid(tag);
    let server = mock_for(&id, 3, 0);
    let app = configure(&server, &id, |c| {
        c.refresh_margin = secs(1.0);
        c.timeout = Duration::from_millis(300);
        c.wait = Duration::from_millis(2500);
    });
    let good = wxtoken::get(&app).unwrap();
    server.set_fault(fault, None);

    // Inside the margin and up to expiry: the good token, at once.
    let until_expiry = Instant::now() + secs(2.7);
    while Instant::now() < until_expiry {
        assert_eq!(wxtoken::get(&app).expect("served during the outage"), good);
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(check(&server, &good), 0);
    thread::sleep(secs(0.5)); // now expired

    let t0 = Instant::now();
    let err = wxtoken::get(&app).expect_err("no valid token left");
    assert!(
        t0.elapsed() < Duration::from_millis(2500 + 500),
        "surfaced after {:?}",
        t0.elapsed()
    );
    assert_eq!(err.kind(), expect, "{err}");
    assert!(!err.to_string().is_empty());

    // Bounded: a few attempts per refresh and cool-downs between refreshes.
    let calls = server.token_calls(&id);
    assert!(
        calls <= 1 + 3 * 4,
        "{calls} upstream calls during a 3 s outage"
    );
    server.set_fault(Fault::None, None);
}

#[test]
fn busy() {
    outage("busy", Fault::Busy, ErrorKind::Upstream);
}

#[test]
fn http_500() {
    outage("h500", Fault::Http500, ErrorKind::Upstream);
}

#[test]
fn garbage_body() {
    outage("garbage", Fault::Garbage, ErrorKind::BadResponse);
}

#[test]
fn hang() {
    outage("hang", Fault::Hang, ErrorKind::Timeout);
}

#[test]
fn dropped_connection() {
    outage("drop", Fault::Drop, ErrorKind::Network);
}

#[test]
fn transient_failures_are_retried_with_backoff() {
    let id = appid("retry");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |_| {});
    server.set_fault(Fault::Busy, Some(2));
    let token = wxtoken::get(&app).expect("third attempt succeeds");
    assert_eq!(check(&server, &token), 0);
    assert_eq!(
        server.token_calls(&id),
        3,
        "two busy answers, then the token"
    );
}

#[test]
fn a_hung_upstream_with_no_token_fails_within_wait_ms() {
    let id = appid("hangcold");
    let server = mock_for(&id, 7200, 300);
    server.set_fault(Fault::Hang, None);
    let app = configure(&server, &id, |c| {
        c.timeout = Duration::from_secs(30);
        c.wait = Duration::from_millis(400);
    });
    let t0 = Instant::now();
    let err = wxtoken::get(&app).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.to_string().contains("wait_ms"), "{err}");
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "waited {:?}",
        t0.elapsed()
    );
    server.set_fault(Fault::None, None);
}

/// An api_base where nothing listens, and a wait shorter than the
/// refresh's retries: the timeout says why the refresh keeps failing.
#[test]
fn a_timeout_carries_the_network_cause() {
    let id = appid("refused");
    let server = mock_for(&id, 7200, 300);
    // A port that was free a moment ago: connections are refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = configure(&server, &id, |c| {
        c.api_base = base;
        c.wait = Duration::from_millis(500);
    });
    let err = wxtoken::get(&app).unwrap_err();
    // The wait ends while the refresh retries (a timeout that names the
    // cause), or the refresh gives up first (when no retry fits its lease;
    // the network error itself): either way the cause is the caller's.
    let cause_survives = match err.kind() {
        wxtoken::ErrorKind::Timeout => err.errmsg().contains("last attempt failed: network"),
        wxtoken::ErrorKind::Network => true,
        _ => false,
    };
    assert!(cause_survives, "the network cause survives: {err}");
    assert_eq!(server.token_calls(&id), 0);
}

/// A margin beyond half the lifetime is clamped, and status says so.
#[test]
fn status_shows_the_margin_in_effect() {
    let id = appid("margin");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |c| c.refresh_margin = secs(5000.0));
    wxtoken::get(&app).unwrap();
    let st = wxtoken::status(&app).unwrap();
    assert_eq!(st["refresh_margin_s"], 5000, "as configured");
    let effective = st["token"]["effective_margin_s"].as_u64().unwrap();
    assert!((3599..=3600).contains(&effective), "{st}");
}
