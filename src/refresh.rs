//! The refresh leader (docs/design.md, "Refresh leader"): take the store's lock,
//! re-read the record, adopt it if someone else refreshed meanwhile, else
//! fetch and write. Whoever does not get the lock waits for the record.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::cell::STABLE_FORCE_SPACING_MS;
use crate::clock::{mono_ms, now_ms, precise_now_ms};
use crate::config::Config;
use crate::config::Mode;
use crate::error::{is_bad_token_errcode, Error, ErrorKind, Result};
use crate::log::{self, Event};
use crate::meta::{self, LastFetch, Meta, SharedCooldown};
use crate::policy;
use crate::record::Record;
use crate::stats::Stats;
use crate::store::{RefreshLock, Store};
use crate::ticket::TicketKind;
use crate::upstream::{self, Fetched};

/// Fetches of the daily budget that reports may not spend (at most).
const REPORT_RESERVE: u64 = 48;

/// How often a waiting process looks for the leader's record.
const LOCK_POLL: Duration = Duration::from_millis(20);

/// Why a refresh runs; decides whether a record someone else wrote will do.
#[derive(Debug, Clone)]
pub(crate) enum Reason {
    /// The token is missing, expired or inside the refresh margin.
    Expiring,
    /// A business call was told `bad` is bad; `seen_gen` is the generation
    /// of the newest record holding it when the report was made.
    Invalid { bad: Arc<str>, seen_gen: u64 },
    /// Stable mode only: one normal fetch to prove this process's secret
    /// (it hands back the same token, so it costs the others nothing).
    Verify,
}

impl Reason {
    /// Its name in records: "expiring", "invalid", "verify".
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Reason::Expiring => "expiring",
            Reason::Invalid { .. } => "invalid",
            Reason::Verify => "verify",
        }
    }

    pub(crate) fn needs_fetch(&self, held: Option<&Record>, now: u64, margin_ms: u64) -> bool {
        let Some(held) = held else { return true };
        match self {
            Reason::Expiring => now >= held.refresh_at_ms(margin_ms),
            Reason::Verify => true,
            Reason::Invalid { bad, seen_gen } => {
                !held.is_valid(now) || !held.answers(bad, *seen_gen)
            }
        }
    }
}

impl Record {
    /// Whether this record answers a report of `bad` made when generation
    /// `seen_gen` was the newest holding it: another token does, and so does
    /// a later fetch that handed the same token back (WeCom and stable mode
    /// do): fetching again would only burn quota. Generations, not clocks:
    /// a fetch and a report can fall in the same millisecond.
    pub(crate) fn answers(&self, bad: &str, seen_gen: u64) -> bool {
        &*self.token != bad || self.generation > seen_gen
    }
}

/// A lease on the store lock outlives the longest honest refresh.
pub(crate) fn lease(cfg: &Config) -> Duration {
    policy::refresh_budget(cfg.timeout).saturating_add(Duration::from_secs(2))
}

/// Milliseconds, saturating: `as u64` on `as_millis()` would wrap.
fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A new fetch's stamp: when its request left, yet strictly later than the
/// record the store held (a leader whose clock lags, or one stamp for two
/// fetches), so that the new record is newer by fetch time too: after a
/// wipe its generation restarts low, and only the fetch time says newer.
fn fetched_at(sent_at: u64, held: Option<&Record>) -> u64 {
    held.map_or(sent_at, |h| sent_at.max(h.fetched_at_ms.saturating_add(1)))
}

/// What a cell holds: the app's access token, or a ticket fetched with it.
pub(crate) enum Source {
    Token,
    Ticket {
        kind: TicketKind,
        token: Arc<dyn TokenSource>,
    },
}

/// The app's access token, as a ticket's refresh uses it (the token cell,
/// seen from the layer below it).
pub(crate) trait TokenSource: Send + Sync {
    fn get(&self) -> Result<Arc<str>>;
    fn invalidate(&self, bad: &str) -> Result<Arc<str>>;
}

pub(crate) struct Leader<'a> {
    pub cfg: &'a Config,
    pub source: &'a Source,
    pub store: &'a dyn Store,
    pub key: &'a str,
    pub stats: &'a Stats,
    /// Whether the cell still holds a valid token (it then serves that one
    /// through a store outage rather than fetching alone).
    pub valid_in_hand: bool,
    /// Set when the refresh was answered from a shared cool-down: what is
    /// left of it, for the cell's own.
    pub shared_cooldown_ms: std::cell::Cell<Option<u64>>,
}

