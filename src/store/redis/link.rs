//! One connection per store and process image, made lazily and remade after
//! an error or a fork: a child never writes on its parent's socket (the two
//! would interleave commands and read each other's replies).
//!
//! Every call is bounded: connect, read and write time out. Once Redis is
//! known to be down (a failed connect, a lost or silent connection), only
//! wxtoken's own threads (the background refresher and refresh threads)
//! try to reconnect, at most once a second; business threads are answered
//! "down" at once meanwhile, so that a hung Redis never holds up a `get`
//! that has a valid token to serve. Should no wxtoken thread run, a
//! business thread tries again after [`BUSINESS_RETRY_MS`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use redis::{Connection, RedisError};

use crate::clock::mono_ms;
use crate::error::{Error, ErrorKind, Result};
use crate::fork;

use super::target::Target;

/// How often wxtoken's threads try to reconnect to a Redis that is down.
const RECONNECT_AFTER_MS: u64 = 1000;
/// How often a business thread does, if no wxtoken thread does it.
const BUSINESS_RETRY_MS: u64 = 5000;

/// The connection of one process image: a child gets a new slot (and a new
/// mutex: the parent's may have been held by a thread the child lacks).
struct Slot {
    fork_gen: u64,
    state: Mutex<State>,
    /// Redis is known to be down; read without taking `state`.
    down: AtomicBool,
    /// Why, repeated to the callers answered without a try.
    down_why: Mutex<String>,
    /// Monotonic ms from which a business thread may try again.
    business_retry_at: AtomicU64,
}

#[derive(Default)]
struct State {
    conn: Option<Connection>,
    /// Monotonic ms before which no new connect is tried.
    next_try: u64,
}

pub(super) struct Link {
    target: Target,
    timeout: Duration,
    /// For messages: the address without the password.
    name: String,
    slot: ArcSwap<Slot>,
}

impl Link {
    pub fn new(target: Target, timeout: Duration, name: String) -> Link {
        Link {
            target,
            timeout,
            name,
            slot: ArcSwap::from_pointee(Slot::new()),
        }
    }

    /// Runs `f` on the connection; `what` names the operation in errors.
    /// An I/O error drops the connection, so the next call reconnects.
    pub fn run<T>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T> {
        let slot = self.current_slot();
        if slot.down.load(Ordering::Acquire)
            && !on_wxtoken_thread()
            && mono_ms() < slot.business_retry_at.load(Ordering::Relaxed)
        {
            return Err(self.down_error(&slot, what));
        }
        // The holder's own call is bounded by the timeouts; so is this wait.
        let Some(mut state) = slot.state.try_lock_for(self.timeout * 2) else {
            return Err(self.error(what, "busy: another call is still waiting for Redis"));
        };
        if state.conn.is_none() {
            if mono_ms() < state.next_try {
                return Err(self.down_error(&slot, what));
            }
            match self.target.connect(self.timeout) {
                Ok(conn) => {
                    state.conn = Some(conn);
                    slot.down.store(false, Ordering::Release);
                }
                Err(e) => {
                    let why = reason(&e);
                    slot.mark_down(&mut state, &why);
                    return Err(self.error(what, &why));
                }
            }
        }
        let conn = state.conn.as_mut().expect("connected above");
        f(conn).map_err(|e| {
            let why = reason(&e);
            if e.is_io_error() || e.is_unrecoverable_error() || e.is_timeout() {
                // A half-read reply would be taken for the next command's.
                state.conn = None;
                slot.mark_down(&mut state, &why);
            } else if matches!(e.code(), Some("READONLY" | "MASTERDOWN" | "LOADING")) {
                // A server that became a replica (failover): a reconnect
                // may reach the new primary under the same name.
                state.conn = None;
            }
            self.error(what, &why)
        })
    }

    /// This process image's slot; after a fork, a fresh one. The parent's is
    /// leaked on purpose: dropping it would close a socket the parent uses
    /// (harmless for the kernel, but a TLS stream might send close_notify).
    fn current_slot(&self) -> Arc<Slot> {
        let generation = fork::generation();
        loop {
            let slot = self.slot.load_full();
            if slot.fork_gen == generation {
                return slot;
            }
            let fresh = Arc::new(Slot::new());
            let prev = self.slot.compare_and_swap(&slot, fresh);
            if Arc::ptr_eq(&prev, &slot) {
                std::mem::forget(slot);
            }
        }
    }

    fn down_error(&self, slot: &Slot, what: &str) -> Error {
        let why = slot.down_why.lock().clone();
        self.error(what, &format!("{why} (reconnecting in the background)"))
    }

    /// Our own message: redis-rs errors may quote the URL (and so the
    /// password) or server text; only codes and kinds are passed on.
    fn error(&self, what: &str, why: &str) -> Error {
        Error::new(
            ErrorKind::Store,
            format!("redis store {}: {what}: {why}", self.name),
        )
    }
}

/// The background refresher and the refresh threads (named in refresher.rs
/// and cell.rs): the threads that may wait for a Redis that is down.
fn on_wxtoken_thread() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|n| n.starts_with("wxtoken-"))
}

impl Slot {
    fn new() -> Slot {
        Slot {
            fork_gen: fork::generation(),
            state: Mutex::new(State::default()),
            down: AtomicBool::new(false),
            down_why: Mutex::new(String::new()),
            business_retry_at: AtomicU64::new(0),
        }
    }

    fn mark_down(&self, state: &mut State, why: &str) {
        let now = mono_ms();
        state.next_try = now + RECONNECT_AFTER_MS;
        self.business_retry_at
            .store(now + BUSINESS_RETRY_MS, Ordering::Relaxed);
        *self.down_why.lock() = why.to_string();
        self.down.store(true, Ordering::Release);
    }
}

fn reason(e: &RedisError) -> String {
    use redis::ErrorKind as K;
    if e.is_timeout() {
        return "timed out".into();
    }
    if e.is_connection_refusal() {
        return "connection refused".into();
    }
    if e.is_io_error() {
        let io = std::error::Error::source(e).and_then(|s| s.downcast_ref::<std::io::Error>());
        // rustls reports a refused certificate as InvalidData.
        if io.is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData) {
            return "TLS handshake failed (is the server's CA trusted? see redis_ca_file)".into();
        }
        return "connection failed or lost".into();
    }
    match e.kind() {
        K::AuthenticationFailed => "authentication failed (check the user and password)".into(),
        K::InvalidClientConfig => "invalid client configuration".into(),
        K::TypeError => "unexpected reply".into(),
        _ => match e.code() {
            Some("MOVED" | "ASK" | "CLUSTERDOWN" | "CROSSSLOT") => {
                "the server is a Redis Cluster node: Cluster is not supported yet".into()
            }
            // Server error codes are fixed words (NOPERM, READONLY, LOADING...).
            Some(code) if code.chars().all(|c| c.is_ascii_uppercase()) => {
                format!("server answered {code}")
            }
            _ => format!("{:?}", e.kind()),
        },
    }
}
