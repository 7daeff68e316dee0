//! The background refresher: keeps used tokens fresh without traffic and
//! picks up records other processes wrote. One thread per process image,
//! started on first use (never at load) and again in a forked child, which
//! inherits no threads.

use std::thread;
use std::time::Duration;

use parking_lot::Mutex;

use crate::clock::now_ms;
use crate::fork;
use crate::log;
use crate::registry;

/// The longest sleep, and so the bound on how long a process keeps using a
/// token after another process replaced it in the store: the fresh path
/// itself never looks at the store (no system call there).
pub(crate) const POLL_MS: u64 = 500;
const MIN_SLEEP_MS: u64 = 10;

/// The fork generation whose refresher thread is running.
static RUNNING_IN: Mutex<Option<u64>> = Mutex::new(None);

pub(crate) fn ensure_running() {
    let generation = fork::generation();
    let mut running = RUNNING_IN.lock();
    if *running == Some(generation) {
        return;
    }
    match thread::Builder::new()
        .name("wxtoken-refresher".into())
        .spawn(run)
    {
        Ok(_) => *running = Some(generation),
        Err(e) => log::info(format_args!(
            "cannot start the refresher thread: {}",
            e.kind()
        )),
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
