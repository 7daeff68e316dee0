//! The fresh read at the floor: no clock call, no lock, no write to shared
//! memory. Each app name has a *fresh word*: `epoch << 1 | FRESH`, where
//! the epoch is unique in the process and names one published token. The
//! word changes only when the token does (adopted, refreshed, invalidated,
//! re-configured, unconfigured) or when the *marker* thread clears FRESH
//! because the token's refresh point is near. A reader loads the word and,
//! in a thread-local slot keyed by it, finds its own copy of the token: its
//! reference count is this thread's alone, so readers on many cores share
//! nothing but the read-only word.
//!
//! The guarantee of the clock-reading path it replaces (a token past its
//! refresh point treated as fresh for at most one tick of the coarse clock,
//! 4 ms) is kept by marking `MARK_AHEAD_MS` early: readers then take the
//! slow path, which reads the clock and decides exactly as before. The bound
//! only widens if the marker wakes more than `MARK_AHEAD_MS` late (a machine
//! overloaded for a second): publishers then stop arming words until it runs
//! again, and the words already armed are cleared when it does, or when the
//! refresher's tick reaches the refresh point (`TokenCell::tick`), whichever
//! comes first (docs/design.md, "The fresh read").
//!
//! A word is FRESH only while a marker runs in this process image: before
//! one starts nothing arms a word, and the atfork child handler (the child
//! has no marker until it starts one) and a dying marker clear every word.
//! So a word read alone is enough, and a binding that reads memory cheaper
//! than it calls (PHP's FFI) may load the word itself (`as_ptr`). Without
//! FRESH, `ARMED` tells the slow path from "no marker here yet": readers
//! then read the clock as before.

use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::clock::{now_ms, precise_now_ms};
use crate::fork;

const FRESH: u64 = 1;

/// Marked stale this long before the refresh point (see the module doc).
pub(crate) const MARK_AHEAD_MS: u64 = 1000;

/// The marker's longest sleep: new apps' words are looked at this often.
const MARKER_POLL_MS: u64 = 500;

// A word published just after a scan is looked at within one poll: that must
// come before it is due, or publishers would never arm a word.
const _: () = assert!(MARKER_POLL_MS < MARK_AHEAD_MS);

/// The marker runs in this process image and keeps its wake-ups.
static ARMED: AtomicBool = AtomicBool::new(false);

/// The words a marker may have armed (set before the first one arms any):
/// what `disarm` clears. `get` is one atomic load, fit for the atfork child
/// handler; `set` runs inside a fork section (a fork in the middle of it
/// would leave the child's marker blocked in it for ever).
static MARKED_WORDS: OnceLock<Words> = OnceLock::new();

/// Wall ms by which the marker wakes and looks at every word again.
/// Written by the marker before each scan; 0 when none runs.
static NEXT_WAKE: AtomicU64 = AtomicU64::new(0);

/// Epochs: unique in the process, so a word (or a binding's cache keyed by
/// it) can never mistake one token for another. 0 is "no token".
static EPOCHS: AtomicU64 = AtomicU64::new(1);

pub(crate) fn next_epoch() -> u64 {
    EPOCHS.fetch_add(1, Ordering::Relaxed)
}

/// One app name's word, and who may write it.
pub(crate) struct FreshWord {
    word: AtomicU64,
    /// Under this lock the word is written: the cell allowed to publish
    /// (a re-configured name's old cell may still land a refresh) and
    /// when the marker clears FRESH.
    state: fork::Mutex<Owner>,
}

#[derive(Default)]
struct Owner {
    cell: u64,
    due_ms: u64,
}

/// What a reader finds in a word.
pub(crate) enum Word {
    /// A fresh token, of this word.
    Fresh(u64),
    /// No fresh token: the slow path decides.
    Stale,
    /// No marker in this process image: read the clock.
    Unarmed,
}

impl FreshWord {
    pub(crate) fn new() -> FreshWord {
        FreshWord {
            word: AtomicU64::new(0),
            state: fork::Mutex::new(Owner::default()),
        }
    }

    #[inline]
    pub(crate) fn read(&self) -> Word {
        // FRESH implies a marker in this image (see the module doc).
        let w = self.word.load(Ordering::Acquire);
        if w & FRESH != 0 {
            Word::Fresh(w)
        } else if ARMED.load(Ordering::Acquire) {
            Word::Stale
        } else {
            Word::Unarmed
        }
    }

    /// The word itself, for a binding that loads it without a call: it
    /// lives as long as the process (registry entries are never freed).
    pub(crate) fn as_ptr(&self) -> *const u64 {
        self.word.as_ptr()
    }

