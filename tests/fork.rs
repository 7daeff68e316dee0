//! fork() after use: the child works at once, keeps the cached token, never
//! hangs on a lock or a refresh thread it does not have, and fetches over
//! its own connection. Its own test binary: no other test threads may hold
//! locks at the moment of the fork.

#[allow(dead_code)] // the simulator, the app and the child's wait only
#[path = "core/support.rs"]
mod support;

use std::time::{Duration, Instant};

#[test]
fn a_forked_child_keeps_the_token_and_refreshes_on_its_own() {
    let server = support::mock_for("wxforktest", 7200, 300);
    let app = support::configure(&server, "wxforktest", |c| c.wait = Duration::from_secs(5));
    let token = wxtoken::get(&app).unwrap();

    // SAFETY: the child only calls wxtoken and async-signal-safe _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = match wxtoken::get(&app) {
            Ok(t) if t == token => match wxtoken::invalidate(&app, &token) {
                Ok(fresh) if fresh != token => 0,
                Ok(_) => 3,
                Err(_) => 4,
            },
            Ok(_) => 1,
            Err(_) => 2,
        };
        // SAFETY: _exit ends the child without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let code = support::wait_for(pid, Duration::from_secs(20)).expect("the forked child hung");
    assert_eq!(
        code, 0,
        "1: lost the token, 2: get failed, 3/4: refresh failed, 100+: a signal"
    );
    assert_eq!(
        server.token_calls("wxforktest"),
        2,
        "the child fetched once, on its own"
    );
    // The parent is unharmed.
    assert_eq!(wxtoken::get(&app).unwrap(), token);
}

/// A forked child inherits the forking thread's copy of the token, keyed by
/// the parent's fresh word, and the word itself, which a fork in the middle
/// of an adopt may leave naming a token no longer held. The child's marker
/// gives every token a new epoch before it arms: no inherited copy can match.
#[test]
fn a_forked_childs_fresh_words_name_new_epochs() {
    let server = support::mock_for("wxforkepoch", 7200, 300);
    let app = support::configure(&server, "wxforkepoch", |c| c.wait = Duration::from_secs(5));
    let token = wxtoken::get(&app).unwrap();
    let armed = |app: &str| {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let _ = wxtoken::get(app); // a clock read starts the marker
            if let Some(epoch) = wxtoken::fresh_epoch(app) {
                return Some(epoch.get());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let parent_epoch = armed(&app).expect("the parent's marker arms the word");

    // SAFETY: the child only calls wxtoken, sleeps and calls _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = match armed(&app) {
            Some(e) if e == parent_epoch => 1,
            Some(_) => match wxtoken::get(&app) {
                Ok(t) if t == token => 0,
                _ => 3,
            },
            None => 2,
        };
        // SAFETY: _exit ends the child without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let code = support::wait_for(pid, Duration::from_secs(20)).expect("the forked child hung");
    assert_eq!(
        code,
        0,
        "1: the child's word kept the parent's epoch, 2: never armed, 3: lost the token, 100+: a signal"
    );
    assert_eq!(server.token_calls("wxforkepoch"), 1, "no fetch in either");
    // The parent's word is its own: unchanged by the child.
    assert_eq!(
        wxtoken::fresh_epoch(&app).map(|e| e.get()),
        Some(parent_epoch)
    );
}
