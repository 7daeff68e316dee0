//! The program's sink gets records through a bounded queue, never on the
//! thread that made them: a refresh flight or the refresher only pushes.
//! A callback sink (Rust, C, Python) is called on one thread of ours,
//! `wxtoken-log`, outside every lock and fork section, so a callback that
//! waits (for Python's GIL, a slow handler) or calls back into wxtoken
//! delays no refresh and deadlocks nothing. A polled sink (PHP, whose
//! engine must not be entered from a foreign thread) is drained by the
//! program on its own thread ([`drain_one`]).
//!
//! Replacing a callback waits until the dispatcher has left it ([`replace`]):
//! a C caller frees its userdata once `wxtoken_set_log_callback` returns.
//!
//! Fork: the queue is tagged with the fork generation (a child starts
//! empty: its parent's records are the parent's to deliver), the thread is
//! claimed per generation like the refresher's, and every lock here is a
//! fork-gated [`Mutex`] held only to push or pop.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, Thread};
use std::time::Duration;

use crate::clock::mono_ms;
use crate::fork::{self, Mutex};

use super::{program, Event, Installed, LogRecord, Program, PROGRAM};

/// Records held for the program's sink; past it the oldest go (counted).
pub(crate) const CAPACITY: usize = 1024;

struct Queue {
    generation: u64,
    records: VecDeque<LogRecord>,
    dropped: u64,
    /// The dispatcher holds records it took and has not delivered yet.
    delivering: bool,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    generation: 0,
    records: VecDeque::new(),
    dropped: 0,
    delivering: false,
});

/// The dispatcher of a generation, to wake it.
static DISPATCHER: Mutex<Option<(u64, Thread)>> = Mutex::new(None);
static DISPATCHER_THREAD: fork::ThreadPerImage = fork::ThreadPerImage::new();

fn with_queue<R>(f: impl FnOnce(&mut Queue) -> R) -> R {
    let generation = fork::generation();
    let mut q = QUEUE.lock();
    if q.generation != generation {
        q.generation = generation;
        q.records.clear();
        q.dropped = 0;
        q.delivering = false;
    }
    f(&mut q)
}

/// Queues a record for the program's sink; wakes the dispatcher if the
/// sink is a callback.
pub(crate) fn push(rec: LogRecord, wake: bool) {
    with_queue(|q| {
        if q.records.len() >= CAPACITY {
            q.records.pop_front();
            q.dropped += 1;
        }
        q.records.push_back(rec);
    });
    if wake {
        self::wake();
    }
}

/// The sink's epoch now; 0: none yet. Stored after [`PROGRAM`], under
/// [`SETTING`], so the pair never mixes two setters.
static CURRENT: AtomicU64 = AtomicU64::new(0);
/// Serialises setters (held for two stores, never while waiting).
static SETTING: Mutex<u64> = Mutex::new(0);
/// The call in progress on the dispatcher: `(fork generation + 1) << 40 |
/// epoch` of the sink it is in, 0 between calls. The generation keeps a
/// child from waiting for a call its parent's thread was making at the fork.
static CALLING: AtomicU64 = AtomicU64::new(0);
const EPOCH_BITS: u32 = 40;
const EPOCH_MASK: u64 = (1 << EPOCH_BITS) - 1;

fn calling_tag(generation: u64) -> u64 {
    (generation + 1) << EPOCH_BITS
}

