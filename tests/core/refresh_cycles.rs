use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use wxtoken_mock::Fault;

use crate::support::*;

/// Lifetimes compressed to 3 s, refresh 1 s ahead: a business loop lives
/// through at least 5 refreshes and the platform never refuses a call.
#[test]
fn a_business_loop_through_five_refresh_cycles_is_never_refused() {
    let id = appid("cycles");
    let server = mock_for(&id, 3, 1);
    let app = configure(&server, &id, |c| c.refresh_margin = secs(1.0));
    let mut seen = BTreeSet::new();
    let mut refused = Vec::new();
    let start = Instant::now();
    while start.elapsed() < secs(11.0) {
        let token = wxtoken::get(&app).expect("get");
        match check(&server, &token) {
            0 => {}
            code => refused.push(code),
        }
        seen.insert(token.to_string());
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(refused, Vec::<i64>::new(), "no business call refused");
    assert!(
        seen.len() >= 5,
        "lived through {} tokens, want >= 5",
        seen.len()
    );
    let fetches = server.token_calls(&id);
    assert!(
        fetches as usize <= seen.len() + 1,
        "{fetches} fetches for {} tokens",
        seen.len()
    );
}

/// Without any traffic, the background refresher keeps the token fresh.
#[test]
fn an_idle_app_is_refreshed_in_the_background() {
    let id = appid("idle");
    let server = mock_for(&id, 3, 1);
    let app = configure(&server, &id, |c| c.refresh_margin = secs(1.0));
    let first = wxtoken::get(&app).unwrap();
    thread::sleep(secs(4.5)); // past the first token's expiry
    assert!(server.token_calls(&id) >= 2, "refreshed with nobody asking");
    let status = wxtoken::status(&app).unwrap();
    assert_eq!(status["token"]["fresh"], true, "{status}");
    let now = wxtoken::get(&app).unwrap();
    assert_ne!(now, first);
    assert_eq!(check(&server, &now), 0);
}

/// A 2 s fetch inside the refresh margin: readers keep getting the still
/// valid token at once. The bound is loose on purpose (a reader that waited
/// for the fetch would take 2 s); speed itself is measured in benches/.
#[test]
fn a_slow_fetch_inside_the_margin_does_not_delay_readers() {
    let id = appid("slow");
    let server = mock_for(&id, 5, 1);
    let app = configure(&server, &id, |c| c.refresh_margin = secs(2.0));
    let old = wxtoken::get(&app).unwrap();
    server.set_fault(Fault::Slow(Duration::from_secs(2)), Some(1));
    thread::sleep(secs(3.1)); // into the margin; the background refresh is now slow

    let stop = Arc::new(AtomicBool::new(false));
    let worst_us = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let (app, stop, worst, old) =
                (app.clone(), stop.clone(), worst_us.clone(), old.clone());
            thread::spawn(move || {
                let mut served_old = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let t0 = Instant::now();
                    let token = wxtoken::get(&app).expect("get");
                    worst.fetch_max(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
                    served_old += u64::from(token == old);
                }
                served_old
            })
        })
        .collect();
    thread::sleep(secs(1.5));
    let during = wxtoken::status(&app).unwrap();
    stop.store(true, Ordering::Relaxed);
    let served_old: u64 = readers.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(
        during["refreshing"], true,
        "the slow fetch was in flight: {during}"
    );
    assert!(
        served_old > 0,
        "readers were served the old token meanwhile"
    );
    let worst = Duration::from_micros(worst_us.load(Ordering::Relaxed));
    assert!(
        worst < Duration::from_millis(1000),
        "a reader waited {worst:?} for the fetch"
    );
    assert_eq!(
        check(&server, &old),
        0,
        "the old token was valid throughout"
    );

    thread::sleep(secs(1.0));
    let new = wxtoken::get(&app).unwrap();
    assert_ne!(new, old, "the slow refresh landed");
    assert_eq!(check(&server, &new), 0);
}
