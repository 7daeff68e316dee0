//! Shared failure state and the daily fetch budget (docs/design.md, "Several
//! hosts"): the second entry a store keeps per app, next to the record.
//! Written only by the refresh lock's holder, fenced like records, so that
//! N processes (and hosts) with a rejected secret make one upstream call per
//! cool-down, not N, and a fleet stops fetching past its daily budget.
//!
//! Times are on this process's wall clock; the Redis store converts them to
//! and from Redis's clock as it does records' times. The day is the store's
//! platform day (00:00 Beijing time; Redis's clock for Redis), so a fleet agrees on when it resets.

use std::ffi::CStr;

use once_cell::sync::Lazy;
use serde_json::{json, Value};

use crate::error::{classify, Error, ErrorKind};

const DAY_MS: u64 = 86_400_000;
/// No cool-down lasts longer (policy::cooldown's longest is 300 s): a stored
/// one ending later is not one an honest writer made, and is ignored.
const MAX_COOLDOWN_MS: u64 = 600_000;
/// How far a stored time may lie ahead of ours (as for records).
const MAX_SKEW_MS: u64 = 5 * 60 * 1000;
const MAX_TEXT: usize = 256;

/// Who made the last fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastFetch {
    pub host: String,
    pub pid: u32,
    pub at_ms: u64,
}

/// A failed refresh every process of the store answers until `until_ms`
/// without an upstream call. IP rejections hold for the host that got them
/// only (another host may be on the allow-list); credential rejections for
/// the secret that got them only (`secret_tag`, a short hash: during a
/// secret rotation the hosts with the new secret are not held back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedCooldown {
    pub errcode: i64,
    pub errmsg: String,
    pub until_ms: u64,
    pub host: String,
    pub secret_tag: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Meta {
    /// The platform day ([`quota_day`]) that `fetches_today` counts.
    pub day: u64,
    pub fetches_today: u64,
    pub last_fetch: Option<LastFetch>,
    pub cooldown: Option<SharedCooldown>,
    /// When stable mode last forced a new token.
    pub last_force_ms: Option<u64>,
    /// The fence of the lock it was written under: a store refuses a write
    /// under an older fence than the one it holds.
    pub fence: u64,
}

/// The platform's day number of a wall-clock time: WeChat's daily quotas
/// reset at 00:00 Beijing time (UTC+8, 16:00 UTC), so the budget does too.
pub fn quota_day(ms: u64) -> u64 {
    ms.saturating_add(BEIJING_OFFSET_MS) / DAY_MS
}

const BEIJING_OFFSET_MS: u64 = 8 * 3_600_000;

impl Meta {
    /// An empty meta for day `today`.
    pub fn new(today: u64) -> Meta {
        Meta {
            day: today,
            ..Meta::default()
        }
    }

    /// The count starts again on a new day (on the store's clock).
    pub fn roll_to(mut self, today: u64) -> Meta {
        if self.day != today {
            self.day = today;
            self.fetches_today = 0;
        }
        self
    }

    /// Every time in it moved by `delta_ms` (the Redis store's clock
    /// conversion).
    pub fn shifted(&self, delta_ms: i64) -> Meta {
        let shift = |t: u64| (t as i64).saturating_add(delta_ms).max(0) as u64;
        let mut m = self.clone();
        if let Some(f) = &mut m.last_fetch {
            f.at_ms = shift(f.at_ms);
        }
        if let Some(c) = &mut m.cooldown {
            c.until_ms = shift(c.until_ms);
        }
        m.last_force_ms = m.last_force_ms.map(shift);
        m
    }

