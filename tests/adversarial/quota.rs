//! The quota cannot be spent by a loop. A hostile or broken record that the
//! store will not let a refresh replace used to make every waiter start the
//! next fetch at once (the 2000/day quota went in 0.44 s); and nothing
//! bounded how often a process may fetch. Now such a refresh lands as an
//! error with a cool-down, and a local ceiling (10 fetches per app per
//! rolling minute and process) holds whatever the store or the callers do.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wxtoken::{ErrorKind, StoreSpec};

use crate::support::*;

/// The ceiling the library promises (stats.rs, FETCH_CEILING).
const CEILING: u64 = 10;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn a_record_the_store_will_not_replace_cannot_spend_the_quota() {
    let id = appid("hostile");
    let server = mock_for(&id, 7200, 300);
    let dir = std::env::temp_dir().join(format!("wxtoken-adv-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let app = configure(&server, &id, |c| {
        c.store = StoreSpec::File(Some(dir.clone()));
        c.wait = secs(2.0);
    });
    wxtoken::get(&app).unwrap();
    assert_eq!(server.token_calls(&id), 1);
    // Expired, "fetched" ten days from now, under the largest fence: newer
    // than anything a refresh writes, and the store keeps it.
    let record = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("the record file");
    let now = now_ms();
    let hostile = serde_json::json!({
        "v": 1,
        "token": "hostile-token",
        "expires_at_ms": now - 1000,
        "fetched_at_ms": now + 10 * 86_400_000,
        "generation": 5,
        "fence": u64::MAX,
    });
    std::fs::write(&record, hostile.to_string()).unwrap();

    let app = Arc::new(app);
    let hammers: Vec<_> = (0..4)
        .map(|_| {
            let app = app.clone();
            thread::spawn(move || {
                let start = Instant::now();
                while start.elapsed() < secs(3.0) {
                    let _ = wxtoken::invalidate(&app, "hostile-token");
                    let _ = wxtoken::get(&app);
                }
            })
        })
        .collect();
    for h in hammers {
        h.join().unwrap();
    }
    let fetches = server.token_calls(&id) - 1;
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        fetches <= CEILING,
        "{fetches} upstream fetches in 3 s against a record the store keeps"
    );
}

#[test]
fn invalidating_every_token_stops_at_the_local_ceiling() {
    let id = appid("ceiling");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |_| {});
    let mut token = wxtoken::get(&app).unwrap().to_string();
    let mut refused = None;
    let start = Instant::now();
    let mut round = 0u64;
    while start.elapsed() < secs(3.0) {
        // Other settings each round: a new cell, with a new flight and no
        // cool-down; the ceiling must survive it.
        configure(&server, &id, |c| {
            c.wait = Duration::from_millis(2000 + round % 2)
        });
        match wxtoken::invalidate(&app, &token) {
            Ok(t) => token = t.to_string(),
            Err(e) => refused = Some(e),
        }
        round += 1;
    }
    let fetches = server.token_calls(&id);
    assert!(
        fetches <= CEILING,
        "{fetches} upstream fetches in {round} rounds of 3 s"
    );
    let err = refused.expect("the ceiling refused a refresh");
    assert_eq!(err.kind(), ErrorKind::QuotaExhausted, "{err}");
    assert!(
        err.errmsg().contains("local fetch ceiling reached"),
        "{err}"
    );
    // Callers still get the last token, which is valid.
    let now = wxtoken::get(&app).unwrap();
    assert_eq!(check(&server, &now), 0);
}
