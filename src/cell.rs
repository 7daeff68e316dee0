//! A token cell: one app's token in this process, and the contract of
//! docs/design.md around it. Readers of a fresh token only load the name's
//! fresh word (`fresh.rs`), which every change of `current` republishes;
//! everything else (store reads, refreshes, waits) is the slow path.
//!
//! Two clocks: token expiry is wall time (`now`, shared with other
//! processes); deadlines and cool-downs are monotonic (`mono`).

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Weak};
use std::thread::{self, Thread};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use once_cell::sync::OnceCell;
use serde_json::{json, Value};

use crate::clock::{mono_ms, now_ms, precise_now_ms};
use crate::config::{Config, Mode};
use crate::error::{Error, ErrorKind, Result};
use crate::fork::{self, Mutex};
use crate::fresh::{self, FreshWord};
use crate::log::{self, Event};
use crate::policy;
use crate::record::Record;
use crate::refresh::{Leader, Reason, Source, TokenSource};
use crate::stats::{Ceiling, Stats};
use crate::store::Store;
use crate::ticket::TicketKind;

/// Stable mode may force a new token at most this often (docs/wechat-api.md 2).
pub(crate) const STABLE_FORCE_SPACING_MS: u64 = 30_000;

/// A record with its refresh point worked out once, for the fast path.
pub(crate) struct Cached {
    pub rec: Record,
    pub refresh_at_ms: u64,
    /// Unique in the process: the fresh word names this token by it.
    pub epoch: u64,
}

/// The one refresh of this cell in flight in this process, and what the
/// last one left behind. Times here are monotonic.
#[derive(Default)]
struct Flight {
    running: bool,
    /// The process image the running flight belongs to: after a fork the
    /// child has no such thread and must not wait for it.
    fork_gen: u64,
    /// Bumped whenever a flight lands, so waiters know theirs did.
    landings: u64,
    last_error: Option<Error>,
    failures_in_row: u32,
    cooldown_until: u64,
    /// When stable mode last forced a new token (None: never).
    last_force: Option<u64>,
    /// Threads waiting for the next landing, parked outside the lock (a
    /// condvar would re-take the lock on waking, outside the fork gate).
    waiters: Vec<Thread>,
    /// When (monotonic) the running flight started, for its duration.
    started: u64,
    /// The cool-down the last failure began (ms), until a flight starts again.
    cooled_ms: Option<u64>,
    /// When (wall) the current run of failures began; None while healthy.
    failing_since_ms: Option<u64>,
}

/// What a flight's start has to tell, said once the lock is let go.
struct Claimed {
    force: bool,
    cooldown_ended_ms: Option<u64>,
}

impl Flight {
    fn in_flight(&self) -> bool {
        self.running && self.fork_gen == fork::generation()
    }

    /// Records a failed refresh and starts its cool-down.
    fn failed(&mut self, err: Error) {
        self.failures_in_row += 1;
        self.cooldown_until =
            mono_ms() + policy::cooldown(&err, self.failures_in_row).as_millis() as u64;
        self.last_error = Some(err);
    }
}

pub(crate) struct TokenCell {
    pub(crate) cfg: Config,
    key: String,
    store: Arc<dyn Store>,
    current: ArcSwapOption<Cached>,
    /// Unique in the process: whose token the app name's fresh word holds.
    pub(crate) id: u64,
    /// The app name's fresh word (none for a ticket, read by the clock).
    fresh: Option<&'static FreshWord>,
    flight: Mutex<Flight>,
    stats: Stats,
    /// The app's access token, or a ticket fetched with it.
    source: Source,
    /// A token cell's tickets, made on first use (by [`TokenCell::ticket`]).
    tickets: [OnceCell<Arc<TokenCell>>; 3],
    /// Set when this cell replaced another configuration of the name: when,
    /// and which settings changed. One name is one configuration for the
    /// whole process; a second, different one replaces it for every
    /// caller, which status must show.
    replaced: Option<(u64, Vec<&'static str>)>,
}

impl TokenCell {
    /// `ceiling` is the app name's (the registry keeps it): new settings,
    /// a new cell, the same fetch ceiling.
    pub(crate) fn new(
        cfg: Config,
        store: Arc<dyn Store>,
        ceiling: Arc<Ceiling>,
        fresh: &'static FreshWord,
    ) -> Arc<Self> {
        Arc::new(TokenCell {
            key: cfg.store_key(),
            cfg,
            store,
            current: ArcSwapOption::empty(),
            id: fresh::next_epoch(),
            fresh: Some(fresh),
            flight: Mutex::default(),
            stats: Stats::new(ceiling),
            source: Source::Token,
            tickets: Default::default(),
            replaced: None,
        })
    }

