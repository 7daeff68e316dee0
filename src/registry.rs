//! The global registry: app name -> token cell, read without locks.
//!
//! An open-addressing table of entries, append-only: apps are configured,
//! re-configured (the entry's cell is swapped) and unconfigured (the cell
//! goes, the entry stays, empty). A reader
//! loads the table pointer, probes, and loads the entry's cell: atomics
//! only, no lock, no allocation, and no reference count on the table.
//! A writer (configure, serialised by one lock) adds an entry in place, so
//! configuring N apps costs O(N) in all, amortised over doublings (the old
//! copy-the-map-per-configure design made it O(N^2): 20k apps took 15 s).
//! Entries and outgrown tables are never freed: readers may still be in
//! them, and freeing them safely would need a reclamation scheme on the
//! fresh path. Their memory is bounded: one entry per name ever
//! configured, and the outgrown tables sum to less than the current one.

use std::hash::BuildHasher;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use arc_swap::{ArcSwapOption, Guard};
use rustc_hash::FxBuildHasher;
use serde_json::Value;

use crate::cell::TokenCell;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::fork;
use crate::fresh::{self, FreshWord, Word};
use crate::refresher;
use crate::stats::Ceiling;
use crate::store;
use crate::ticket::{jssdk_signature, JssdkConfig, TicketKind};
use crate::token::Token;

/// One app name, for the life of the process.
struct Entry {
    hash: u64,
    name: Box<str>,
    /// Configured names before this one: its slot in the readers'
    /// thread-local caches.
    index: usize,
    /// The token's fresh word (see `fresh.rs`): what readers load.
    fresh: FreshWord,
    /// None once unconfigured: the refresher skips it, calls get
    /// `NotConfigured`.
    cell: ArcSwapOption<TokenCell>,
    /// The fetch ceiling: per name, kept across re-configures.
    ceiling: Arc<Ceiling>,
}

struct Table {
    /// Power-of-two length, at most half full, so every probe ends.
    slots: Box<[AtomicPtr<Entry>]>,
    /// Entries in `slots`; changed by the writer only.
    len: AtomicUsize,
    /// The table this one outgrew, kept reachable (see the module doc):
    /// never read, but leak checkers see it held.
    #[allow(dead_code)]
    older: AtomicPtr<Table>,
}

const FIRST_SLOTS: usize = 64;

static TABLE: AtomicPtr<Table> = AtomicPtr::new(ptr::null_mut());
/// Entries ever made (under WRITER): the next one's index.
static ENTRIES: AtomicUsize = AtomicUsize::new(0);
static WRITER: fork::Mutex<()> = fork::Mutex::new(());

/// FxHash: app names come from the program's own configuration, not from an
/// attacker, and hashing them is most of a fresh get's cost with SipHash.
#[inline]
fn hash(name: &str) -> u64 {
    FxBuildHasher.hash_one(name)
}

/// Name equality, inline: the hashes already match, so this nearly always
/// says yes, and libc's memcmp call was a quarter of a fresh read from C.
#[inline]
fn same_name(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if !(8..=64).contains(&n) {
        return a == b;
    }
    let word = |s: &[u8], i: usize| u64::from_ne_bytes(s[i..i + 8].try_into().unwrap_or([0; 8]));
    let mut i = 0;
    while i + 8 <= n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    // The last, overlapping word covers the tail.
    word(a, n - 8) == word(b, n - 8)
}

impl Table {
    fn with_slots(n: usize, older: *mut Table) -> Table {
        Table {
            slots: (0..n).map(|_| AtomicPtr::new(ptr::null_mut())).collect(),
            len: AtomicUsize::new(0),
            older: AtomicPtr::new(older),
        }
    }