    /// Clears FRESH, keeping the epoch. `locked`: under the word's lock, as
    /// everywhere but the atfork child handler, where this thread is the only
    /// one: there a word not FRESH is left unwritten (no page of the
    /// registry copied for it). With other threads no unlocked look comes
    /// first: a publisher that read the old wake-up may hold the lock and
    /// arm the word after it (as in `mark`).
    pub(crate) fn unarm(&self, locked: bool) {
        if locked {
            let _st = self.state.lock();
            self.word.fetch_and(!FRESH, Ordering::Release);
        } else if self.word.load(Ordering::Relaxed) & FRESH != 0 {
            self.word.fetch_and(!FRESH, Ordering::Release);
        }
    }

    /// Hands the word to the cell `cell` (configure, re-configure; 0 for
    /// unconfigure), with no token until that cell publishes one.
    pub(crate) fn hand_over(&self, cell: u64) {
        let mut st = self.state.lock();
        st.cell = cell;
        st.due_ms = 0;
        self.word.store(0, Ordering::Release);
    }

    /// The cell `cell` changed its token: publishes what `held` gives (epoch,
    /// refresh point, or none), read under this lock, so that of two racing
    /// publishers the last writes the token current then, never an older
    /// one it loaded before the other's change.
    pub(crate) fn publish(&self, cell: u64, held: impl FnOnce() -> Option<(u64, u64)>) {
        let mut st = self.state.lock();
        if st.cell != cell {
            return; // a replaced cell's late refresh: not this name's token
        }
        let Some((epoch, refresh_at_ms)) = held() else {
            st.due_ms = 0;
            self.word.store(0, Ordering::Release);
            return;
        };
        let due = refresh_at_ms.saturating_sub(MARK_AHEAD_MS);
        // Armed only if the marker will look again before `due` and is
        // keeping its schedule (read under this lock: a marker whose visit
        // takes the lock after us stored its wake-up before and sees our
        // word; one that took it before stored a wake-up we see here).
        let wake = NEXT_WAKE.load(Ordering::SeqCst);
        let now = now_ms();
        let armed = now < due && wake <= due && now <= wake.saturating_add(MARK_AHEAD_MS);
        st.due_ms = due;
        self.word
            .store(epoch << 1 | u64::from(armed), Ordering::Release);
    }

    /// The refresher saw the token of epoch `epoch` reach its refresh point:
    /// clears FRESH should the marker not have (a marker woken over
    /// `MARK_AHEAD_MS` late), so the refresher bounds a late marker.
    pub(crate) fn expire(&self, cell: u64, epoch: u64) {
        let st = self.state.lock();
        let w = self.word.load(Ordering::Relaxed);
        if st.cell == cell && w & FRESH != 0 && epoch_of(w) == epoch {
            self.word.store(w & !FRESH, Ordering::Release);
        }
    }

    /// This word's epoch as written (armed or not) and whether FRESH is
    /// set, for tests.
    #[cfg(test)]
    pub(crate) fn peek(&self) -> (u64, bool) {
        let w = self.word.load(Ordering::Acquire);
        (epoch_of(w), w & FRESH != 0)
    }

    /// As the marker's pass would leave the word (for tests, with no marker).
    #[cfg(test)]
    pub(crate) fn mark_now(&self) {
        let now = precise_now_ms();
        self.mark(now, now + MARKER_POLL_MS);
    }

    /// The marker's visit (it wakes by `wake` again): clears FRESH once
    /// due, arms a word its publisher could not (published before the
    /// marker ran, or while it was late). Returns the due time of a word
    /// left fresh.
    fn mark(&self, now: u64, wake: u64) -> Option<u64> {
        // Always under the lock, no unlocked look first: the lock is what
        // orders this visit after the marker's NEXT_WAKE store against a
        // publisher's read of it (an unlocked load, SeqCst or not, may miss
        // a word whose publisher read the previous wake-up).
        let st = self.state.lock();
        let w = self.word.load(Ordering::Relaxed);
        if w == 0 {
            return None; // no token
        }
        if now >= st.due_ms {
            if w & FRESH != 0 {
                self.word.store(w & !FRESH, Ordering::Release);
            }
            return None;
        }
        if w & FRESH == 0 && wake <= st.due_ms {
            self.word.store(w | FRESH, Ordering::Release);
        }
        (self.word.load(Ordering::Relaxed) & FRESH != 0).then_some(st.due_ms)
    }
}

/// The epoch of a fresh word (what bindings key their own copies by).
pub(crate) fn epoch_of(word: u64) -> u64 {
    word >> 1
}

/// In the atfork child handler: the parent's marker is not in this image,
/// so no word may stay FRESH. Atomics and the registry's leaked table only:
/// no lock, no allocation.
pub(crate) fn disarm() {
    stop_arming(false);
}