    /// The app's ticket of `kind`: its own cell, record and refresh, fetched
    /// with this cell's token. Made once per kind, on first use; a
    /// re-configured app gets new ticket cells with its new token cell.
    pub(crate) fn ticket(self: &Arc<Self>, kind: TicketKind) -> Result<Arc<TokenCell>> {
        if !matches!(self.source, Source::Token) {
            return Err(Error::invalid("a ticket has no tickets"));
        }
        kind.endpoint(self.cfg.platform)?;
        let slot = &self.tickets[kind.index()];
        if let Some(cell) = slot.get() {
            return Ok(cell.clone());
        }
        // No fork while the slot is being filled: a child would find it
        // half-made and wait for it forever.
        let _section = fork::section();
        Ok(slot
            .get_or_init(|| {
                let mut cfg = self.cfg.clone();
                cfg.name = crate::ticket::cell_name(&self.cfg.name, kind);
                // Tickets are never forced nor verified: stable mode's rules
                // are the token's.
                cfg.mode = Mode::Token;
                Arc::new(TokenCell {
                    key: format!("{}-ticket-{}", self.key, kind),
                    cfg,
                    store: self.store.clone(),
                    current: ArcSwapOption::empty(),
                    id: fresh::next_epoch(),
                    fresh: None,
                    flight: Mutex::default(),
                    stats: Stats::new(Arc::default()),
                    source: Source::Ticket {
                        kind,
                        token: Arc::new(ParentToken(Arc::downgrade(self))),
                    },
                    tickets: Default::default(),
                    replaced: None,
                })
            })
            .clone())
    }

    /// Each ticket in use: its timing (never the ticket), refresh state and
    /// counters; null for a ticket cell.
    fn tickets_status(&self) -> Value {
        if !matches!(self.source, Source::Token) {
            return Value::Null;
        }
        let mut all = serde_json::Map::new();
        for (kind, cell) in TicketKind::ALL.iter().zip(&self.tickets) {
            if let Some(t) = cell.get() {
                let mut st = t.status();
                let keep = [
                    "token",
                    "refreshing",
                    "cooldown_ms",
                    "last_error",
                    "shared",
                    "stats",
                ];
                if let Some(m) = st.as_object_mut() {
                    m.retain(|k, _| keep.contains(&k.as_str()));
                }
                all.insert(kind.as_str().into(), st);
            }
        }
        Value::Object(all)
    }

    /// The tickets in use, for the background refresher.
    pub(crate) fn tickets_in_use(&self) -> impl Iterator<Item = Arc<TokenCell>> + '_ {
        self.tickets.iter().filter_map(|t| t.get().cloned())
    }

    /// A cell for `cfg` that replaces `old`'s configuration of the name.
    pub(crate) fn replacing(
        old: &TokenCell,
        cfg: Config,
        store: Arc<dyn Store>,
        ceiling: Arc<Ceiling>,
        fresh: &'static FreshWord,
    ) -> Arc<Self> {
        let changed = cfg.differences(&old.cfg);
        log::emit(Event::AppReconfigured, &cfg.name, |r| {
            r.set("changed", changed.clone());
            format!(
                "configured again with other settings ({}); every caller of this name \
                 in this process uses the new ones (one name, one configuration: give \
                 another configuration another name)",
                changed.join(", ")
            )
        });
        let mut cell = TokenCell::new(cfg, store, ceiling, fresh);
        if let Some(c) = Arc::get_mut(&mut cell) {
            c.replaced = Some((now_ms(), changed));
        }
        cell
    }

    fn deadline(&self) -> u64 {
        mono_ms().saturating_add(self.cfg.wait.as_millis() as u64)
    }

