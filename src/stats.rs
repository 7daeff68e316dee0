//! Per-cell record of what this process did, for `status`: counters, and
//! what the platform said about this cell's own secret; and the local fetch
//! ceiling, which is per app name and outlives a re-configure.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::clock::{mono_ms, now_ms};
use crate::error::{Error, ErrorKind, Result};
use crate::fork::{self, Mutex};
use crate::log::{self, Event};

/// At most this many upstream calls per app and process in any window of
/// [`CEILING_WINDOW_MS`], whatever the store holds and however callers
/// report tokens: a guard against loops (a hostile or broken record, a
/// caller invalidating every token it gets) spending the platform's daily
/// quota in seconds. An honest app needs one fetch per token lifetime.
pub(crate) const FETCH_CEILING: usize = 10;
pub(crate) const CEILING_WINDOW_MS: u64 = 60_000;

/// The recent upstream calls of one app name (kept by the registry, shared
/// by the cells a re-configure makes: new settings do not reset it).
#[derive(Default)]
pub(crate) struct Ceiling {
    /// When (monotonic) the last upstream calls went out, oldest first,
    /// and in which fork generation: a forked child is a process of its
    /// own and starts with none of its parent's.
    recent: Mutex<(u64, VecDeque<u64>)>,
}

impl Ceiling {
    /// Counts an upstream call about to go out, or refuses it past the
    /// ceiling (a quota-kind error, logged).
    fn admit(&self, app: &str) -> Result<()> {
        let now = mono_ms();
        let generation = fork::generation();
        let mut guard = self.recent.lock();
        if guard.0 != generation {
            *guard = (generation, VecDeque::new());
        }
        let recent = &mut guard.1;
        while recent
            .front()
            .is_some_and(|&t| now.saturating_sub(t) >= CEILING_WINDOW_MS)
        {
            recent.pop_front();
        }
        if recent.len() < FETCH_CEILING {
            recent.push_back(now);
            return Ok(());
        }
        let wait_s = (recent[0] + CEILING_WINDOW_MS).saturating_sub(now) / 1000 + 1;
        drop(guard);
        let err = Error::new(
            ErrorKind::QuotaExhausted,
            format!(
                "local fetch ceiling reached: {FETCH_CEILING} upstream calls for this app \
                 in {} s from this process; the next is allowed in {wait_s} s",
                CEILING_WINDOW_MS / 1000
            ),
        );
        log::emit(Event::FetchCeilingReached, app, |r| {
            log::error_fields(r, &err);
            r.set("ceiling", FETCH_CEILING);
            r.set("retry_in_s", wait_s);
            err.to_string()
        });
        Err(err)
    }
}

pub(crate) struct Stats {
    upstream_calls: AtomicU64,
    upstream_failures: AtomicU64,
    /// Successful fetches (tokens or tickets this process fetched).
    refreshes: AtomicU64,
    /// Refreshes that ended in failure (after their retries).
    refresh_failures: AtomicU64,
    credentials_rejections: AtomicU64,
    cooldowns: AtomicU64,
    adopted: AtomicU64,
    invalidations: AtomicU64,
    ceiling: Arc<Ceiling>,
    credentials: Mutex<Credentials>,
    verify_asked: AtomicBool,
    /// The last upstream attempt's error, until a fetch succeeds: a caller
    /// that gives up while the refresh still retries learns why it does.
    failing: Mutex<Option<Error>>,
}

/// What the platform last said about this process's secret. Only this
/// process's own fetches count: a token adopted from the store proves
/// nothing about our secret (another process fetched it).
#[derive(Default)]
struct Credentials {
    verified_at_ms: Option<u64>,
    rejected: Option<Rejection>,
    told_unverified: bool,
}

struct Rejection {
    at_ms: u64,
    errcode: i64,
    errmsg: String,
}