/// Installs `program` as the program's sink (None: no sink) and waits until
/// the dispatcher has left any earlier callback: when this returns, an old
/// callback is not running and is never called again. On the dispatcher
/// itself (a callback replacing the sink) it cannot wait for its own call,
/// which ends when the callback returns; no later one starts.
pub(crate) fn replace(program: Option<Program>) {
    let epoch = {
        let mut last = SETTING.lock();
        *last += 1;
        let epoch = *last & EPOCH_MASK;
        PROGRAM.store(program.map(|sink| std::sync::Arc::new(Installed { epoch, sink })));
        CURRENT.store(epoch, Ordering::SeqCst);
        epoch
    };
    if DISPATCHING.with(std::cell::Cell::get) {
        return;
    }
    let tag = calling_tag(fork::generation());
    let mut round = 0u32;
    loop {
        // SeqCst with the dispatcher's store of CALLING and load of CURRENT:
        // either it sees the new epoch and skips, or this sees its call.
        let c = CALLING.load(Ordering::SeqCst);
        if c & !EPOCH_MASK != tag || c & EPOCH_MASK >= epoch {
            return;
        }
        round += 1;
        if round < 64 {
            thread::yield_now();
        } else {
            thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Forgets what is queued (the sink changed).
pub(crate) fn clear() {
    with_queue(|q| {
        q.records.clear();
        q.dropped = 0;
    });
}

/// The oldest queued record for a polled sink, a "records dropped" one
/// first if the queue overflowed since the last call.
pub(crate) fn drain_one() -> Option<LogRecord> {
    with_queue(|q| {
        if q.dropped > 0 {
            let n = std::mem::take(&mut q.dropped);
            return Some(dropped_record(n));
        }
        q.records.pop_front()
    })
}

/// Puts back a record [`drain_one`] gave that the caller could not take.
pub(crate) fn put_back(rec: LogRecord) {
    with_queue(|q| q.records.push_front(rec));
}

fn dropped_record(n: u64) -> LogRecord {
    let e = Event::LogRecordsDropped;
    LogRecord::new(
        e.level(),
        e.as_str(),
        "",
        format!("{n} log records were dropped: the program's log sink fell behind"),
    )
    .with("count", n)
}

thread_local! {
    /// Set on the dispatcher: a flush from inside a callback would wait
    /// for itself.
    static DISPATCHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Waits until a callback sink has every queued record, at most `timeout`.
/// True when it has (or nothing was queued). From inside the sink itself:
/// false at once.
pub(crate) fn flush(timeout: Duration) -> bool {
    if DISPATCHING.with(std::cell::Cell::get) {
        return false;
    }
    let deadline = mono_ms().saturating_add(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
    loop {
        let done = with_queue(|q| q.records.is_empty() && q.dropped == 0 && !q.delivering);
        if done {
            return true;
        }
        if !matches!(
            program().as_deref(),
            Some(Installed {
                sink: Program::Callback(_),
                ..
            })
        ) {
            return false; // polled: records wait for the program's drain
        }
        if mono_ms() >= deadline {
            return false;
        }
        wake();
        thread::sleep(Duration::from_millis(2));
    }
}

/// A record was made inside a fork section before the dispatcher of this
/// process ran: [`wake_owed`] starts it once the section is over.
static OWED: AtomicBool = AtomicBool::new(false);

fn wake() {
    // No thread spawn inside a fork section (fork.rs): a record made under
    // a lock (the registry's WRITER: app_reconfigured) owes the start to
    // its caller's `wake_owed` after the lock, or to the next record.
    if fork::in_section() {
        OWED.store(true, Ordering::Relaxed);
    } else {
        ensure_running();
    }
    let handle = {
        let d = DISPATCHER.lock();
        d.as_ref()
            .filter(|(g, _)| *g == fork::generation())
            .map(|(_, t)| t.clone())
    };
    if let Some(t) = handle {
        t.unpark();
    }
}

/// Starts the dispatcher for records made inside a section that has ended.
pub(crate) fn wake_owed() {
    if !fork::in_section() && OWED.swap(false, Ordering::Relaxed) {
        wake();
    }
}

fn ensure_running() {
    // A failed start: records stay queued (bounded); a later record tries again.
    let _ = DISPATCHER_THREAD.start("wxtoken-log", run);
}

/// The dispatcher: while the sink is a callback, takes one record at a
/// time and hands it over with no lock held; parks when there is nothing
/// (or the sink is a queue, whose records stay for the program's drain)
/// until woken, or a poll interval against a lost wake. The sink is loaded
/// for each record, so a replaced callback gets none after [`replace`].
fn run() {
    let generation = fork::generation();
    let tag = calling_tag(generation);
    DISPATCHING.with(|d| d.set(true));
    *DISPATCHER.lock() = Some((generation, thread::current()));
    while fork::generation() == generation {
        let current = program();
        let Some((epoch, sink)) = current.as_deref().and_then(|p| match &p.sink {
            Program::Callback(sink) => Some((p.epoch, sink)),
            Program::Queue => None,
        }) else {
            thread::park_timeout(Duration::from_millis(500));
            continue;
        };
        CALLING.store(tag | epoch, Ordering::SeqCst);
        if CURRENT.load(Ordering::SeqCst) != epoch {
            // Replaced since the load: the setter may not be waiting for us.
            CALLING.store(0, Ordering::SeqCst);
            continue;
        }
        let rec = with_queue(|q| {
            let rec = match std::mem::take(&mut q.dropped) {
                0 => q.records.pop_front(),
                n => Some(dropped_record(n)),
            };
            q.delivering = rec.is_some();
            rec
        });
        if let Some(rec) = &rec {
            // A panicking callback loses its record, not the thread.
            let _ = panic::catch_unwind(AssertUnwindSafe(|| sink(rec)));
        }
        drop(current); // the last reference to a replaced callback goes inside the call
        CALLING.store(0, Ordering::SeqCst);
        match rec {
            Some(_) => with_queue(|q| q.delivering = false),
            None => thread::park_timeout(Duration::from_millis(500)),
        }
    }
}
