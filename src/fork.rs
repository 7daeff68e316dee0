//! Fork safety. PHP-FPM and Python's multiprocessing fork processes that
//! already loaded wxtoken: the child has none of the parent's threads, and
//! the parent's sockets must not be shared. Two mechanisms:
//!
//! - A fork *generation*, bumped in the child by a pthread_atfork handler:
//!   state tagged with an older generation (a flight, a lease, the HTTP
//!   agent, the refresher thread) belongs to threads the child lacks and is
//!   rebuilt lazily.
//! - A fork *gate*: every critical section that takes one of wxtoken's
//!   locks runs inside [`section`] (or through [`Mutex`], which does it).
//!   Sections hold the gate shared; the atfork prepare handler takes it
//!   exclusive, so it waits until no section is running and lets none start
//!   until the fork is done. No lock is ever held across a fork, and the
//!   child finds every lock free. Without it a child forked while a parent
//!   thread held a lock blocked forever on it (the C fork storm,
//!   `bindings/c/tests/test_fork_storm.c`, had 5 of 150 children hang).
//!
//! Rules for sections: short, never blocking on anything but another
//! section's lock (no thread spawn, no file open or fcntl, no HTTP, no
//! building an HTTP agent, no sleeping or condvar waits inside), and the
//! gate is taken before any lock (nested sections on one thread are free).
//! A wait for another thread parks outside any section (see `cell.rs`).
//!
//! Every lock, lazy value and lock-like primitive in `src/` (the simulator,
//! `crates/wxtoken-mock`, is not part of the library), and why it is safe:
//!
//! | where | what | made safe by |
//! |---|---|---|
//! | `cell.rs` | `TokenCell::flight` | [`Mutex`] (gate); waiters park outside it, no condvar |
//! | `stats.rs` | fetch window, credentials | [`Mutex`] (gate) |
//! | `registry.rs` | `WRITER` (configure) | [`Mutex`] (gate); the store is opened before it is taken |
//! | `registry.rs` | the table of apps | atomics only; never freed, so never locked |
//! | `store/memory.rs` | records, leases, fence counter | [`Mutex`] (gate) |
//! | `store/memory.rs` | `GLOBAL` (Lazy) | forced inside a [`section`]: no fork mid-initialisation |
//! | `store/file/dir.rs` | `Dir::current` (path, descriptor) | [`Mutex`] (gate), held to read or swap; a removed directory is reopened and verified outside it |
//! | `store/file/mod.rs` | `seen` (record cache) | [`Mutex`] (gate), held for a lookup or an insert; the file is read outside it |
//! | `store/file/lease.rs` | `SLOTS` (lock files by device and inode) | a const [`Mutex`] (gate), per generation; the opener is claimed in one section, stat and open run outside, the slot is inserted in another |
//! | `store/file/lease.rs` | `Slot::busy` (a thread of ours uses the mutation lock) | an atomic claim, not a lock across the fcntl and file I/O; a child has slots of its own (per generation), so a parent's claim never binds it |
//! | `store/file/lease.rs` | `Slot::holder` | [`Mutex`] (gate), held to read or write the pair |
//! | `store/redis/mod.rs` | `OPEN` (stores by URL) | a const [`Mutex`] (gate), held for a lookup or an insert; the store is built (URL parsed, CA file read) outside it |
//! | `store/redis/scripts.rs` | the scripts (Lazy) | forced inside a [`section`] when a store is opened, before any use |
//! | `store/redis/link.rs` | the connection and its state | per generation (`Slot`): a child makes a new slot, with new mutexes, so a parent's held one is never its (held across network I/O, so not gated) |
//! | `upstream/agent.rs` | the HTTP agent | an `ArcSwapOption` tagged with the generation; built outside any lock |
//! | `fresh.rs` | a fresh word's owner and due time | [`Mutex`] (gate); readers only load the word; `ARMED`, `NEXT_WAKE` and every word's FRESH are cleared in the child handler (atomics over the registry's leaked table, no lock) |
//! | `fresh.rs` | `MARKED_WORDS` (OnceLock) | set inside a [`section`]: no fork mid-initialisation; read with `get` (one load) in the child handler |
//! | `fresh.rs` | the per-thread token copies | a thread-local: no lock; a child keeps the forking thread's, which match no word again (the child's marker renews every epoch before arming) |
//! | `refresher.rs`, `log/dispatch.rs` | the refresher and log threads, once per image | [`ThreadPerImage`]: an atomic claim (compare-exchange) per generation instead of a lock around the spawn |
//! | `log/mod.rs` | levels and stderr format, the program's sink | atomics and an `ArcSwapOption` (no Lazy); stderr lines go out by write(2), not through std's stderr lock |
//! | `log/dispatch.rs` | the record queue, the dispatcher's handle, the sink setters | [`Mutex`] (gate), held to push or pop, or for a setter's two stores; the queue is per generation; the `wxtoken-log` thread is an atomic claim per generation, spawned outside any section, and calls the program's sink with no lock held; a setter waits for its call (an atomic tagged with the generation, so a child never waits for the parent's thread) outside any section |
//! | `clock.rs` | `START` (fallback only) | never used on Linux (the coarse clocks exist); noted, not gated |
//! | `fork.rs` | the atfork registration | a load-time constructor, so no fork can fall between claiming and registering |
//! | `arc_swap` (fresh path) | debt lists | lock-free: a writer never waits for a reader, dead ones included |
//! | `ffi/last_error.rs` | the last error | a thread-local: no lock |
//! | `python.rs` | `ERROR_CLASSES` | initialised once under the GIL, which CPython holds across fork; not gated (a fork in the middle of that very first initialisation is not covered) |
//! | std | the environment lock (`Config::from_env`, `log`) | not ours to gate: only a parent thread setting variables at the fork could leave it held |

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Sections running now (low bits) and the prepare handler's claim.
static GATE: AtomicU64 = AtomicU64::new(0);
const FORKING: u64 = 1 << 63;