    #[inline]
    fn find(&self, hash: u64, name: &str) -> Option<&'static Entry> {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let p = self.slots[i].load(Ordering::Acquire);
            if p.is_null() {
                return None;
            }
            // SAFETY: non-null slots point to leaked entries, never freed.
            let e: &'static Entry = unsafe { &*p };
            if e.hash == hash && same_name(e.name.as_bytes(), name.as_bytes()) {
                return Some(e);
            }
            i = (i + 1) & mask;
        }
    }

    /// Puts `e` in the first free slot of its probe sequence (writer only).
    fn place(&self, e: &'static Entry) {
        let mask = self.slots.len() - 1;
        let mut i = e.hash as usize & mask;
        while !self.slots[i].load(Ordering::Relaxed).is_null() {
            i = (i + 1) & mask;
        }
        self.slots[i].store(ptr::from_ref(e).cast_mut(), Ordering::Release);
        self.len.fetch_add(1, Ordering::Relaxed);
    }

    fn entries(&self) -> impl Iterator<Item = &'static Entry> + '_ {
        self.slots.iter().filter_map(|s| {
            let p = s.load(Ordering::Acquire);
            // SAFETY: as in `find`.
            (!p.is_null()).then(|| unsafe { &*p })
        })
    }
}

#[inline]
fn table() -> Option<&'static Table> {
    let p = TABLE.load(Ordering::Acquire);
    // SAFETY: tables are leaked once published, never freed.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// Always inlined: a call here was an eighth of a fresh `get`.
#[inline(always)]
fn find(name: &str) -> Option<&'static Entry> {
    table()?.find(hash(name), name)
}

/// Adds a new name (under WRITER): in place, or into a table twice the
/// size when this one would be more than half full.
fn insert(e: &'static Entry) {
    let current = table();
    let table = match current {
        Some(t) if (t.len.load(Ordering::Relaxed) + 1) * 2 <= t.slots.len() => t,
        _ => {
            let slots = current.map_or(FIRST_SLOTS, |t| t.slots.len() * 2);
            let older = current.map_or(ptr::null_mut(), |t| ptr::from_ref(t).cast_mut());
            let bigger = Table::with_slots(slots, older);
            for old in current.into_iter().flat_map(Table::entries) {
                bigger.place(old);
            }
            let bigger: &'static Table = Box::leak(Box::new(bigger));
            TABLE.store(ptr::from_ref(bigger).cast_mut(), Ordering::Release);
            bigger
        }
    };
    table.place(e);
}

/// Registers (or replaces) an app; returns the name to pass to [`get`].
/// Re-configuring with other settings swaps in a new cell: calls in flight
/// finish on the old one, and the token survives through the store. The same
/// settings again change nothing, so configuring on every request (as PHP
/// code does) keeps the fresh-read path.
pub fn configure(cfg: Config) -> Result<String> {
    let name = cfg.name.clone();
    apply(vec![cfg]).map_err(|(_, e)| e)?;
    Ok(name)
}

/// Registers several apps, all or none: every config is checked and every
/// changed app's store opened before any app changes, so one bad app (an
/// unreachable Redis, a hostile store directory) leaves the running set as
/// it was. A control server reloading its file relies on this.
pub fn configure_all(cfgs: Vec<Config>) -> Result<Vec<String>> {
    apply(cfgs).map_err(|(name, e)| {
        let msg = format!("app '{}': {}", crate::error::shortened(&name), e.errmsg());
        Error::new(e.kind(), msg)
    })
}