    pub fn to_json(&self) -> String {
        json!({
            "v": 1,
            "day": self.day,
            "fetches_today": self.fetches_today,
            "last_fetch": self.last_fetch.as_ref().map(|f| json!({
                "host": f.host, "pid": f.pid, "at_ms": f.at_ms,
            })),
            "cooldown": self.cooldown.as_ref().map(|c| json!({
                "errcode": c.errcode, "errmsg": c.errmsg, "until_ms": c.until_ms,
                "host": c.host, "secret_tag": c.secret_tag,
            })),
            "last_force_ms": self.last_force_ms,
            "fence": self.fence,
        })
        .to_string()
    }

    /// None for anything that is not a well-formed meta of ours. Absurd
    /// parts (a cool-down ending in an hour, a force in the future) are
    /// dropped, not obeyed: they would stop every refresh.
    pub fn from_json(text: &str, now_ms: u64) -> Option<Meta> {
        let v: Value = serde_json::from_str(text).ok()?;
        if v.get("v")?.as_u64()? != 1 {
            return None;
        }
        let text = |v: &Value, k: &str| -> Option<String> {
            let s = v.get(k)?.as_str()?;
            Some(s.chars().take(MAX_TEXT).collect())
        };
        let last_fetch = v.get("last_fetch").filter(|f| !f.is_null()).and_then(|f| {
            Some(LastFetch {
                host: text(f, "host")?,
                pid: u32::try_from(f.get("pid")?.as_u64()?).ok()?,
                at_ms: f.get("at_ms")?.as_u64()?,
            })
        });
        let cooldown = v
            .get("cooldown")
            .filter(|c| !c.is_null())
            .and_then(|c| {
                Some(SharedCooldown {
                    errcode: c.get("errcode")?.as_i64()?,
                    errmsg: text(c, "errmsg")?,
                    until_ms: c.get("until_ms")?.as_u64()?,
                    host: text(c, "host")?,
                    secret_tag: text(c, "secret_tag")?,
                })
            })
            .filter(|c| c.until_ms <= now_ms.saturating_add(MAX_COOLDOWN_MS));
        let last_force_ms = v
            .get("last_force_ms")
            .and_then(Value::as_u64)
            .filter(|&t| t <= now_ms.saturating_add(MAX_SKEW_MS));
        Some(Meta {
            day: v.get("day")?.as_u64()?,
            fetches_today: v.get("fetches_today")?.as_u64()?,
            last_fetch,
            cooldown,
            last_force_ms,
            fence: v.get("fence")?.as_u64()?,
        })
    }

    /// The stored cool-down's error, if it is active at `now_ms` and holds
    /// for this host and secret.
    pub fn cooldown_error(&self, now_ms: u64, secret_tag: &str) -> Option<(Error, u64)> {
        let c = self.cooldown.as_ref()?;
        if now_ms >= c.until_ms {
            return None;
        }
        let err = Error::wechat(c.errcode, c.errmsg.clone());
        let holds = match err.kind() {
            ErrorKind::CredentialsRejected => c.secret_tag == secret_tag,
            ErrorKind::IpNotAllowed => c.host == *host_name(),
            _ => true,
        };
        holds.then(|| (err, c.until_ms - now_ms))
    }

    /// For `status`: what a user wants to know, on this host's clock.
    pub fn to_status(&self, now_ms: u64, budget: u64) -> Value {
        json!({
            "day": self.day,
            "fetches_today": self.fetches_today,
            "daily_fetch_budget": budget,
            "last_fetch": self.last_fetch.as_ref().map(|f| json!({
                "host": f.host, "pid": f.pid, "at_ms": f.at_ms,
            })),
            "cooldown": self.cooldown.as_ref().filter(|c| now_ms < c.until_ms).map(|c| json!({
                "kind": classify(c.errcode).as_str(), "errcode": c.errcode, "errmsg": c.errmsg,
                "remaining_ms": c.until_ms - now_ms, "host": c.host,
            })),
            "last_force_ms": self.last_force_ms,
        })
    }
}

