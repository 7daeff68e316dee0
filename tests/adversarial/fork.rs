//! A fork storm: children forked while other threads of the parent are
//! inside wxtoken's critical sections (a cell's flight lock, the memory
//! store's locks, the HTTP agent, the refresher's start, the registry's
//! writer) must find every lock free. Each child calls every entry point
//! and must exit within a bound; before the fork gate some hung forever.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use wxtoken::StoreSpec;
use wxtoken_mock::{Fault, MockApp, MockConfig, MockServer};

use crate::support::*;

const FORKS: usize = 120;
const HAMMERS: usize = 4;
const CHILD_BOUND: Duration = Duration::from_secs(10);
/// The storm refreshes one app hundreds of times: the daily fetch budget it
/// shares through the memory store is set to the platform's (the
/// simulator's quota), not the default 500.
const STORM_BUDGET: u64 = 2000;

/// Exit codes: 0 ok, 1x an entry point failed where it must not.
fn child(mem: &str, file: &str, base: &str) -> i32 {
    let Ok(token) = wxtoken::get(mem) else {
        return 10;
    };
    if wxtoken::status(mem).is_err() {
        return 11;
    }
    let _ = wxtoken::invalidate(mem, "stale-in-the-child");
    let _ = wxtoken::invalidate(mem, &token); // a refresh of the child's own
    let _ = wxtoken::get(file);
    let _ = wxtoken::invalidate(file, "stale-in-the-child");
    if wxtoken::status(file).is_err() {
        return 12;
    }
    let mut cfg = wxtoken::Config::new(mem, SECRET);
    cfg.api_base = base.to_string();
    cfg.store = StoreSpec::Memory;
    cfg.name = "fork-storm-child".into();
    cfg.daily_fetch_budget = STORM_BUDGET;
    let Ok(own) = wxtoken::configure(cfg) else {
        return 14;
    };
    // A refresh under a name of its own: no cool-down or ceiling inherited.
    let Ok(before) = wxtoken::get(&own) else {
        return 15;
    };
    match wxtoken::invalidate(&own, &before) {
        Ok(after) if after != before => {}
        _ => return 16,
    }
    if wxtoken::get(mem).is_err() {
        return 17;
    }
    0
}

#[test]
fn children_forked_during_a_storm_of_calls_never_hang() {
    let mem_id = appid("stormmem");
    let file_id = appid("stormfile");
    let server = MockServer::start(MockConfig {
        apps: vec![MockApp::mp(&mem_id, SECRET), MockApp::mp(&file_id, SECRET)],
        ..MockConfig::default()
    })
    .unwrap();
    let dir = std::env::temp_dir().join(format!("wxtoken-adv-storm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mem = configure(&server, &mem_id, |c| {
        c.daily_fetch_budget = STORM_BUDGET;
        c.wait = secs(3.0);
        c.timeout = secs(2.0);
    });
    let file = configure(&server, &file_id, |c| {
        c.store = StoreSpec::File(Some(dir.clone()));
        c.wait = secs(3.0);
        c.timeout = secs(2.0);
    });
    wxtoken::get(&mem).unwrap();
    wxtoken::get(&file).unwrap();
    // Slow fetches keep flights, leases and the agent busy.
    server.set_fault(Fault::Slow(Duration::from_millis(20)), None);

    let stop = Arc::new(AtomicBool::new(false));
    let hammers: Vec<_> = (0..HAMMERS)
        .map(|id| {
            let (stop, mem, file, base) =
                (stop.clone(), mem.clone(), file.clone(), server.base_url());
            let mem_id = mem_id.clone();
            thread::spawn(move || {
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let app = if (i + id) % 2 == 0 { &mem } else { &file };
                    let _ = wxtoken::get(app);
                    let _ = wxtoken::invalidate(app, "no-longer-current");
                    let _ = wxtoken::status(app);
                    if i % 40 == id {
                        if let Ok(t) = wxtoken::get(app) {
                            let _ = wxtoken::invalidate(app, &t);
                        }
                    }
                    if i % 10 == 0 {
                        // The registry's writer, and a real refresh under a
                        // ceiling of its own (the two apps soon reach theirs).
                        let mut cfg = wxtoken::Config::new(&mem_id, SECRET);
                        cfg.api_base = base.clone();
                        cfg.store = StoreSpec::Memory;
                        cfg.name = format!("storm-{id}-{i}");
                        cfg.daily_fetch_budget = STORM_BUDGET;
                        if let Ok(name) = wxtoken::configure(cfg) {
                            if let Ok(t) = wxtoken::get(&name) {
                                let _ = wxtoken::invalidate(&name, &t);
                            }
                        }
                    }
                    i += 1;
                }
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(100));

    let base = server.base_url();
    let (mut hung, mut failed) = (0, Vec::new());
    for _ in 0..FORKS {
        // SAFETY: the child calls wxtoken, then _exit; it never returns here.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = child(&mem, &file, &base);
            // SAFETY: ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(code) };
        }
        match wait_for(pid, CHILD_BOUND) {
            None => hung += 1,
            Some(0) => {}
            Some(code) => failed.push(code),
        }
    }
    stop.store(true, Ordering::Relaxed);
    for h in hammers {
        h.join().unwrap();
    }
    server.set_fault(Fault::None, None);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(hung, 0, "{hung} of {FORKS} children hung on a lock");
    assert_eq!(
        failed,
        Vec::<i32>::new(),
        "children that failed (exit codes)"
    );
    assert!(wxtoken::get(&mem).is_ok(), "the parent is unharmed");
}