    /// A token the platform accepts now (docs/design.md, `get`, steps 2 to 4).
    pub(crate) fn get(self: &Arc<Self>) -> Result<Arc<str>> {
        if let Some(token) = Self::fresh_in(&self.current_guard()).cloned() {
            return Ok(token);
        }
        // Stale-while-refresh with no store I/O on the caller's thread: the
        // refresh re-reads the store under its lock and adopts what another
        // process wrote. A store round trip here (Redis) would make every
        // call in the margin wait on the network, or on a Redis that hangs.
        if let Some(c) = self.current.load_full() {
            if c.rec.is_valid(now_ms()) {
                self.start_flight(Reason::Expiring);
                return Ok(c.rec.token.clone());
            }
        }
        let deadline = self.deadline();
        let mut store_err = self.adopt_from_store().err();
        for round in 0.. {
            let now = now_ms();
            if let Some(c) = self.current.load_full() {
                if now < c.refresh_at_ms {
                    return Ok(c.rec.token.clone());
                }
                if c.rec.is_valid(now) {
                    // Stale-while-refresh: serve it, let one refresh run.
                    self.start_flight(Reason::Expiring);
                    return Ok(c.rec.token.clone());
                }
            }
            // Stable mode goes on to a refresh, which may fetch without
            // the store (refresh.rs, Leader::without_store).
            if let Some(err) = store_err.take() {
                if self.cfg.mode != Mode::Stable {
                    return Err(err);
                }
            }
            // Each round waits for a landing; this bounds the rounds too
            // (the first always runs, so wait_ms = 0 still starts a refresh).
            if round > 0 && mono_ms() >= deadline {
                return self.last_look().ok_or_else(|| self.timed_out());
            }
            let landing = self.join_flight(Reason::Expiring)?;
            if let Err(err) = self.wait_landing(landing, deadline) {
                return self.last_look().ok_or(err);
            }
        }
        unreachable!("the rounds end by returning")
    }

    /// Before a `get` gives up (time is up, or our refresh failed): a valid
    /// record another process wrote meanwhile still answers it. A process
    /// stopped past wait_ms (SIGSTOP, a debugger) resumes on the token the
    /// process that took over fetched, instead of a timeout.
    fn last_look(&self) -> Option<Arc<str>> {
        let _ = self.adopt_from_store();
        let c = self.current.load_full()?;
        c.rec.is_valid(now_ms()).then(|| c.rec.token.clone())
    }

    /// A business call was told `bad` is bad: refresh once if it is still
    /// current, else hand out the current token with no upstream call.
    pub(crate) fn invalidate(self: &Arc<Self>, bad: &str) -> Result<Arc<str>> {
        let deadline = self.deadline();
        let bad: Arc<str> = bad.into();
        // The generation the caller saw holding `bad`: ours, read before the
        // store can hand us a later one (another cell's or process's answer
        // to this very problem); a cell with no such token takes the store's.
        let holding_bad = |cell: &Self| match cell.current.load().as_deref() {
            Some(c) if c.rec.token == bad => Some(c.rec.generation),
            _ => None,
        };
        let seen_before = holding_bad(self);
        let mut store_err = self.adopt_from_store().err();
        let seen_gen = seen_before.or_else(|| holding_bad(self)).unwrap_or(0);
        // Round 1 may join a refresh begun for expiry; round 2's own refresh
        // writes a later generation, which answers the report.
        for _round in 0..3 {
            let now = now_ms();
            if let Some(c) = self.current.load_full() {
                if c.rec.is_valid(now) && c.rec.answers(&bad, seen_gen) {
                    return Ok(c.rec.token.clone());
                }
            }
            if let Some(err) = store_err.take() {
                return Err(err);
            }
            let reason = Reason::Invalid {
                bad: bad.clone(),
                seen_gen,
            };
            let landing = self.join_flight(reason)?;
            self.wait_landing(landing, deadline)?;
        }
        Err(Error::new(
            ErrorKind::Upstream,
            "the refresh brought no valid token",
        ))
    }

