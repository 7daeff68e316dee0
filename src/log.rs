//! Diagnostics on stderr when `WXTOKEN_LOG` is set (to anything but 0).
//! Lines are built from wxtoken's own errors, which never hold the secret.

use once_cell::sync::Lazy;

static ENABLED: Lazy<bool> =
    Lazy::new(|| std::env::var("WXTOKEN_LOG").is_ok_and(|v| !v.is_empty() && v != "0"));

pub(crate) fn info(args: std::fmt::Arguments<'_>) {
    if *ENABLED {
        use std::io::Write;
        // Not eprintln!: it panics when stderr is a closed pipe, and a panic
        // on a refresh thread must not happen for a log line.
        let _ = writeln!(std::io::stderr(), "wxtoken[{}]: {args}", std::process::id());
    }
}