/// [`configure_all`], its error naming the app it is about.
fn apply(cfgs: Vec<Config>) -> std::result::Result<Vec<String>, (String, Error)> {
    let mut names = Vec::with_capacity(cfgs.len());
    for cfg in &cfgs {
        cfg.validate().map_err(|e| (cfg.name.clone(), e))?;
        if names.contains(&cfg.name) {
            return Err((cfg.name.clone(), Error::invalid("configured twice")));
        }
        names.push(cfg.name.clone());
    }
    // Opened before the lock: no lock is held across file system calls.
    let mut changed = Vec::new();
    for cfg in cfgs {
        if !current(&cfg.name).is_some_and(|c| c.cfg == cfg) {
            let store = store::open(&cfg).map_err(|e| (cfg.name.clone(), e))?;
            changed.push((cfg, store));
        }
    }
    let mut replaced = Vec::new();
    if !changed.is_empty() {
        let _writer = WRITER.lock();
        for (cfg, store) in changed {
            let name = cfg.name.clone();
            let (e, new) = match find(&name) {
                Some(e) => (e, false),
                None => {
                    let e: &'static Entry = Box::leak(Box::new(Entry {
                        hash: hash(&name),
                        name: name.as_str().into(),
                        index: ENTRIES.fetch_add(1, Ordering::Relaxed),
                        fresh: FreshWord::new(),
                        cell: ArcSwapOption::empty(),
                        ceiling: Arc::default(),
                    }));
                    (e, true)
                }
            };
            let (ceiling, fresh) = (e.ceiling.clone(), &e.fresh);
            let cell = match &*e.cell.load() {
                Some(old) => TokenCell::replacing(old, cfg, store, ceiling, fresh),
                None => TokenCell::new(cfg, store, ceiling, fresh),
            };
            // The old cell can no longer publish; the new one has no
            // token until its first read adopts the store's.
            e.fresh.hand_over(cell.id);
            replaced.push(e.cell.swap(Some(cell)));
            if new {
                insert(e);
            }
        }
    }
    drop(replaced); // outside the lock: a cell's drop may close a store
    crate::log::deliver_owed(); // app_reconfigured, made under the lock
    refresher::ensure_running();
    Ok(names)
}

/// Forgets an app: the refresher stops keeping its token fresh and calls
/// get `NotConfigured`; calls in flight finish. The token stays in the store,
/// so configuring the app again picks it up. Returns whether it was configured.
pub fn unconfigure(app: &str) -> bool {
    let Some(e) = find(app) else { return false };
    let old = {
        let _writer = WRITER.lock();
        e.fresh.hand_over(0);
        e.cell.swap(None)
    };
    old.is_some()
}

fn current(app: &str) -> Option<Arc<TokenCell>> {
    find(app)?.cell.load_full()
}

/// A token the platform accepts now. A fresh one costs a map lookup, one
/// atomic load and this thread's own copy of the token (its reference count
/// is this thread's: no cache line shared with other readers); see
/// docs/design.md, "The contract".
pub fn get(app: &str) -> Result<Token> {
    if let Some(fresh) = with_fresh_token(app, Arc::clone) {
        return Ok(Token(fresh));
    }
    cell(app)?.get().map(Token)
}

/// Runs `f` on the token without copying it: the bindings copy it straight
/// into the caller's buffer or string.
pub fn with_token<R>(app: &str, f: impl FnOnce(&str) -> R) -> Result<R> {
    let mut f = Some(f);
    // `f` is taken only when the fresh read runs it.
    if let Some(Some(r)) = with_fresh_token(app, |t| f.take().map(|f| f(t))) {
        return Ok(r);
    }
    let f = f.expect("not run by the fresh read");
    let token = cell(app)?.get()?;
    Ok(f(&token))
}

/// Runs `f` on the token only if a fresh one is at hand, without blocking:
/// None (with `f` not run) means "take the slow path" ([`get`]). Bindings
/// that must let go of an interpreter lock before they may wait (Python's
/// GIL) try this first.
#[inline]
pub fn with_fresh_token<R>(app: &str, f: impl FnOnce(&Arc<str>) -> R) -> Option<R> {
    let e = find(app)?;
    let mut f = Some(f);
    match e.fresh.read() {
        Word::Fresh(w) => {
            let fill = || e.cell.load().as_ref()?.copy_of(w);
            if let Some(Some(r)) = fresh::with_cached(e.index, w, fill, |t| f.take().map(|f| f(t)))
            {
                return Some(r);
            }
        }
        Word::Stale => return None,
        Word::Unarmed => start_marker_once(),
    }
    // No marker yet (or a nested read): the clock decides, as it did
    // before fresh words.
    let f = f?;
    let cell: Guard<Option<Arc<TokenCell>>> = e.cell.load();
    let guard = cell.as_ref()?.current_guard();
    TokenCell::fresh_in(&guard).map(f)
}