thread_local! {
    /// This thread's open sections: only the outermost touches the gate, so
    /// a nested one never waits for a fork that waits for the outer one.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// 0: not registered, 1: being registered, 2: registered.
static REGISTERED: AtomicU8 = AtomicU8::new(0);

/// Registers the handlers when the library is loaded (dlopen, or program
/// start when linked in): registering lazily would leave a window in which a
/// fork finds the handlers neither absent nor in place. Loading starts no
/// thread and calls nothing else.
#[used]
#[cfg_attr(target_os = "linux", link_section = ".init_array")]
static REGISTER_AT_LOAD: extern "C" fn() = register_at_load;

extern "C" fn register_at_load() {
    register();
}

/// Registers the atfork handlers once. A fallback for builds whose loader
/// did not run the constructor: the first section or generation read.
#[inline]
fn register() {
    if REGISTERED.load(Ordering::Acquire) == 2 {
        return;
    }
    if REGISTERED
        .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        // SAFETY: the handlers touch only atomics (the child's also walks
        // the registry's never-freed table to clear fresh words) and this
        // thread's const-initialised thread-local, and sleep: all fine in a
        // fork.
        unsafe {
            libc::pthread_atfork(Some(prepare), Some(parent), Some(child));
        }
        REGISTERED.store(2, Ordering::Release);
    }
}

/// 1 if this thread is inside a section (it counts once in the gate).
fn own_share() -> u64 {
    u64::from(DEPTH.with(Cell::get) > 0)
}

fn pause(round: &mut u32) {
    *round += 1;
    if *round < 64 {
        std::hint::spin_loop();
    } else if *round < 128 {
        std::thread::yield_now();
    } else {
        std::thread::sleep(Duration::from_micros(50));
    }
}

extern "C" fn prepare() {
    let mut round = 0;
    // Claim the gate (another thread's fork may hold the claim: wait).
    loop {
        let g = GATE.load(Ordering::Acquire);
        if g & FORKING == 0
            && GATE
                .compare_exchange_weak(g, g | FORKING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            break;
        }
        pause(&mut round);
    }
    // Let the running sections finish. If this very thread is inside one (a
    // caller forking from inside a wxtoken callback), it cannot finish:
    // count it out rather than wait forever.
    let own = own_share();
    while GATE.load(Ordering::Acquire) & !FORKING > own {
        pause(&mut round);
    }
}

extern "C" fn parent() {
    GATE.fetch_and(!FORKING, Ordering::Release);
}

extern "C" fn child() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
    // The parent's marker thread is not in this image: readers go back to
    // the clock until the child starts its own.
    crate::fresh::disarm();
    // No other thread exists here, and none was inside a section.
    GATE.store(own_share(), Ordering::Release);
}

/// The number of forks between the first call in the original process and now.
pub(crate) fn generation() -> u64 {
    register();
    GENERATION.load(Ordering::SeqCst)
}