/// Whether a failure is one every process should answer from the store:
/// the platform's rejections of credentials and IPs, and its quotas. Not
/// transient trouble (each process backs off on its own) nor the local
/// fetch ceiling or budget (errcode 0: not the platform's verdict).
pub fn is_shared_failure(err: &Error) -> bool {
    err.errcode() != 0
        && matches!(
            err.kind(),
            ErrorKind::CredentialsRejected | ErrorKind::IpNotAllowed | ErrorKind::QuotaExhausted
        )
}

/// This host's name (gethostname), for status and IP cool-downs.
pub fn host_name() -> &'static String {
    static NAME: Lazy<String> = Lazy::new(|| {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; one byte is kept for
        // the terminating NUL that a truncated name may lack.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
        if rc != 0 {
            return "unknown".to_string();
        }
        CStr::from_bytes_until_nul(&buf)
            .map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "unknown".to_string())
    });
    &NAME
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(now: u64) -> Meta {
        Meta {
            day: quota_day(now),
            fetches_today: 3,
            last_fetch: Some(LastFetch {
                host: "h1".into(),
                pid: 42,
                at_ms: now - 5,
            }),
            cooldown: Some(SharedCooldown {
                errcode: 40125,
                errmsg: "invalid appsecret".into(),
                until_ms: now + 60_000,
                host: "h1".into(),
                secret_tag: "abc".into(),
            }),
            last_force_ms: Some(now - 1000),
            fence: 7,
        }
    }

    #[test]
    fn json_round_trip_and_garbage() {
        let now = 1_700_000_000_000;
        let m = sample(now);
        assert_eq!(Meta::from_json(&m.to_json(), now), Some(m));
        assert_eq!(Meta::from_json("{\"v\":1", now), None);
        assert_eq!(Meta::from_json("[1]", now), None);
    }

    #[test]
    fn absurd_cooldowns_and_forces_are_dropped() {
        let now = 1_700_000_000_000;
        let mut m = sample(now);
        m.cooldown.as_mut().unwrap().until_ms = now + 3_600_000;
        m.last_force_ms = Some(now + 3_600_000);
        let read = Meta::from_json(&m.to_json(), now).unwrap();
        assert_eq!((read.cooldown, read.last_force_ms), (None, None));
    }

    #[test]
    fn rejected_credentials_hold_for_the_same_secret_only() {
        let now = 1_700_000_000_000;
        let m = sample(now);
        let (err, left) = m.cooldown_error(now, "abc").unwrap();
        assert_eq!(err.kind(), ErrorKind::CredentialsRejected);
        assert_eq!(left, 60_000);
        assert!(m.cooldown_error(now, "other").is_none());
        assert!(m.cooldown_error(now + 60_000, "abc").is_none(), "over");
    }

    #[test]
    fn ip_rejections_hold_for_the_same_host_only() {
        let now = 1_700_000_000_000;
        let mut m = sample(now);
        m.cooldown.as_mut().unwrap().errcode = 40164;
        assert!(m.cooldown_error(now, "abc").is_none(), "another host's");
        m.cooldown.as_mut().unwrap().host = host_name().clone();
        assert!(m.cooldown_error(now, "x").is_some());
    }

    #[test]
    fn a_new_day_resets_the_count() {
        let m = sample(1_700_000_000_000);
        let day = m.day;
        assert_eq!(m.clone().roll_to(day).fetches_today, 3);
        assert_eq!(m.roll_to(day + 1).fetches_today, 0);
    }

    #[test]
    fn only_the_platforms_verdicts_are_shared() {
        assert!(is_shared_failure(&Error::wechat(40125, "")));
        assert!(is_shared_failure(&Error::wechat(40164, "")));
        assert!(is_shared_failure(&Error::wechat(45009, "")));
        assert!(!is_shared_failure(&Error::wechat(-1, "")));
        assert!(!is_shared_failure(&Error::new(
            ErrorKind::QuotaExhausted,
            ""
        )));
        assert!(!host_name().is_empty());
    }
}
