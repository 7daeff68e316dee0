//! The open connections, so that idle ones can be closed when a new client
//! needs the slot: many idle (or silent) connections must not starve an
//! active client until their timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// One connection as the accept loop sees it.
pub struct Conn {
    /// Requests being answered on it now.
    busy: AtomicUsize,
    /// When it last started or finished a request (or was accepted), as a
    /// tick of `Conns::clock`: no two are equal, so the longest-idle is
    /// always well defined (milliseconds tie under load, and a tie could
    /// close a new client's connection before its first request).
    last: AtomicU64,
    /// Notified: finish the request in flight, if any, and close.
    pub close: Notify,
}

impl Conn {
    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst) > 0
    }
}

pub struct Conns {
    clock: Arc<AtomicU64>,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Conn>>>,
}

/// Unregisters its connection when the connection's task ends.
pub struct Registered {
    conns: Arc<Conns>,
    id: u64,
    pub conn: Arc<Conn>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.conns.open.lock().remove(&self.id);
    }
}

/// Marks its connection busy while a request is answered.
pub struct Busy {
    conn: Arc<Conn>,
    clock: Arc<AtomicU64>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.conn.busy.fetch_sub(1, Ordering::SeqCst);
        self.conn.last.store(tick(&self.clock), Ordering::SeqCst);
    }
}

fn tick(clock: &AtomicU64) -> u64 {
    clock.fetch_add(1, Ordering::SeqCst)
}

impl Conns {
    pub fn new() -> Conns {
        Conns {
            clock: Arc::new(AtomicU64::new(0)),
            next_id: AtomicU64::new(0),
            open: Mutex::default(),
        }
    }

    /// Called by the accept loop before the connection's task starts, so
    /// that a full server always finds the connections it could close.
    pub fn register(self: &Arc<Self>) -> Registered {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            busy: AtomicUsize::new(0),
            last: AtomicU64::new(tick(&self.clock)),
            close: Notify::new(),
        });
        self.open.lock().insert(id, conn.clone());
        Registered {
            conns: self.clone(),
            id,
            conn,
        }
    }

    pub fn busy(&self, conn: &Arc<Conn>) -> Busy {
        conn.busy.fetch_add(1, Ordering::SeqCst);
        conn.last.store(tick(&self.clock), Ordering::SeqCst);
        Busy {
            conn: conn.clone(),
            clock: self.clock.clone(),
        }
    }

    /// Asks every connection to close (idle ones at once, busy ones after
    /// their answer): the server is stopping.
    pub fn close_all(&self) {
        for c in self.open.lock().values() {
            c.close.notify_one();
        }
    }

    /// Asks the `n` connections idle the longest to close; returns how many.
    pub fn close_idle(&self, n: usize) -> usize {
        let mut idle: Vec<(u64, Arc<Conn>)> = self
            .open
            .lock()
            .values()
            .filter(|c| !c.is_busy())
            .map(|c| (c.last.load(Ordering::SeqCst), c.clone()))
            .collect();
        idle.sort_by_key(|(last, _)| *last);
        idle.truncate(n);
        for (_, c) in &idle {
            // notify_one keeps the wake-up if the task is not waiting yet.
            c.close.notify_one();
        }
        idle.len()
    }
}