    /// Background refresher's visit: adopt what other processes wrote, start
    /// a refresh when one is due. Returns when the next one is due, if known.
    pub(crate) fn tick(self: &Arc<Self>, now: u64) -> Option<u64> {
        // Never used: nothing to keep fresh, and no store read either (a
        // process with many configured apps would read every one's record
        // twice a second). The first get adopts from the store itself.
        let held = self.current.load_full()?;
        if now >= held.refresh_at_ms {
            // Before the store read (which may hang): a marker woken late
            // has not cleared FRESH yet; this bounds the fresh read too.
            self.expire_fresh(&held);
        }
        drop(held);
        let _ = self.adopt_from_store();
        let c = self.current.load_full()?;
        if now >= c.refresh_at_ms {
            self.expire_fresh(&c);
            self.start_flight(Reason::Expiring);
            return None;
        }
        if self.cfg.mode == Mode::Stable
            && self.stats.wants_verification()
            && self.start_flight(Reason::Verify)
        {
            // A normal stable fetch hands back the same token: it proves the
            // secret without side effects (never done in classic mode, where
            // every fetch kills the token the others are using). Once.
            self.stats.verification_started();
        }
        Some(c.refresh_at_ms)
    }

    /// Clears the fresh word's FRESH if it still names `c`.
    fn expire_fresh(&self, c: &Cached) {
        if let Some(word) = self.fresh {
            word.expire(self.id, c.epoch);
        }
    }

    pub(crate) fn status(&self) -> Value {
        // What the store holds first: a process that just configured the
        // app would otherwise show no token where another one stored it.
        // A store error shows in "shared" (null) below.
        let _ = self.adopt_from_store();
        let now = precise_now_ms();
        let token = match self.current.load_full() {
            Some(c) => json!({
                "present": true,
                "valid": c.rec.is_valid(now),
                "fresh": now < c.refresh_at_ms,
                "generation": c.rec.generation,
                "fetched_at_ms": c.rec.fetched_at_ms,
                "expires_at_ms": c.rec.expires_at_ms,
                "expires_in_ms": c.rec.expires_at_ms.saturating_sub(now),
                "refresh_in_ms": c.refresh_at_ms.saturating_sub(now),
                // The margin in effect: refresh_margin_s, but at most half
                // the token's life (see Record::refresh_at_ms).
                "effective_margin_s": c.rec.expires_at_ms.saturating_sub(c.refresh_at_ms) / 1000,
                "length": c.rec.token.len(),
            }),
            None => json!({ "present": false }),
        };
        // Read before taking the flight lock: no store I/O under it.
        let shared = self.shared_status(now);
        let f = self.flight.lock();
        let last_error = f.last_error.as_ref().map(
            |e| json!({ "kind": e.kind().as_str(), "errcode": e.errcode(), "errmsg": e.errmsg() }),
        );
        json!({
            "name": self.cfg.name,
            "appid": self.cfg.appid,
            "platform": format!("{:?}", self.cfg.platform).to_lowercase(),
            "mode": format!("{:?}", self.cfg.mode).to_lowercase(),
            "api_base": self.cfg.api_base,
            "store": self.store.describe(),
            "store_notice": self.store.notice(),
            "tickets": self.tickets_status(),
            "reconfigured": self.replaced.as_ref().map(|(at, changed)| json!({"at_ms": at, "changed": changed})),
            "refresh_margin_s": self.cfg.refresh_margin.as_secs(),
            "token": token,
            "refreshing": f.in_flight(),
            "cooldown_ms": f.cooldown_until.saturating_sub(mono_ms()),
            "failures_in_row": f.failures_in_row,
            "failing_since_ms": f.failing_since_ms,
            "last_error": last_error,
            "credentials": self.stats.credentials_json(),
            "shared": shared,
            "stats": self.stats.to_json(),
        })
    }

    /// The store's shared state for status: fetches today, who made the
    /// last one, a shared cool-down (null if the store cannot be read).
    fn shared_status(&self, now: u64) -> Value {
        match self.store.load_meta(&self.key) {
            Ok(m) => m.to_status(now, self.cfg.daily_fetch_budget),
            Err(_) => Value::Null,
        }
    }

    /// Takes a record from the store if it is newer than ours.
    fn adopt_from_store(&self) -> Result<()> {
        if let Some(rec) = self.store.load(&self.key)? {
            let generation = rec.generation;
            if self.adopt(rec) {
                self.stats.adopted(&self.cfg.name, generation);
            }
        }
        Ok(())
    }

