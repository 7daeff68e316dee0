//! A token cell: one app's token in this process, and the contract of
//! DESIGN.md around it. Readers of a fresh token touch one atomic pointer;
//! everything else (store reads, refreshes, waits) is the slow path.
//!
//! Two clocks: token expiry is wall time (`now`, shared with other
//! processes); deadlines and cool-downs are monotonic (`mono`).

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use parking_lot::{Condvar, Mutex};
use serde_json::{json, Value};

use crate::clock::{mono_ms, now_ms};
use crate::config::{Config, Mode};
use crate::error::{Error, ErrorKind, Result};
use crate::fork;
use crate::policy;
use crate::record::Record;
use crate::refresh::{Leader, Reason};
use crate::stats::Stats;
use crate::store::Store;

/// Stable mode may force a new token at most this often (wechat-api.md 2).
const STABLE_FORCE_SPACING_MS: u64 = 30_000;

/// A record with its refresh point worked out once, for the fast path.
pub(crate) struct Cached {
    pub rec: Record,
    pub refresh_at_ms: u64,
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
    flight: Mutex<Flight>,
    landed: Condvar,
    stats: Stats,
}

impl TokenCell {
    pub(crate) fn new(cfg: Config, store: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(TokenCell {
            key: cfg.store_key(),
            cfg,
            store,
            current: ArcSwapOption::empty(),
            flight: Mutex::default(),
            landed: Condvar::new(),
            stats: Stats::default(),
        })
    }

    fn deadline(&self) -> u64 {
        mono_ms().saturating_add(self.cfg.wait.as_millis() as u64)
    }

    /// A token the platform accepts now (DESIGN.md, `get`, steps 2 to 4).
    pub(crate) fn get(self: &Arc<Self>) -> Result<Arc<str>> {
        if let Some(token) = Self::fresh_in(&self.current_guard()).cloned() {
            return Ok(token);
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
            if let Some(err) = store_err.take() {
                return Err(err);
            }
            // Each round waits for a landing; this bounds the rounds too
            // (the first always runs, so wait_ms = 0 still starts a refresh).
            if round > 0 && mono_ms() >= deadline {
                return Err(self.timed_out());
            }
            let landing = self.join_flight(Reason::Expiring)?;
            self.wait_landing(landing, deadline)?;
        }
        unreachable!("the rounds end by returning")
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
        let _ = self.adopt_from_store();
        let c = self.current.load_full()?; // never used: nothing to keep fresh
        if now >= c.refresh_at_ms {
            self.start_flight(Reason::Expiring);
            return None;
        }
        Some(c.refresh_at_ms)
    }

    pub(crate) fn status(&self) -> Value {
        let now = now_ms();
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
                "length": c.rec.token.len(),
            }),
            None => json!({ "present": false }),
        };
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
            "refresh_margin_s": self.cfg.refresh_margin.as_secs(),
            "token": token,
            "refreshing": f.in_flight(),
            "cooldown_ms": f.cooldown_until.saturating_sub(mono_ms()),
            "last_error": last_error,
            "stats": self.stats.to_json(),
        })
    }

    /// Takes a record from the store if it is newer than ours.
    fn adopt_from_store(&self) -> Result<()> {
        if let Some(rec) = self.store.load(&self.key)? {
            if self.adopt(rec) {
                self.stats.adopted();
            }
        }
        Ok(())
    }

    fn adopt(&self, rec: Record) -> bool {
        let margin = self.cfg.refresh_margin.as_millis() as u64;
        let fresh = Arc::new(Cached {
            refresh_at_ms: rec.refresh_at_ms(margin),
            rec,
        });
        let mut adopted = false;
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
        adopted
    }

    /// Starts a refresh unless one is in flight or the cell is cooling down.
    fn start_flight(self: &Arc<Self>, reason: Reason) {
        let mut f = self.flight.lock();
        if !f.in_flight() && mono_ms() >= f.cooldown_until {
            let _ = self.launch(&mut f, reason);
        }
    }

    /// Joins the refresh in flight, or starts one; returns the landing count
    /// to wait past. During a cool-down, the last error comes back at once.
    fn join_flight(self: &Arc<Self>, reason: Reason) -> Result<u64> {
        let mut f = self.flight.lock();
        if !f.in_flight() {
            if mono_ms() < f.cooldown_until {
                if let Some(err) = &f.last_error {
                    return Err(err.clone());
                }
            }
            self.launch(&mut f, reason)?;
        }
        Ok(f.landings)
    }

    /// Spawns the refresh thread. If that fails (thread limits), the failure
    /// lands at once with a cool-down, so callers get it instead of looping.
    fn launch(self: &Arc<Self>, f: &mut Flight, reason: Reason) -> Result<()> {
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
        let cell = Arc::clone(self);
        let spawned = thread::Builder::new()
            .name("wxtoken-refresh".into())
            .spawn(move || cell.fly(reason, force));
        if let Err(e) = spawned {
            let err = Error::new(
                ErrorKind::Upstream,
                format!("cannot start a refresh thread: {}", e.kind()),
            );
            f.failed(err.clone());
            return Err(err);
        }
        f.running = true;
        f.fork_gen = fork::generation();
        Ok(())
    }

    /// The refresh thread's body: lead (or follow) the refresh, adopt, land.
    /// A panic (a bug, or in a dependency) lands as an error: a flight that
    /// never lands would leave every later caller waiting out wait_ms.
    fn fly(self: Arc<Self>, reason: Reason, force: bool) {
        let known = self.current.load().as_ref().map_or(0, |c| c.rec.generation);
        let leader = Leader {
            cfg: &self.cfg,
            store: &*self.store,
            key: &self.key,
            stats: &self.stats,
        };
        let result = panic::catch_unwind(AssertUnwindSafe(|| leader.run(&reason, force, known)))
            .unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::Upstream,
                    "the refresh thread panicked",
                ))
            });
        if let Ok(rec) = &result {
            self.adopt(rec.clone());
        }
        let mut f = self.flight.lock();
        f.running = false;
        f.landings += 1;
        match result {
            Ok(_) => {
                f.last_error = None;
                f.failures_in_row = 0;
                f.cooldown_until = 0;
            }
            Err(err) => f.failed(err),
        }
        drop(f);
        self.landed.notify_all();
    }

    /// Waits until the flight after `landing` lands, at most until `deadline`
    /// (monotonic). Its error, if it failed, is the caller's.
    fn wait_landing(&self, landing: u64, deadline: u64) -> Result<()> {
        let mut f = self.flight.lock();
        while f.landings == landing && f.in_flight() {
            let now = mono_ms();
            if now >= deadline {
                return Err(self.timed_out());
            }
            self.landed
                .wait_for(&mut f, Duration::from_millis(deadline - now));
        }
        match &f.last_error {
            Some(err) if f.landings != landing => Err(err.clone()),
            _ => Ok(()),
        }
    }

    fn timed_out(&self) -> Error {
        Error::new(
            ErrorKind::Timeout,
            format!(
                "no valid token within wait_ms ({} ms); a refresh is still running",
                self.cfg.wait.as_millis()
            ),
        )
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
