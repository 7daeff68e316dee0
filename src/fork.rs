//! Fork detection. PHP-FPM and Python's multiprocessing fork processes that
//! already loaded wxtoken: the child has none of the parent's threads, and the
//! parent's sockets must not be shared. A pthread_atfork child handler bumps a
//! generation; state tagged with an older generation is rebuilt lazily.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

static GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTER: Once = Once::new();

extern "C" fn on_fork_child() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// The number of forks between the first call in the original process and now.
pub(crate) fn generation() -> u64 {
    REGISTER.call_once(|| {
        // SAFETY: registers a handler that only touches an atomic (async-signal-safe).
        unsafe {
            libc::pthread_atfork(None, None, Some(on_fork_child));
        }
    });
    GENERATION.load(Ordering::SeqCst)
}