/// A background thread that runs once per process image (the original
/// process, then each forked child, which has none of its parent's
/// threads). Claimed with an atomic, never a lock: no lock may be held
/// across a thread spawn (a fork then would leave it held in the child).
pub(crate) struct ThreadPerImage {
    /// 1 + the generation whose thread runs or is starting (0: none yet).
    running_in: AtomicU64,
}

impl ThreadPerImage {
    pub(crate) const fn new() -> ThreadPerImage {
        ThreadPerImage {
            running_in: AtomicU64::new(0),
        }
    }

    /// Starts the thread `name` running `f` unless this image has it (or
    /// another thread is starting it): Ok(true) if it started now. A failed
    /// spawn gives the claim back, so that a later call tries again.
    pub(crate) fn start(&self, name: &str, f: fn()) -> std::io::Result<bool> {
        let want = generation() + 1;
        let seen = self.running_in.load(Ordering::Acquire);
        if seen == want
            || self
                .running_in
                .compare_exchange(seen, want, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return Ok(false);
        }
        match std::thread::Builder::new().name(name.into()).spawn(f) {
            Ok(_) => Ok(true),
            Err(e) => {
                let _ = self.running_in.compare_exchange(
                    want,
                    seen,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
                Err(e)
            }
        }
    }
}

/// Whether this thread is inside a section now (no thread spawn there).
pub(crate) fn in_section() -> bool {
    DEPTH.with(Cell::get) > 0
}

/// A critical section: while it lives, no fork happens (a fork waits for it).
/// Not `Send`: it must end on the thread that began it.
pub(crate) struct Section {
    _not_send: PhantomData<*const ()>,
}

pub(crate) fn section() -> Section {
    register();
    let depth = DEPTH.with(Cell::get);
    if depth == 0 {
        let mut round = 0;
        loop {
            let g = GATE.load(Ordering::Relaxed);
            if g & FORKING == 0
                && GATE
                    .compare_exchange_weak(g, g + 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                break;
            }
            pause(&mut round);
        }
    }
    DEPTH.with(|d| d.set(depth + 1));
    Section {
        _not_send: PhantomData,
    }
}

impl Drop for Section {
    fn drop(&mut self) {
        let depth = DEPTH.with(Cell::get) - 1;
        DEPTH.with(|d| d.set(depth));
        if depth == 0 {
            GATE.fetch_sub(1, Ordering::Release);
        }
    }
}

/// A mutex whose holders are always inside a [`section`]: a fork never
/// finds it locked. Hold it briefly (see the module's rules).
#[derive(Default)]
pub(crate) struct Mutex<T> {
    inner: parking_lot::Mutex<T>,
}

/// Field order matters: the lock is released before the section ends.
pub(crate) struct MutexGuard<'a, T> {
    guard: parking_lot::MutexGuard<'a, T>,
    _section: Section,
}

impl<T> Mutex<T> {
    pub(crate) const fn new(value: T) -> Self {
        Mutex {
            inner: parking_lot::const_mutex(value),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        let section = section();
        MutexGuard {
            guard: self.inner.lock(),
            _section: section,
        }
    }
}

impl<T> std::ops::Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> std::ops::DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    #[test]
    fn sections_nest_and_release_the_gate() {
        let before = GATE.load(Ordering::SeqCst) & !FORKING;
        {
            let _a = section();
            let _b = section();
            assert_eq!(DEPTH.with(Cell::get), 2);
        }
        assert_eq!(DEPTH.with(Cell::get), 0);
        // Other tests' sections may run meanwhile; ours is gone.
        let _ = before;
        let m = Mutex::new(1);
        *m.lock() += 1;
        assert_eq!(*m.lock(), 2);
    }

    #[test]
    fn prepare_waits_for_running_sections_and_blocks_new_ones() {
        let m = Arc::new(Mutex::new(0u32));
        let go = Arc::new(AtomicBool::new(false));
        let held = {
            let (m, go) = (m.clone(), go.clone());
            std::thread::spawn(move || {
                let mut g = m.lock();
                go.store(true, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(100));
                *g += 1;
            })
        };
        while !go.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        prepare();
        // The section ran to its end before prepare returned.
        assert_eq!(*m.inner.lock(), 1);
        parent();
        held.join().unwrap();
        *m.lock() += 1;
        assert_eq!(*m.lock(), 2);
    }
}
