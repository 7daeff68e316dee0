//! The HTTP agent and its connection pool, rebuilt in a forked child so that
//! parent and child never share a socket. No lock: the agent is built
//! outside any critical section (a fork while a lock is held across the
//! build would leave the child blocked on it) and swapped in atomically.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;

use crate::fork;

/// The agent and the fork generation it was built in.
static AGENT: ArcSwapOption<(u64, ureq::Agent)> = ArcSwapOption::const_empty();

fn build() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        // A redirect would carry the secret to another host.
        .redirects(0)
        .user_agent(concat!("wxtoken/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The agent of this process image (a clone shares the pool). Two threads
/// that find none may both build one; the last stored wins, the other
/// serves its one call and is dropped.
pub(super) fn current() -> ureq::Agent {
    let generation = fork::generation();
    if let Some(slot) = AGENT.load().as_deref() {
        if slot.0 == generation {
            return slot.1.clone();
        }
    }
    let agent = build();
    AGENT.store(Some(Arc::new((generation, agent.clone()))));
    agent
}