    fn adopt(&self, rec: Record) -> bool {
        let margin = self.cfg.refresh_margin.as_millis() as u64;
        let fresh = Arc::new(Cached {
            refresh_at_ms: rec.refresh_at_ms(margin),
            rec,
            epoch: fresh::next_epoch(),
        });
        let mut adopted = false;
        // No fork between the swap and the publish: a child would inherit a
        // word naming the token just replaced, and the forking thread's
        // copy of it.
        let _section = fork::section();
        self.current.rcu(|cur| match cur {
            Some(c) if !fresh.rec.is_newer_than(&c.rec) => {
                adopted = false;
                Some(c.clone())
            }
            _ => {
                adopted = true;
                Some(fresh.clone())
            }
        });
        if adopted {
            self.publish();
        }
        adopted
    }

    /// Gives the token a new epoch and republishes it: a forked child's
    /// marker does so before it arms, so that no copy inherited from the
    /// parent (keyed by the old epoch) is ever served again.
    pub(crate) fn renew_epoch(&self) {
        let _section = fork::section();
        self.current.rcu(|cur| {
            cur.as_ref().map(|c| {
                Arc::new(Cached {
                    rec: c.rec.clone(),
                    refresh_at_ms: c.refresh_at_ms,
                    epoch: fresh::next_epoch(),
                })
            })
        });
        self.publish();
    }

    /// Tells the app name's fresh word what this cell holds now (after
    /// every change of `current`, inside the same fork section). The token
    /// is loaded under the word's lock: the last to publish writes the
    /// token current then.
    pub(crate) fn publish(&self) {
        if let Some(word) = self.fresh {
            word.publish(self.id, || {
                let held = self.current.load();
                held.as_deref().map(|c| (c.epoch, c.refresh_at_ms))
            });
        }
    }

    /// This thread's copy of the token of fresh word `word`, if it is still
    /// the one this cell holds (for the thread-local cache in `fresh.rs`).
    pub(crate) fn copy_of(&self, word: u64) -> Option<Arc<str>> {
        let held = self.current.load();
        let c = held.as_deref()?;
        (c.epoch == fresh::epoch_of(word)).then(|| Arc::from(&*c.rec.token))
    }

    /// Starts a refresh unless one is in flight or the cell is cooling down.
    /// True if it started one.
    fn start_flight(self: &Arc<Self>, reason: Reason) -> bool {
        let mut f = self.flight.lock();
        if f.in_flight() || mono_ms() < f.cooldown_until {
            return false;
        }
        let claimed = self.claim(&mut f, &reason);
        drop(f);
        self.tell(&claimed, &reason);
        self.spawn(reason, claimed.force).is_ok()
    }

    /// Joins the refresh in flight, or starts one; returns the landing count
    /// to wait past. During a cool-down, the last error comes back at once.
    fn join_flight(self: &Arc<Self>, reason: Reason) -> Result<u64> {
        let mut f = self.flight.lock();
        let landing = f.landings;
        if f.in_flight() {
            return Ok(landing);
        }
        if mono_ms() < f.cooldown_until {
            if let Some(err) = &f.last_error {
                return Err(err.clone());
            }
        }
        let claimed = self.claim(&mut f, &reason);
        drop(f);
        self.tell(&claimed, &reason);
        self.spawn(reason, claimed.force)?;
        Ok(landing)
    }

    /// Marks a flight as running (so no other caller starts one) and decides
    /// whether it forces a new stable token. The thread starts after the
    /// lock is let go: no lock is held across a thread spawn.
    fn claim(&self, f: &mut Flight, reason: &Reason) -> Claimed {
        let is_report = matches!(reason, Reason::Invalid { .. });
        let mono = mono_ms();
        let force = is_report
            && self.cfg.mode == Mode::Stable
            && f.last_force
                .is_none_or(|t| mono.saturating_sub(t) >= STABLE_FORCE_SPACING_MS);
        if force {
            f.last_force = Some(mono);
        }
        if is_report {
            self.stats.invalidation();
        }
        f.running = true;
        f.fork_gen = fork::generation();
        f.started = mono;
        Claimed {
            force,
            cooldown_ended_ms: f.cooled_ms.take(),
        }
    }