/// The clock-reading fallback starts the refresher and marker (a forked
/// child's first reads), trying once per process image: should the threads
/// fail to start, a read must not try to spawn them every time.
#[cold]
fn start_marker_once() {
    static TRIED_IN: AtomicU64 = AtomicU64::new(0);
    let image = fork::generation() + 1;
    // Loaded first: the fallback writes no shared memory either, once tried.
    if TRIED_IN.load(Ordering::Relaxed) != image && TRIED_IN.swap(image, Ordering::Relaxed) != image
    {
        refresher::ensure_running();
    }
}

/// A number naming the app's current token while it is fresh: the same
/// number means the same token. None when no fresh token is at hand without
/// the slow path, or when this process cannot tell (then read the token).
/// Bindings keep their own copy of the token (a Python str, a PHP string)
/// keyed by it. Read it *before* the token: a copy made after a number
/// was read is at least as new as that number's token.
#[inline]
pub fn fresh_epoch(app: &str) -> Option<std::num::NonZeroU64> {
    entry_epoch(find(app)?)
}

/// `app`'s fresh word itself (see `fresh.rs`), for a binding that loads
/// it cheaper than it calls [`fresh_epoch`] (PHP's FFI): while it reads
/// `epoch << 1 | 1`, `epoch` is what [`fresh_epoch`] answers. Valid for
/// the life of the process; None if `app` was never configured here.
pub(crate) fn fresh_word_ptr(app: &str) -> Option<*const u64> {
    Some(find(app)?.fresh.as_ptr())
}