impl Credentials {
    fn verified(&self) -> bool {
        match (self.verified_at_ms, &self.rejected) {
            (Some(ok), Some(r)) => ok > r.at_ms,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

impl Stats {
    pub(crate) fn new(ceiling: Arc<Ceiling>) -> Stats {
        Stats {
            upstream_calls: AtomicU64::new(0),
            upstream_failures: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            refresh_failures: AtomicU64::new(0),
            credentials_rejections: AtomicU64::new(0),
            cooldowns: AtomicU64::new(0),
            adopted: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            ceiling,
            credentials: Mutex::default(),
            verify_asked: AtomicBool::new(false),
            failing: Mutex::default(),
        }
    }

    /// Counts an upstream call about to go out, or refuses it past the
    /// app's ceiling.
    pub(crate) fn admit_fetch(&self, app: &str) -> Result<()> {
        self.ceiling.admit(app)?;
        self.upstream_calls.fetch_add(1, Relaxed);
        Ok(())
    }

    pub(crate) fn fetch_succeeded(&self) {
        self.refreshes.fetch_add(1, Relaxed);
        self.credentials.lock().verified_at_ms = Some(now_ms());
        *self.failing.lock() = None;
    }

    /// The error of the last upstream attempt, if none succeeded since.
    pub(crate) fn failing(&self) -> Option<Error> {
        self.failing.lock().clone()
    }

    pub(crate) fn upstream_failure(&self, app: &str, err: &Error) {
        self.upstream_failures.fetch_add(1, Relaxed);
        *self.failing.lock() = Some(err.clone());
        if err.kind() != ErrorKind::CredentialsRejected {
            return;
        }
        self.credentials_rejections.fetch_add(1, Relaxed);
        let mut c = self.credentials.lock();
        let newly = c.verified() || c.rejected.is_none();
        c.rejected = Some(Rejection {
            at_ms: now_ms(),
            errcode: err.errcode(),
            errmsg: err.errmsg().to_string(),
        });
        drop(c);
        if newly {
            log::emit(Event::CredentialsRejected, app, |r| {
                log::error_fields(r, err);
                format!(
                    "the platform rejected this process's secret (errcode {}): {}; tokens other \
                     processes stored are still served, but this process cannot refresh",
                    err.errcode(),
                    err.errmsg()
                )
            });
        }
    }

    pub(crate) fn adopted(&self, app: &str, generation: u64) {
        self.adopted.fetch_add(1, Relaxed);
        log::emit(Event::RecordAdopted, app, |r| {
            r.set("generation", generation);
            format!(
                "took generation {generation} from the store (another process or host wrote it)"
            )
        });
        let mut c = self.credentials.lock();
        if c.verified_at_ms.is_none() && c.rejected.is_none() && !c.told_unverified {
            c.told_unverified = true;
            drop(c);
            log::emit(Event::SecretUnverified, app, |_| {
                "serving a token another process stored; this process's secret \
                 is not verified until it fetches a token itself"
                    .to_string()
            });
        }
    }

    pub(crate) fn invalidation(&self) {
        self.invalidations.fetch_add(1, Relaxed);
    }

    /// A refresh (after its retries) failed with `err`; a cool-down proper
    /// (credentials, IP, quota) is counted apart from transient backoff.
    pub(crate) fn refresh_failed(&self, err: &Error) {
        self.refresh_failures.fetch_add(1, Relaxed);
        if crate::policy::is_cooldown(err) {
            self.cooldowns.fetch_add(1, Relaxed);
        }
    }

    /// While the secret was never verified nor rejected, until a verifying
    /// fetch started: the stable-mode refresher's cue for its one such fetch.
    pub(crate) fn wants_verification(&self) -> bool {
        let c = self.credentials.lock();
        let unknown = c.verified_at_ms.is_none() && c.rejected.is_none();
        drop(c);
        unknown && !self.verify_asked.load(Relaxed)
    }

    pub(crate) fn verification_started(&self) {
        self.verify_asked.store(true, Relaxed);
    }

    pub(crate) fn credentials_json(&self) -> Value {
        let c = self.credentials.lock();
        json!({
            "verified": c.verified(),
            "last_verified_at_ms": c.verified_at_ms,
            "last_rejected": c.rejected.as_ref().map(|r| json!({
                "at_ms": r.at_ms,
                "errcode": r.errcode,
                "errmsg": r.errmsg,
            })),
        })
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "upstream_calls": self.upstream_calls.load(Relaxed),
            "upstream_failures": self.upstream_failures.load(Relaxed),
            "refreshes": self.refreshes.load(Relaxed),
            "refresh_failures": self.refresh_failures.load(Relaxed),
            "credentials_rejections": self.credentials_rejections.load(Relaxed),
            "cooldowns": self.cooldowns.load(Relaxed),
            "records_adopted": self.adopted.load(Relaxed),
            "invalidations": self.invalidations.load(Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_refuses_past_its_count_with_a_quota_error() {
        let ceiling = Arc::new(Ceiling::default());
        let s = Stats::new(ceiling.clone());
        for _ in 0..FETCH_CEILING {
            s.admit_fetch("app").unwrap();
        }
        let err = s.admit_fetch("app").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::QuotaExhausted);
        assert!(
            err.errmsg().contains("local fetch ceiling reached"),
            "{err}"
        );
        assert_eq!(s.to_json()["upstream_calls"], FETCH_CEILING as u64);
        let next_cell = Stats::new(ceiling);
        assert!(
            next_cell.admit_fetch("app").is_err(),
            "shared by the app's cells"
        );
    }

    #[test]
    fn credentials_follow_the_last_own_fetch() {
        let s = Stats::new(Arc::default());
        assert_eq!(s.credentials_json()["verified"], false);
        s.adopted("app", 1);
        assert_eq!(
            s.credentials_json()["verified"],
            false,
            "adopting proves nothing"
        );
        s.upstream_failure("app", &Error::wechat(40125, "invalid appsecret"));
        let c = s.credentials_json();
        assert_eq!(c["verified"], false);
        assert_eq!(c["last_rejected"]["errcode"], 40125);
        std::thread::sleep(std::time::Duration::from_millis(20));
        s.fetch_succeeded();
        let c = s.credentials_json();
        assert_eq!(c["verified"], true, "{c}");
        assert_eq!(c["last_rejected"]["errcode"], 40125, "kept as history");
        assert!(!s.wants_verification(), "known: nothing to verify");
    }
}