    /// The records a flight's start makes (after the flight lock is let go).
    fn tell(&self, claimed: &Claimed, reason: &Reason) {
        let name = &self.cfg.name;
        if let Some(ms) = claimed.cooldown_ended_ms {
            log::emit(Event::CooldownEnded, name, |r| {
                r.set("cooldown_ms", ms);
                format!("the {ms} ms cool-down is over: refreshing again")
            });
        }
        if let Reason::Invalid { seen_gen, .. } = reason {
            log::emit(Event::TokenInvalidated, name, |r| {
                r.set("generation", *seen_gen);
                r.set("forced", claimed.force);
                format!(
                    "a business call reported the token of generation {seen_gen} as bad \
                     while it was current: one refresh runs for it"
                )
            });
        }
    }

    /// Spawns the claimed flight's thread. If that fails (thread limits),
    /// the failure lands at once with a cool-down, so callers get it
    /// instead of looping.
    fn spawn(self: &Arc<Self>, reason: Reason, force: bool) -> Result<()> {
        let cell = Arc::clone(self);
        let spawned = thread::Builder::new()
            .name("wxtoken-refresh".into())
            .spawn(move || cell.fly(reason, force));
        match spawned {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = Error::new(
                    ErrorKind::Upstream,
                    format!("cannot start a refresh thread: {}", e.kind()),
                );
                self.land(Err(err.clone()));
                Err(err)
            }
        }
    }

    /// The refresh thread's body: lead (or follow) the refresh, adopt, land.
    /// A panic (a bug, or in a dependency) lands as an error: a flight that
    /// never lands would leave every later caller waiting out wait_ms.
    fn fly(self: Arc<Self>, reason: Reason, force: bool) {
        let (known, valid_in_hand) = match self.current.load().as_deref() {
            Some(c) => (c.rec.generation, c.rec.is_valid(now_ms())),
            None => (0, false),
        };
        let leader = Leader {
            cfg: &self.cfg,
            source: &self.source,
            store: &*self.store,
            key: &self.key,
            stats: &self.stats,
            valid_in_hand,
            shared_cooldown_ms: Default::default(),
        };
        let result = panic::catch_unwind(AssertUnwindSafe(|| leader.run(&reason, force, known)))
            .unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::Upstream,
                    "the refresh thread panicked",
                ))
            })
            .and_then(|rec| self.answers(&reason, rec));
        if let Ok(rec) = &result {
            self.adopt(rec.clone());
        }
        // Answered from a shared cool-down: ours ends with it, so this
        // process tries again when the store's does, not a full one later.
        let shared_left = leader.shared_cooldown_ms.get();
        self.land_for(result.map(drop), shared_left);
    }

    /// A refresh must end with a record that answers why it ran: valid and
    /// outside the refresh margin, or (for a report) valid and not the
    /// reported token of that generation. A store
    /// that keeps something else (a record it will not let us replace, say
    /// one claiming a far-future fetch or a huge fence) would otherwise have
    /// every waiter start the next refresh at once, and spend the quota in
    /// a second: it lands as an error, and the cell cools down.
    fn answers(&self, reason: &Reason, rec: Record) -> Result<Record> {
        let now = now_ms();
        let margin = self.cfg.refresh_margin.as_millis() as u64;
        let unanswered = match reason {
            Reason::Verify => !rec.is_valid(now),
            _ => reason.needs_fetch(Some(&rec), now, margin),
        };
        if !unanswered {
            return Ok(rec);
        }
        let err = Error::new(
            ErrorKind::Store,
            "the store kept a record that does not answer the refresh \
             (expired, or the reported token) and refused the fetched one",
        );
        log::emit(Event::StoreError, &self.cfg.name, |r| {
            log::error_fields(r, &err);
            err.to_string()
        });
        Err(err)
    }

    /// Ends the flight: records its outcome, wakes its waiters.
    fn land(&self, result: Result<()>) {
        self.land_for(result, None);
    }

    /// Lands; a failure cools down for `cooldown_ms` if given, else by
    /// policy.
    fn land_for(&self, result: Result<()>, cooldown_ms: Option<u64>) {
        let failed = result.as_ref().err().cloned();
        let shared = cooldown_ms.is_some();
        let mut f = self.flight.lock();
        f.running = false;
        f.landings += 1;
        let duration_ms = mono_ms().saturating_sub(f.started);
        let failures_before = f.failures_in_row;
        let failing_since = f.failing_since_ms;
        match result {
            Ok(()) => {
                f.last_error = None;
                f.failures_in_row = 0;
                f.cooldown_until = 0;
                f.cooled_ms = None;
                f.failing_since_ms = None;
            }
            Err(err) => {
                f.failed(err);
                if let Some(ms) = cooldown_ms {
                    f.cooldown_until = mono_ms().saturating_add(ms);
                }
                f.cooled_ms = Some(f.cooldown_until.saturating_sub(mono_ms()));
                f.failing_since_ms.get_or_insert_with(now_ms);
            }
        }
        let (failures, cooled, since) = (f.failures_in_row, f.cooled_ms, f.failing_since_ms);
        let waiters = std::mem::take(&mut f.waiters);
        drop(f);
        // Told after the lock is let go, before the waiters wake: a caller
        // that got the error finds its records made (pushing never blocks).
        let name = &self.cfg.name;
        match failed {
            None if failures_before > 0 => log::emit(Event::Recovered, name, |r| {
                let failed_for = failing_since.map(|t| now_ms().saturating_sub(t));
                r.set("failures", failures_before);
                r.set("failed_for_ms", failed_for);
                r.set("duration_ms", duration_ms);
                format!("refreshed again after {failures_before} failed refreshes")
            }),
            None => {}
            Some(err) => {
                self.stats.refresh_failed(&err);
                let cooling = cooled.unwrap_or(0);
                log::emit(Event::RefreshFailed, name, |r| {
                    log::error_fields(r, &err);
                    r.set("failures_in_row", failures);
                    r.set("failing_since_ms", since);
                    r.set("cooldown_ms", cooling);
                    r.set("duration_ms", duration_ms);
                    format!("refresh failed: {err}")
                });
                log::emit(Event::CooldownBegan, name, |r| {
                    log::error_fields(r, &err);
                    r.set("cooldown_ms", cooling);
                    // Another process's failure, answered from the store.
                    r.set("shared", shared);
                    format!(
                        "no refresh for {cooling} ms: callers get this error meanwhile, \
                         the upstream is left alone"
                    )
                });
            }
        }
        for w in waiters {
            w.unpark();
        }
    }

    /// Waits until the flight after `landing` lands, at most until `deadline`
    /// (monotonic). Its error, if it failed, is the caller's. Parks outside
    /// the lock; a spurious or stale wake-up just looks again.
    fn wait_landing(&self, landing: u64, deadline: u64) -> Result<()> {
        let me = thread::current();
        loop {
            let mut f = self.flight.lock();
            if f.landings != landing || !f.in_flight() {
                return match &f.last_error {
                    Some(err) if f.landings != landing => Err(err.clone()),
                    _ => Ok(()),
                };
            }
            let now = mono_ms();
            if now >= deadline {
                return Err(self.timed_out());
            }
            if !f.waiters.iter().any(|w| w.id() == me.id()) {
                f.waiters.push(me.clone());
            }
            drop(f);
            thread::park_timeout(Duration::from_millis(deadline - now));
        }
    }

    /// The caller's wait is over while the refresh goes on; the cause of
    /// its failing attempts (an unreachable api_base...) is in the message.
    fn timed_out(&self) -> Error {
        let waited = self.cfg.wait.as_millis();
        match self.stats.failing() {
            Some(cause) => Error::new(
                ErrorKind::Timeout,
                format!(
                    "no valid token within wait_ms ({waited} ms); the refresh is still \
                     retrying, its last attempt failed: {}: {}",
                    cause.kind().as_str(),
                    cause.errmsg()
                ),
            ),
            None => Error::new(
                ErrorKind::Timeout,
                format!("no valid token within wait_ms ({waited} ms); a refresh is still running"),
            ),
        }
    }
}

