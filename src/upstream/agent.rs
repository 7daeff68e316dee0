//! The HTTP agent and its connection pool, rebuilt in a forked child so that
//! parent and child never share a socket.

use std::time::Duration;

use once_cell::sync::Lazy;
use parking_lot::Mutex;

use crate::fork;

static AGENT: Lazy<Mutex<(u64, ureq::Agent)>> =
    Lazy::new(|| Mutex::new((fork::generation(), build())));

fn build() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        // A redirect would carry the secret to another host.
        .redirects(0)
        .user_agent(concat!("wxtoken/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The agent of this process image (a clone shares the pool).
pub(super) fn current() -> ureq::Agent {
    let generation = fork::generation();
    let mut slot = AGENT.lock();
    if slot.0 != generation {
        *slot = (generation, build());
    }
    slot.1.clone()
}
