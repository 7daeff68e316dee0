//! The background refresher: keeps used tokens fresh without traffic and
//! picks up records other processes wrote. One thread per process image,
//! started on first use (never at load) and again in a forked child, which
//! inherits no threads.

use std::thread;
use std::time::Duration;

use crate::clock::now_ms;
use crate::fork;
use crate::fresh;
use crate::log::{self, Event};
use crate::registry;

/// The longest sleep, and so the bound on how long a process keeps using a
/// token after another process replaced it in the store: the fresh path
/// itself never looks at the store (no system call there).
pub(crate) const POLL_MS: u64 = 500;
const MIN_SLEEP_MS: u64 = 10;

static REFRESHER: fork::ThreadPerImage = fork::ThreadPerImage::new();

pub(crate) fn ensure_running() {
    match REFRESHER.start("wxtoken-refresher", run) {
        Ok(true) => {}
        Ok(false) => return, // running, or another thread is starting it
        Err(e) => {
            log::emit(Event::ThreadStartFailed, "", |r| {
                r.set("thread", "wxtoken-refresher");
                format!("cannot start the refresher thread: {}", e.kind())
            });
            return;
        }
    }
    // Its own thread, doing no I/O: a refresher waiting on a store (a Redis
    // that hangs) must not delay a fresh word's marking. If it cannot
    // start, readers keep reading the clock (fresh.rs).
    if let Err(e) = thread::Builder::new()
        .name("wxtoken-marker".into())
        .spawn(|| fresh::run_marker(registry::fresh_words, registry::renew_epochs))
    {
        log::emit(Event::ThreadStartFailed, "", |r| {
            r.set("thread", "wxtoken-marker");
            format!(
                "cannot start the marker thread (fresh reads use the clock): {}",
                e.kind()
            )
        });
    }
}

fn run() {
    let generation = fork::generation();
    while fork::generation() == generation {
        let now = now_ms();
        let mut next = now + POLL_MS;
        for cell in registry::cells() {
            if let Some(due) = cell.tick(now) {
                next = next.min(due);
            }
        }
        let sleep = next.saturating_sub(now_ms()).max(MIN_SLEEP_MS);
        thread::sleep(Duration::from_millis(sleep));
    }
}
