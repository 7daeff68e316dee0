//! One connection per store and process image, made lazily and remade after
//! an error or a fork: a child never writes on its parent's socket (the two
//! would interleave commands and read each other's replies).
//!
//! Every call is bounded: connect, read and write time out, and after a
//! failed connect the store answers "unreachable" at once for a second
//! rather than making each caller wait for its own connect to fail.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use redis::{Client, Connection, RedisError};

use crate::clock::mono_ms;
use crate::error::{Error, ErrorKind, Result};
use crate::fork;

/// How long a failed connect is answered without a new attempt.
const RECONNECT_AFTER_MS: u64 = 1000;

/// The connection of one process image: a child gets a new slot (and a new
/// mutex: the parent's may have been held by a thread the child lacks).
struct Slot {
    fork_gen: u64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    conn: Option<Connection>,
    /// Monotonic ms before which no new connect is tried.
    down_until: u64,
    /// Why the last connect failed, repeated until the next attempt.
    down_why: String,
}

pub(super) struct Link {
    client: Client,
    timeout: Duration,
    /// For messages: the address without the password.
    name: String,
    slot: ArcSwap<Slot>,
}

impl Link {
    pub fn new(client: Client, timeout: Duration, name: String) -> Link {
        Link {
            client,
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
        // The holder's own call is bounded by the timeouts; so is this wait.
        let Some(mut state) = slot.state.try_lock_for(self.timeout * 3) else {
            return Err(self.error(what, "busy: another call is still waiting for Redis"));
        };
        if state.conn.is_none() {
            let now = mono_ms();
            if now < state.down_until {
                let why = format!(
                    "{} (next try in {} ms)",
                    state.down_why,
                    state.down_until - now
                );
                return Err(self.error(what, &why));
            }
            match self.connect() {
                Ok(conn) => state.conn = Some(conn),
                Err(e) => {
                    state.down_until = mono_ms() + RECONNECT_AFTER_MS;
                    state.down_why = reason(&e);
                    return Err(self.error(what, &state.down_why));
                }
            }
        }
        let conn = state.conn.as_mut().expect("connected above");
        f(conn).map_err(|e| {
            // A half-read reply would be taken for the next command's; a
            // server that became a replica (failover) answers READONLY, and
            // a reconnect may reach the new primary under the same name.
            let failover = matches!(e.code(), Some("READONLY" | "MASTERDOWN" | "LOADING"));
            if e.is_io_error() || e.is_unrecoverable_error() || e.is_timeout() || failover {
                state.conn = None;
            }
            self.error(what, &reason(&e))
        })
    }

    fn connect(&self) -> redis::RedisResult<Connection> {
        let conn = self.client.get_connection_with_timeout(self.timeout)?;
        conn.set_read_timeout(Some(self.timeout))?;
        conn.set_write_timeout(Some(self.timeout))?;
        Ok(conn)
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

    /// Our own message: redis-rs errors may quote the URL (and so the
    /// password) or server text; only codes and kinds are passed on.
    fn error(&self, what: &str, why: &str) -> Error {
        Error::new(
            ErrorKind::Store,
            format!("redis store {}: {what}: {why}", self.name),
        )
    }
}

impl Slot {
    fn new() -> Slot {
        Slot {
            fork_gen: fork::generation(),
            state: Mutex::new(State::default()),
        }
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
            // Server error codes are fixed words (NOPERM, READONLY, LOADING...).
            Some(code) if code.chars().all(|c| c.is_ascii_uppercase()) => {
                format!("server answered {code}")
            }
            _ => format!("{:?}", e.kind()),
        },
    }
}