/// No marker from now on: publishers stop arming words (NEXT_WAKE 0), and
/// every word is cleared (after that store: a publisher that read the old
/// wake-up holds the word's lock, and `unarm` waits for it).
fn stop_arming(locked: bool) {
    ARMED.store(false, Ordering::SeqCst);
    NEXT_WAKE.store(0, Ordering::SeqCst);
    if let Some(words) = MARKED_WORDS.get() {
        words(&mut |w| w.unarm(locked));
    }
}

/// Visits every app name's fresh word (the registry's).
pub(crate) type Words = fn(&mut dyn FnMut(&FreshWord));

/// Gives every app's token a new epoch and republishes it (the registry's).
pub(crate) type Renew = fn();

/// The marker thread's body: runs until the process image changes (in a
/// forked child it does not exist; the child starts its own).
pub(crate) fn run_marker(words: Words, renew: Renew) {
    /// Should the loop ever end here (a panic), no word stays FRESH and
    /// readers go back to the clock.
    struct Disarm;
    impl Drop for Disarm {
        fn drop(&mut self) {
            stop_arming(true);
        }
    }
    let generation = fork::generation();
    {
        let _section = fork::section();
        let _ = MARKED_WORDS.set(words); // the registry's, always the same
    }
    let _disarm = Disarm;
    // Before arming: a forked child inherited the forking thread's token
    // copies (and a binding's, keyed by epoch) and words the parent may
    // have published for a token it no longer held when it forked. New
    // epochs make sure no inherited copy matches a word again.
    renew();
    while fork::generation() == generation {
        // The precise clock, as the sleep's: by the coarse one the marker
        // would wake at a due time, find it not yet due and spin until the
        // coarse clock ticks.
        let now = precise_now_ms();
        let wake = now + MARKER_POLL_MS;
        NEXT_WAKE.store(wake, Ordering::SeqCst);
        let mut next = wake;
        words(&mut |w| {
            if let Some(due) = w.mark(now, wake) {
                next = next.min(due);
            }
        });
        ARMED.store(true, Ordering::Release);
        sleep_until_wall_ms(next);
    }
}

/// Sleeps until the wall clock reads `ms` (an absolute CLOCK_REALTIME
/// timer: a wall clock stepped forward wakes it at once).
fn sleep_until_wall_ms(ms: u64) {
    let ts = libc::timespec {
        tv_sec: (ms / 1000) as libc::time_t,
        tv_nsec: ((ms % 1000) * 1_000_000) as libc::c_long,
    };
    // SAFETY: `ts` is a valid timespec; no remainder is asked for. An
    // interruption (EINTR) just ends this sleep early: the loop looks again.
    unsafe {
        libc::clock_nanosleep(
            libc::CLOCK_REALTIME,
            libc::TIMER_ABSTIME,
            &ts,
            std::ptr::null_mut(),
        );
    }
}

/// Direct-mapped by the app's registry index: a thread reading up to this
/// many apps keeps one slot for each.
const SLOTS: usize = 64;

struct Slot {
    word: u64,
    token: Option<Arc<str>>,
}

struct Cache {
    /// Inside a reader's callback: a nested read (the callback calling
    /// wxtoken again) must not replace the slot the outer one is reading.
    busy: Cell<bool>,
    slots: UnsafeCell<[Slot; SLOTS]>,
}

thread_local! {
    static CACHE: Cache = const {
        Cache {
            busy: Cell::new(false),
            slots: UnsafeCell::new([const { Slot { word: 0, token: None } }; SLOTS]),
        }
    };
}

struct Unbusy<'a>(&'a Cell<bool>);

impl Drop for Unbusy<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// Runs `f` on this thread's copy of the token of fresh word `word` (app
/// index `index`), made by `fill` on a miss. None (with `f` not called)
/// when `fill` finds the word already moved on, inside a nested read, or
/// while the thread is being torn down (its thread-locals are gone).
#[inline]
pub(crate) fn with_cached<R>(
    index: usize,
    word: u64,
    fill: impl FnOnce() -> Option<Arc<str>>,
    f: impl FnOnce(&Arc<str>) -> R,
) -> Option<R> {
    CACHE
        .try_with(|c| {
            if c.busy.get() {
                return None;
            }
            // SAFETY: only this thread reaches its cache, and not while
            // `busy` (the callback below is the only code that could).
            let slot = unsafe { &mut (*c.slots.get())[index % SLOTS] };
            if slot.word != word || slot.token.is_none() {
                slot.token = Some(fill()?);
                slot.word = word;
            }
            let slot: &Slot = slot;
            c.busy.set(true);
            let _unbusy = Unbusy(&c.busy);
            slot.token.as_ref().map(f)
        })
        .ok()
        .flatten()
}