/// A ticket's way to its app's token. Weak: the token cell owns its
/// tickets; a ticket outliving a re-configure finds no token.
struct ParentToken(Weak<TokenCell>);

impl ParentToken {
    fn cell(&self) -> Result<Arc<TokenCell>> {
        self.0.upgrade().ok_or_else(|| {
            Error::new(
                ErrorKind::NotConfigured,
                "the app was configured again: ask for the ticket again",
            )
        })
    }
}

impl TokenSource for ParentToken {
    fn get(&self) -> Result<Arc<str>> {
        self.cell()?.get()
    }
    fn invalidate(&self, bad: &str) -> Result<Arc<str>> {
        self.cell()?.invalidate(bad)
    }
}

/// The fast path: the guard keeps the token alive while the caller copies
/// or clones it; no lock, no system call, no allocation.
pub(crate) type CurrentGuard = arc_swap::Guard<Option<Arc<Cached>>>;

impl TokenCell {
    #[inline]
    pub(crate) fn current_guard(&self) -> CurrentGuard {
        self.current.load()
    }

    #[inline]
    pub(crate) fn fresh_in(guard: &CurrentGuard) -> Option<&Arc<str>> {
        match guard.as_deref() {
            Some(c) if now_ms() < c.refresh_at_ms => Some(&c.rec.token),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::StoreSpec;

    fn cell() -> (Arc<TokenCell>, &'static FreshWord) {
        let mut cfg = Config::new("wxcelltest", "cell-secret");
        cfg.store = StoreSpec::Memory;
        // Nothing listens there: a refresh the tick starts fails at once.
        cfg.api_base = "http://127.0.0.1:9".into();
        let store = crate::store::open(&cfg).unwrap();
        let word: &'static FreshWord = Box::leak(Box::new(FreshWord::new()));
        let cell = TokenCell::new(cfg, store, Arc::default(), word);
        word.hand_over(cell.id);
        (cell, word)
    }

    fn record(generation: u64) -> Record {
        let now = now_ms();
        Record {
            token: format!("token-{generation}").into(),
            expires_at_ms: now + 7_200_000,
            fetched_at_ms: now,
            generation,
            fence: 0,
        }
    }

    fn current_epoch(cell: &TokenCell) -> u64 {
        cell.current.load().as_ref().map_or(0, |c| c.epoch)
    }

    /// Adopters race (one loads X, another installs and publishes Y, the
    /// first publishes last): the word must still name the current token,
    /// or Python and PHP keep Y's string under X's epoch.
    #[test]
    fn racing_adopters_leave_the_word_naming_the_current_token() {
        let (cell, word) = cell();
        let next = std::sync::atomic::AtomicU64::new(1);
        for _round in 0..300 {
            let barrier = std::sync::Barrier::new(4);
            thread::scope(|s| {
                for t in 0..4 {
                    let (cell, next, barrier) = (&cell, &next, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        if t == 3 {
                            cell.renew_epoch();
                        } else {
                            let g = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            cell.adopt(record(g));
                        }
                    });
                }
            });
            assert_eq!(word.peek().0, current_epoch(&cell));
        }
    }

    /// A marker woken late has not cleared FRESH at the refresh point: the
    /// refresher's tick there does.
    #[test]
    fn the_tick_at_the_refresh_point_clears_fresh() {
        let (cell, word) = cell();
        assert!(cell.adopt(record(1)));
        word.mark_now(); // armed, as the marker's pass leaves it
        let epoch = current_epoch(&cell);
        assert_eq!(word.peek(), (epoch, true));
        let refresh_at = cell.current.load().as_ref().unwrap().refresh_at_ms;
        cell.tick(refresh_at - 1);
        assert_eq!(word.peek(), (epoch, true), "not yet due: left fresh");
        cell.tick(refresh_at);
        assert_eq!(word.peek(), (epoch, false));
    }

    /// What a forked child's handler (unlocked) and a dying marker (locked)
    /// do to every word: FRESH goes, the epoch stays, the token too.
    #[test]
    fn unarming_clears_fresh_and_keeps_the_epoch() {
        for locked in [false, true] {
            let (cell, word) = cell();
            assert!(cell.adopt(record(1)));
            word.mark_now();
            let epoch = current_epoch(&cell);
            assert_eq!(word.peek(), (epoch, true));
            word.unarm(locked);
            assert_eq!(word.peek(), (epoch, false), "locked: {locked}");
            word.unarm(locked); // a word already clear stays clear
            assert_eq!(word.peek(), (epoch, false));
            assert_eq!(current_epoch(&cell), epoch);
        }
    }
}
