//! Diagnostics on stderr when `WXTOKEN_LOG` is set (to anything but 0).
//! Lines are built from wxtoken's own errors, which never hold the secret.

use std::sync::atomic::{AtomicU8, Ordering};

/// 0: not read yet, 1: off, 2: on. An atomic, not a Lazy: a fork while
/// another thread initialises a Lazy leaves it locked in the child.
static ENABLED: AtomicU8 = AtomicU8::new(0);

fn enabled() -> bool {
    match ENABLED.load(Ordering::Relaxed) {
        0 => {
            let on = std::env::var("WXTOKEN_LOG").is_ok_and(|v| !v.is_empty() && v != "0");
            ENABLED.store(if on { 2 } else { 1 }, Ordering::Relaxed);
            on
        }
        state => state == 2,
    }
}

pub(crate) fn info(args: std::fmt::Arguments<'_>) {
    if enabled() {
        let line = format!("wxtoken[{}]: {args}\n", std::process::id());
        // One write(2), not std's stderr: its lock could be held by a parent
        // thread at a fork, and eprintln! panics when stderr is a closed
        // pipe. A short or failed write loses a log line, nothing else.
        // SAFETY: `line` is a valid buffer of `line.len()` bytes.
        let _ = unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
    }
}
