//! The fresh read (no clock, no shared write: src/fresh.rs) keeps the
//! contract: a token past its refresh point is never read as fresh, a
//! token replaced here or by another process reaches every thread's copy,
//! and unconfigure, nested reads and thread teardown are safe.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wxtoken::{ErrorKind, StoreSpec};
use wxtoken_mock::Fault;

use crate::support::*;

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Waits (bounded) until the marker thread arms the app's fresh word: the
/// reads below then take the clock-free path, not the clock fallback.
fn armed(app: &str) -> std::num::NonZeroU64 {
    let started = Instant::now();
    loop {
        if let Some(e) = wxtoken::fresh_epoch(app) {
            return e;
        }
        assert!(
            started.elapsed() < secs(2.0),
            "the fresh word was never armed"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

fn fresh_token(app: &str) -> Option<String> {
    wxtoken::with_fresh_token(app, |t| t.to_string())
}

/// A 6 s token, 3 s margin: its refresh point is at most 3 s after `get`
/// returned it. Every refresh fails, so the token stays the cell's (valid,
/// inside the margin): from its refresh point on the fresh read must say
/// "not fresh" every time, while `get` keeps serving it.
#[test]
fn a_token_past_its_refresh_point_is_never_read_as_fresh() {
    let id = appid("stale");
    let server = mock_for(&id, 6, 1);
    let app = configure(&server, &id, |c| c.refresh_margin = secs(3.0));
    let token = wxtoken::get(&app).unwrap().to_string();
    let got_at = wall_ms();
    armed(&app);
    server.set_fault(Fault::Busy, None);
    // The refresh point is at most got_at + 3000; the coarse clock of the
    // clock-reading path allows one 4 ms tick past it.
    let bound = got_at + 3000 + 5;
    let (mut fresh_before, mut checked_after) = (0u32, 0u32);
    while wall_ms() < got_at + 5000 {
        let asked_at = wall_ms();
        let fresh = fresh_token(&app);
        if asked_at > bound {
            assert_eq!(
                fresh,
                None,
                "read as fresh {} ms past the refresh point",
                asked_at - (got_at + 3000)
            );
            assert_eq!(wxtoken::fresh_epoch(&app), None);
            assert_eq!(wxtoken::get(&app).unwrap().as_str(), token, "still valid");
            checked_after += 1;
        } else if fresh.is_some() {
            assert_eq!(fresh.as_deref(), Some(token.as_str()));
            fresh_before += 1;
        }
        thread::sleep(Duration::from_millis(2));
    }
    assert!(
        fresh_before > 0,
        "never read as fresh before its refresh point"
    );
    assert!(
        checked_after > 100,
        "{checked_after} reads past the refresh point"
    );
    server.set_fault(Fault::None, None);
}

/// Another thread holds the token in its own copy; an invalidation here
/// replaces it before `invalidate` returns, so that thread's next read
/// never hands out the old one.
#[test]
fn an_invalidated_token_reaches_every_threads_copy_at_once() {
    let id = appid("tlinv");
    let server = mock_for(&id, 7200, 0);
    let app = configure(&server, &id, |_| {});
    let old = wxtoken::get(&app).unwrap().to_string();
    armed(&app);
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (seen_tx, seen_rx) = mpsc::channel::<Option<String>>();
    let reader = {
        let app = app.clone();
        thread::spawn(move || {
            seen_tx.send(fresh_token(&app)).unwrap(); // fills its copy
            go_rx.recv().unwrap();
            seen_tx.send(fresh_token(&app)).unwrap();
            seen_tx
                .send(Some(wxtoken::get(&app).unwrap().to_string()))
                .unwrap();
        })
    };
    assert_eq!(seen_rx.recv().unwrap().as_deref(), Some(old.as_str()));
    let new = wxtoken::invalidate(&app, &old).unwrap().to_string();
    assert_ne!(new, old);
    go_tx.send(()).unwrap();
    let after = seen_rx.recv().unwrap();
    assert!(
        after.is_none() || after.as_deref() == Some(new.as_str()),
        "{after:?}"
    );
    assert_eq!(seen_rx.recv().unwrap(), Some(new.clone()));
    reader.join().unwrap();
    assert_eq!(check(&server, &new), 0);
    assert_eq!(server.token_calls(&id), 2);
}

/// A `wxtoken invalidate` process replaces the token in the shared file
/// store: this process's fresh read moves to the new token within the
/// refresher's poll (500 ms; the bound here is loose) and never goes back.
#[test]
fn a_report_by_another_process_reaches_the_fresh_read() {
    let id = appid("xinv");
    let dir: PathBuf =
        std::env::temp_dir().join(format!("wxtoken-fresh-{}-{id}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = mock_for(&id, 7200, 0);
    let app = configure(&server, &id, |c| {
        c.store = StoreSpec::File(Some(dir.clone()))
    });
    let old = wxtoken::get(&app).unwrap().to_string();
    let first = armed(&app);
    let out = wxtoken_cli(&server, &id, &["invalidate", "--token", &old])
        .arg(format!("--store=file:{}", dir.display()))
        .output()
        .unwrap();
    let new = printed_token(out);
    assert_ne!(new, old);
    let started = Instant::now();
    while fresh_token(&app).as_deref() != Some(new.as_str()) {
        assert!(started.elapsed() < secs(2.0), "not picked up");
        thread::sleep(Duration::from_millis(5));
    }
    assert_ne!(armed(&app), first, "a new token, a new epoch");
    for _ in 0..50 {
        assert_ne!(fresh_token(&app).as_deref(), Some(old.as_str()));
        thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(server.token_calls(&id), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A thread that read the token keeps no way to it once the app is
/// unconfigured: its next read is `NotConfigured`, not its old copy.
#[test]
fn unconfigure_reaches_a_threads_copy() {
    let id = appid("tlunc");
    let server = mock_for(&id, 7200, 0);
    let app = configure(&server, &id, |_| {});
    wxtoken::get(&app).unwrap();
    armed(&app);
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let reader = {
        let app = app.clone();
        thread::spawn(move || {
            assert!(fresh_token(&app).is_some());
            ready_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            (fresh_token(&app), wxtoken::get(&app).map(|t| t.to_string()))
        })
    };
    ready_rx.recv().unwrap();
    assert!(wxtoken::unconfigure(&app));
    go_tx.send(()).unwrap();
    let (fresh, got) = reader.join().unwrap();
    assert_eq!(fresh, None);
    assert_eq!(got.unwrap_err().kind(), ErrorKind::NotConfigured);
}

/// A callback that reads the token again (with_token inside with_token),
/// and a thread-local destructor that reads it while the thread is torn
/// down (its wxtoken cache may already be gone): both get the token.
#[test]
fn nested_reads_and_reads_from_thread_local_destructors_are_safe() {
    let id = appid("nest");
    let server = mock_for(&id, 7200, 0);
    let app = configure(&server, &id, |_| {});
    let token = wxtoken::get(&app).unwrap().to_string();
    armed(&app);
    let inner = wxtoken::with_token(&app, |outer| {
        let inner = wxtoken::with_token(&app, |t| t.to_string()).unwrap();
        assert_eq!(outer, inner);
        inner
    })
    .unwrap();
    assert_eq!(inner, token);

    struct ReadsOnDrop(String, mpsc::Sender<String>);
    impl Drop for ReadsOnDrop {
        fn drop(&mut self) {
            let t = wxtoken::get(&self.0).map(|t| t.to_string());
            let _ = self.1.send(t.unwrap_or_else(|e| format!("error: {e}")));
        }
    }
    thread_local!(static LATE: std::cell::RefCell<Option<ReadsOnDrop>> = const {
        std::cell::RefCell::new(None)
    });
    let (tx, rx) = mpsc::channel();
    for _ in 0..4 {
        let (app, tx) = (app.clone(), tx.clone());
        thread::spawn(move || {
            // Read first (the cache is made), then register the reader:
            // destructors run in either order across the thread-locals.
            wxtoken::get(&app).unwrap();
            LATE.with(|l| *l.borrow_mut() = Some(ReadsOnDrop(app.clone(), tx)));
        })
        .join()
        .unwrap();
    }
    drop(tx);
    let seen: Vec<String> = rx.iter().collect();
    assert_eq!(seen, vec![token; 4]);
}