/// An app name looked up once, for a binding that reads one app many times
/// (a Python `Client`): [`AppRef::fresh_epoch`] without hashing the name
/// again. Names are never forgotten (unconfigure empties them), so a
/// reference stays valid for the life of the process.
#[derive(Clone, Copy)]
pub struct AppRef(&'static Entry);

impl AppRef {
    /// None if `app` was never configured in this process.
    pub fn new(app: &str) -> Option<AppRef> {
        find(app).map(AppRef)
    }

    /// As [`fresh_epoch`] for this name.
    #[inline]
    pub fn fresh_epoch(self) -> Option<std::num::NonZeroU64> {
        entry_epoch(self.0)
    }
}

#[inline]
fn entry_epoch(e: &Entry) -> Option<std::num::NonZeroU64> {
    match e.fresh.read() {
        Word::Fresh(w) => std::num::NonZeroU64::new(fresh::epoch_of(w)),
        Word::Stale | Word::Unarmed => None,
    }
}

/// Reports `bad_token` as refused by a business call (40001, 40014, 42001).
/// If it is still current, one refresh runs (however many callers report it);
/// otherwise the current token comes back with no upstream call.
pub fn invalidate(app: &str, bad_token: &str) -> Result<Token> {
    if bad_token.is_empty() {
        return Err(Error::invalid("bad_token is empty"));
    }
    cell(app)?.invalidate(bad_token).map(Token)
}

/// The app's state as JSON: token timing (never the token), refresh state,
/// the last error, and this process's counters.
pub fn status(app: &str) -> Result<Value> {
    Ok(cell(app)?.status())
}

/// The app's ticket of `kind` (jsapi, wx_card, agent_config), with the
/// token's contract: a fresh one from memory, one fetch for all the
/// processes sharing the store, fetched with the app's token (a ticket
/// fetch refused for a bad token refreshes the token once, then fetches
/// again).
pub fn get_ticket(app: &str, kind: TicketKind) -> Result<Token> {
    cell(app)?.ticket(kind)?.get().map(Token)
}

/// Reports `bad_ticket` as refused (a page's `wx.config` failed with an
/// invalid signature though it was signed right): one refetch if it is
/// still current, else the current ticket with no upstream call.
pub fn invalidate_ticket(app: &str, kind: TicketKind, bad_ticket: &str) -> Result<Token> {
    if bad_ticket.is_empty() {
        return Err(Error::invalid("bad_ticket is empty"));
    }
    cell(app)?.ticket(kind)?.invalidate(bad_ticket).map(Token)
}

/// What a page at `url` passes to `wx.config`: the app's id, the time, a
/// fresh nonce and the signature with the app's jsapi_ticket.
pub fn jssdk_config(app: &str, url: &str) -> Result<JssdkConfig> {
    signed_config(app, url, TicketKind::Jsapi)
}

/// WeCom: what a page passes to `wx.agentConfig` (add the agentid): signed
/// with the application's agent_config ticket.
pub fn jssdk_agent_config(app: &str, url: &str) -> Result<JssdkConfig> {
    signed_config(app, url, TicketKind::AgentConfig)
}

fn signed_config(app: &str, url: &str, kind: TicketKind) -> Result<JssdkConfig> {
    if url.is_empty() {
        return Err(Error::invalid("url is empty: give the page's URL"));
    }
    let cell = cell(app)?;
    let ticket = cell.ticket(kind)?.get()?;
    let timestamp = crate::clock::now_ms() / 1000;
    let nonce_str = crate::ticket::nonce()?;
    Ok(JssdkConfig {
        app_id: cell.cfg.appid.clone(),
        signature: jssdk_signature(&ticket, &nonce_str, timestamp, url),
        timestamp,
        nonce_str,
    })
}

/// What a business call reported, for [`call`].
pub enum Attempt<T> {
    /// Done: whatever the result, it is not about the token.
    Done(T),
    /// The call answered a bad-token errcode (see [`crate::is_bad_token_errcode`]).
    BadToken(T),
}

/// Runs `f(token)`; if it reports a bad token, invalidates that token and
/// runs `f` exactly once more with the new one.
pub fn call<T>(app: &str, mut f: impl FnMut(&str) -> Attempt<T>) -> Result<T> {
    let token = get(app)?;
    match f(&token) {
        Attempt::Done(v) => Ok(v),
        Attempt::BadToken(_) => {
            let fresh = invalidate(app, &token)?;
            match f(&fresh) {
                Attempt::Done(v) | Attempt::BadToken(v) => Ok(v),
            }
        }
    }
}

/// Every app name's fresh word, for the marker thread.
pub(crate) fn fresh_words(visit: &mut dyn FnMut(&FreshWord)) {
    for e in table().into_iter().flat_map(Table::entries) {
        visit(&e.fresh);
    }
}

/// New epochs for every app's token, republished (the marker's first act
/// in a process image, see `fresh::run_marker`).
pub(crate) fn renew_epochs() {
    for e in table().into_iter().flat_map(Table::entries) {
        if let Some(cell) = e.cell.load_full() {
            cell.renew_epoch();
        }
    }
}

pub(crate) fn cells() -> Vec<Arc<TokenCell>> {
    table()
        .into_iter()
        .flat_map(Table::entries)
        .filter_map(|e| e.cell.load_full())
        .flat_map(|c| {
            let tickets: Vec<_> = c.tickets_in_use().collect();
            std::iter::once(c).chain(tickets)
        })
        .collect()
}

/// The slow-path lookup: also configures an app named by the `WXTOKEN_*`
/// environment on first use, and (re)starts the refresher after a fork.
fn cell(app: &str) -> Result<Arc<TokenCell>> {
    if app.is_empty() {
        return Err(Error::invalid("app name is empty"));
    }
    refresher::ensure_running();
    if let Some(cell) = current(app) {
        return Ok(cell);
    }
    if let Ok(cfg) = Config::from_env() {
        if cfg.name == app {
            configure(cfg)?;
            if let Some(cell) = current(app) {
                return Ok(cell);
            }
        }
    }
    Err(Error::new(
        ErrorKind::NotConfigured,
        format!(
            "app '{}' is not configured (call configure, or set WXTOKEN_APPID and WXTOKEN_SECRET)",
            crate::error::shortened(app)
        ),
    ))
}
