//! fork() after use: the child works at once, keeps the cached token, never
//! hangs on a lock or a refresh thread it does not have, and fetches over
//! its own connection. Its own test binary: no other test threads may hold
//! locks at the moment of the fork.

use std::time::{Duration, Instant};

use wxtoken::{Config, StoreSpec};
use wxtoken_mock::{MockApp, MockConfig, MockServer};

#[test]
fn a_forked_child_keeps_the_token_and_refreshes_on_its_own() {
    let server = MockServer::start(MockConfig {
        apps: vec![MockApp::mp("wxforktest", "fork-secret")],
        ..MockConfig::default()
    })
    .unwrap();
    let mut cfg = Config::new("wxforktest", "fork-secret");
    cfg.api_base = server.base_url();
    cfg.store = StoreSpec::Memory;
    cfg.wait = Duration::from_secs(5);
    let app = wxtoken::configure(cfg).unwrap();
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
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut status = 0;
    loop {
        // SAFETY: pid is our child; status is a valid out-pointer.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            break;
        }
        if Instant::now() > deadline {
            // SAFETY: killing our own hung child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the forked child hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(libc::WIFEXITED(status), "child crashed: {status}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "1: lost the token, 2: get failed, 3/4: refresh failed"
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
    let server = MockServer::start(MockConfig {
        apps: vec![MockApp::mp("wxforkepoch", "fork-secret")],
        ..MockConfig::default()
    })
    .unwrap();
    let mut cfg = Config::new("wxforkepoch", "fork-secret");
    cfg.api_base = server.base_url();
    cfg.store = StoreSpec::Memory;
    cfg.wait = Duration::from_secs(5);
    let app = wxtoken::configure(cfg).unwrap();
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
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut status = 0;
    loop {
        // SAFETY: pid is our child; status is a valid out-pointer.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            break;
        }
        if Instant::now() > deadline {
            // SAFETY: killing our own hung child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the forked child hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(libc::WIFEXITED(status), "child crashed: {status}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "1: the child's word kept the parent's epoch, 2: never armed, 3: lost the token"
    );
    assert_eq!(server.token_calls("wxforkepoch"), 1, "no fetch in either");
    // The parent's word is its own: unchanged by the child.
    assert_eq!(
        wxtoken::fresh_epoch(&app).map(|e| e.get()),
        Some(parent_epoch)
    );
}