impl Leader<'_> {
    /// Returns the record to use: fetched here, or written by another party.
    /// `known_generation` keeps generations growing when a store was wiped.
    pub(crate) fn run(
        &self,
        reason: &Reason,
        force: bool,
        known_generation: u64,
    ) -> Result<Record> {
        let margin = ms(self.cfg.refresh_margin);
        let lease = lease(self.cfg);
        // One lease for the holder to finish (or its lease to run out), one
        // more for whoever takes over to fetch: a waiter that gave up after
        // one lease from its own start quit just before the taker landed.
        // Callers are bounded by wait_ms regardless (cell.rs).
        let started = mono_ms();
        let deadline = started.saturating_add(ms(lease).saturating_mul(2));
        loop {
            let locked = match self.store.try_lock(self.key, lease) {
                Ok(locked) => locked,
                Err(err) => return self.without_store(reason, force, known_generation, err),
            };
            if let Some(lock) = locked {
                let held = self.store.load(self.key)?;
                match held {
                    Some(h) if !reason.needs_fetch(Some(&h), now_ms(), margin) => return Ok(h),
                    _ => {}
                }
                // Before spending a fetch: a store that cannot hold the
                // record would turn every refresh into a wasted fetch.
                self.store.check_writable(self.key)?;
                let mut meta = self.store.load_meta(self.key)?;
                // A stable verification (one per process, a normal fetch
                // from a quota of 500,000 a day) neither spends nor meets
                // the budget: short-lived workers would spend it on proofs.
                let counted = !matches!(reason, Reason::Verify);
                let report = matches!(reason, Reason::Invalid { .. });
                let force = self.admit(&meta, force, counted, report)?;
                // Retries stay inside this holding's lease, not the wait:
                // a leader stopped past its lease has been taken over, and
                // a retry on resuming would be a fetch nobody asked for.
                let lease_ends = mono_ms().saturating_add(ms(lease));
                let (fetched, sent_at) = match self.fetch_with_backoff(force, lease_ends) {
                    Ok(f) => f,
                    Err(err) => {
                        self.share_failure(&mut meta, &err, &*lock);
                        // A leader stopped or slow past its lease was taken
                        // over: the taker's record answers the refresh.
                        return match self.store.load(self.key) {
                            Ok(Some(h)) if !reason.needs_fetch(Some(&h), now_ms(), margin) => Ok(h),
                            _ => Err(err),
                        };
                    }
                };
                // Saturating: a generation can never wrap (stores also
                // refuse absurd ones, see Record::is_plausible).
                let generation = known_generation
                    .max(held.as_ref().map_or(0, |h| h.generation))
                    .saturating_add(1);
                let record = Record {
                    token: fetched.token.into(),
                    // Counted from before the request left: the platform
                    // started the token's life somewhere in the round trip,
                    // so a later origin would make it look valid too long.
                    expires_at_ms: sent_at
                        .saturating_add(fetched.expires_in_s.saturating_mul(1000)),
                    fetched_at_ms: fetched_at(sent_at, held.as_ref()),
                    generation,
                    fence: lock.fence(),
                };
                let event = match self.source {
                    Source::Token => Event::TokenRefreshed,
                    Source::Ticket { .. } => Event::TicketRefreshed,
                };
                log::emit(event, &self.cfg.name, |r| {
                    r.set("generation", generation);
                    r.set("expires_in_s", fetched.expires_in_s);
                    r.set("duration_ms", mono_ms().saturating_sub(started));
                    r.set("reason", reason.as_str());
                    r.set("forced", force);
                    format!(
                        "fetched generation {generation}, expires in {} s",
                        fetched.expires_in_s
                    )
                });
                self.count_fetch(meta, force, counted, &*lock);
                return match self.store.save(self.key, &record, &*lock) {
                    Ok(stored) => Ok(stored),
                    // The token is fetched (and has killed the previous
                    // one): serve it from memory rather than lose it.
                    Err(err) => {
                        log::emit(Event::StoreError, &self.cfg.name, |r| {
                            log::error_fields(r, &err);
                            format!("cannot store the fetched token, serving it from memory: {err}")
                        });
                        Ok(record)
                    }
                };
            }
            if let Some(held) = self.store.load(self.key)? {
                if !reason.needs_fetch(Some(&held), now_ms(), margin) {
                    return Ok(held);
                }
            }
            if mono_ms() >= deadline {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "another process held the refresh lock for over {} ms",
                        lease.as_millis()
                    ),
                ));
            }
            thread::sleep(LOCK_POLL);
        }
    }

    /// Whether the shared state lets this refresh fetch (and force): not
    /// during another process's cool-down, not past the daily budget, and
    /// a stable force at most once per 30 s for all processes (a report
    /// inside that gets a normal fetch, which answers it with a later
    /// generation of the same token).
    fn admit(&self, meta: &Meta, force: bool, counted: bool, report: bool) -> Result<bool> {
        let now = now_ms();
        let name = &self.cfg.name;
        if let Some((err, left_ms)) = meta.cooldown_error(now, &self.cfg.secret_tag()) {
            self.shared_cooldown_ms.set(Some(left_ms));
            log::emit(Event::SharedCooldown, name, |r| {
                log::error_fields(r, &err);
                r.set("cooldown_ms", left_ms);
                format!(
                    "the last refresh failed ({err}); cooling down for another \
                     {left_ms} ms, no upstream call"
                )
            });
            return Err(err);
        }
        let budget = self.cfg.daily_fetch_budget;
        // Reports (a client that reports every token it is handed) must not
        // spend what the day's expiry refreshes need: a tenth of the budget,
        // up to 48 (a 2 h token needs 12 a day), is kept for those.
        let limit = if report {
            budget - (budget / 10).min(REPORT_RESERVE)
        } else {
            budget
        };
        if counted && meta.fetches_today >= limit {
            let by = meta.last_fetch.as_ref().map_or(String::new(), |f| {
                format!(", the last by {} pid {}", f.host, f.pid)
            });
            let kept = if limit < budget {
                format!(", the last {} kept for expiry refreshes", budget - limit)
            } else {
                String::new()
            };
            let err = Error::new(
                ErrorKind::QuotaExhausted,
                format!(
                    "daily fetch budget of {budget} spent ({} fetches today{by}{kept}); \
                     resets at 00:00 Beijing time (16:00 UTC)",
                    meta.fetches_today
                ),
            );
            log::emit(Event::DailyBudgetSpent, name, |r| {
                log::error_fields(r, &err);
                r.set("budget", budget);
                r.set("fetches_today", meta.fetches_today);
                format!("{err}; not fetching")
            });
            return Err(err);
        }
        let forced_recently = meta
            .last_force_ms
            .is_some_and(|t| now.saturating_sub(t) < STABLE_FORCE_SPACING_MS);
        if force && forced_recently {
            log::emit(Event::StableForceSpaced, name, |_| {
                format!(
                    "a new stable token was forced less than {} s ago; a normal fetch instead",
                    STABLE_FORCE_SPACING_MS / 1000
                )
            });
            return Ok(false);
        }
        Ok(force)
    }

    /// A failure every process would meet too (the platform rejected the
    /// credentials or IP, or a quota is spent) goes to the store: the
    /// others answer it until the cool-down ends, with no upstream call.
    fn share_failure(&self, meta: &mut Meta, err: &Error, lock: &dyn RefreshLock) {
        if !meta::is_shared_failure(err) {
            return;
        }
        meta.cooldown = Some(SharedCooldown {
            errcode: err.errcode(),
            errmsg: err.errmsg().to_string(),
            until_ms: now_ms().saturating_add(ms(policy::cooldown(err, 1))),
            host: meta::host_name().clone(),
            secret_tag: self.cfg.secret_tag(),
        });
        self.save_meta(meta, lock);
    }

    /// Counts a fetch against the day's budget, and clears the cool-down
    /// (the credentials work). An uncounted one writes only that.
    fn count_fetch(&self, mut meta: Meta, forced: bool, counted: bool, lock: &dyn RefreshLock) {
        if !counted {
            if meta.cooldown.take().is_some() {
                self.save_meta(&meta, lock);
            }
            return;
        }
        let now = now_ms();
        meta.fetches_today = meta.fetches_today.saturating_add(1);
        meta.last_fetch = Some(LastFetch {
            host: meta::host_name().clone(),
            pid: std::process::id(),
            at_ms: now,
        });
        meta.cooldown = None;
        if forced {
            meta.last_force_ms = Some(now);
        }
        self.save_meta(&meta, lock);
    }

    /// The shared state is advice: failing to write it costs a fetch
    /// later, never the token in hand.
    fn save_meta(&self, meta: &Meta, lock: &dyn RefreshLock) {
        if let Err(err) = self.store.save_meta(self.key, meta, lock) {
            log::emit(Event::StoreError, &self.cfg.name, |r| {
                log::error_fields(r, &err);
                format!("cannot write the shared state: {err}")
            });
        }
    }

    /// The store cannot be locked (Redis down). Classic mode never fetches
    /// alone: its fetch would kill the token every other host uses. Stable
    /// mode's normal fetch hands back the token the others have and
    /// invalidates nobody: with no valid token it fetches, serves the
    /// token from memory and logs it. Never a force (that one revokes),
    /// never for a report (a normal fetch would answer the same token),
    /// never while a valid token is in hand (it is served until it
    /// expires: fetching in the margin would repeat at every half-life).
    fn without_store(
        &self,
        reason: &Reason,
        force: bool,
        known_generation: u64,
        err: Error,
    ) -> Result<Record> {
        let alone = self.cfg.mode == Mode::Stable
            && !force
            && !self.valid_in_hand
            && matches!(reason, Reason::Expiring);
        if !alone {
            return Err(err);
        }
        log::emit(Event::StoreUnreachable, &self.cfg.name, |r| {
            log::error_fields(r, &err);
            format!(
                "the store is unreachable ({err}); stable mode fetches on its own \
                 (a normal fetch invalidates no other host's token)"
            )
        });
        let deadline = mono_ms().saturating_add(ms(lease(self.cfg)));
        let (fetched, sent_at) = self.fetch_with_backoff(false, deadline)?;
        Ok(Record {
            token: fetched.token.into(),
            expires_at_ms: sent_at.saturating_add(fetched.expires_in_s.saturating_mul(1000)),
            fetched_at_ms: sent_at,
            generation: known_generation.saturating_add(1),
            fence: 0,
        })
    }

    /// One upstream fetch of what this cell holds. A ticket refused for a
    /// bad token reports that token (compare-and-invalidate: one token
    /// refresh however many ticket fetches meet it) and is fetched once
    /// more with the token that comes back.
    fn fetch_once(&self, force: bool) -> Result<Fetched> {
        let (kind, token) = match self.source {
            Source::Token => return upstream::fetch(self.cfg, force),
            Source::Ticket { kind, token } => (*kind, token),
        };
        let used = token.get()?;
        let about = |e: Error| {
            let hint = if e.errcode() == 48001 {
                " (the account may not use this ticket's API)"
            } else {
                ""
            };
            let msg = format!("{kind} ticket: {}{hint}", e.errmsg());
            Error::with_errcode(e.kind(), e.errcode(), msg)
        };
        let fetched = match upstream::fetch_ticket(self.cfg, kind, &used) {
            Err(err) if is_bad_token_errcode(err.errcode()) => {
                log::emit(Event::TicketTokenRefused, &self.cfg.name, |r| {
                    log::error_fields(r, &err);
                    format!("the token was refused ({err}); reporting it")
                });
                let fresh = token.invalidate(&used)?;
                // Refused again, with the token the report brought: not
                // retried (each retry would refresh the token once more).
                upstream::fetch_ticket(self.cfg, kind, &fresh).map_err(|e| {
                    if !is_bad_token_errcode(e.errcode()) {
                        return e;
                    }
                    Error::with_errcode(
                        ErrorKind::CredentialsRejected,
                        e.errcode(),
                        format!(
                            "the ticket endpoint refused a freshly fetched token too: {}",
                            e.errmsg()
                        ),
                    )
                })
            }
            other => other,
        };
        fetched.map_err(about)
    }

    /// The token fetched, and the wall-clock ms (precise) at which the
    /// successful request was about to be sent.
    fn fetch_with_backoff(&self, force: bool, deadline: u64) -> Result<(Fetched, u64)> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.stats.admit_fetch(&self.cfg.name)?;
            let sent_at = precise_now_ms();
            let err = match self.fetch_once(force) {
                Ok(fetched) => {
                    self.stats.fetch_succeeded();
                    return Ok((fetched, sent_at));
                }
                Err(err) => err,
            };
            self.stats.upstream_failure(&self.cfg.name, &err);
            let delay = policy::retry_delay(attempt);
            let next_try_ends =
                mono_ms().saturating_add(ms(delay.saturating_add(self.cfg.timeout)));
            if !err.kind().is_transient()
                || attempt >= policy::MAX_ATTEMPTS
                || next_try_ends > deadline
            {
                return Err(err);
            }
            log::emit(Event::RefreshRetry, &self.cfg.name, |r| {
                log::error_fields(r, &err);
                r.set("attempt", attempt);
                r.set("delay_ms", ms(delay));
                format!(
                    "attempt {attempt} failed ({err}); retrying in {} ms",
                    delay.as_millis()
                )
            });
            thread::sleep(delay);
        }
    }
}
