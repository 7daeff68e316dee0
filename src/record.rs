//! The record a store shares between processes and hosts: never the secret.

use std::fmt;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::clock::now_ms;

/// Generations and fences beyond this are no honest record's: a
/// generation near u64::MAX would make the next `+ 1` wrap.
const MAX_COUNTER: u64 = 1 << 53;
/// How far another process's (or host's) clock may run ahead of ours.
const MAX_SKEW_MS: u64 = 5 * 60 * 1000;
/// No platform token lives longer (they live 7200 s).
const MAX_LIFETIME_MS: u64 = 24 * 3600 * 1000;

#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    pub token: Arc<str>,
    /// Wall-clock ms after which the platform refuses the token.
    pub expires_at_ms: u64,
    pub fetched_at_ms: u64,
    /// Grows with every fetch, so a store keeps only the newest write.
    pub generation: u64,
    /// The fence of the refresh lock under which it was written (0: none).
    /// A store refuses a write whose fence is older than the one it holds:
    /// a leader whose lease ran out (SIGSTOP, a long pause) and was taken
    /// over cannot overwrite what the new leader wrote.
    pub fence: u64,
}

impl Record {
    pub fn is_valid(&self, now_ms: u64) -> bool {
        now_ms < self.expires_at_ms
    }

    /// When to start refreshing: `margin_ms` before expiry, but never in the
    /// first half of the token's life. A stable token can come back with only
    /// 300 s left; a 300 s margin would otherwise refresh it in a loop.
    pub fn refresh_at_ms(&self, margin_ms: u64) -> u64 {
        let lifetime = self.expires_at_ms.saturating_sub(self.fetched_at_ms);
        self.expires_at_ms - margin_ms.min(lifetime / 2)
    }

    /// Newer means a later generation or a later fetch. Either alone will
    /// do: a store that was wiped (a tmp cleaner, a logout) restarts at
    /// generation 1, and that record, fetched later, has killed ours.
    pub fn is_newer_than(&self, other: &Record) -> bool {
        self.generation > other.generation || self.fetched_at_ms > other.fetched_at_ms
    }

    /// The write rule every store applies under its lock: a record replaces
    /// `held` only if its fence is not older and it is newer.
    pub fn may_replace(&self, held: &Record) -> bool {
        self.fence >= held.fence && self.is_newer_than(held)
    }

    pub fn to_json(&self) -> String {
        json!({
            "v": 1,
            "token": &*self.token,
            "expires_at_ms": self.expires_at_ms,
            "fetched_at_ms": self.fetched_at_ms,
            "generation": self.generation,
            "fence": self.fence,
        })
        .to_string()
    }

    /// Whether a stored record is one an honest writer could have made by
    /// `now_ms`. An absurd one (a generation about to wrap, a fetch in the
    /// future, a token living beyond a day) would win every comparison and
    /// never be replaced: every refresh would fetch and throw its token away.
    pub fn is_plausible(&self, now_ms: u64) -> bool {
        self.generation <= MAX_COUNTER
            && self.fence <= MAX_COUNTER
            && self.fetched_at_ms <= now_ms.saturating_add(MAX_SKEW_MS)
            && self.expires_at_ms <= self.fetched_at_ms.saturating_add(MAX_LIFETIME_MS)
    }

    /// None for anything that is not a well-formed, plausible record: a
    /// corrupted, truncated, absurd or foreign store entry counts as absent
    /// and gets replaced.
    pub fn from_json(text: &str) -> Option<Record> {
        Self::parse(text).filter(|r| r.is_plausible(now_ms()))
    }

    fn parse(text: &str) -> Option<Record> {
        let v: Value = serde_json::from_str(text).ok()?;
        if v.get("v")?.as_u64()? != 1 {
            return None;
        }
        let token = v.get("token")?.as_str()?;
        if token.is_empty() {
            return None;
        }
        Some(Record {
            token: token.into(),
            expires_at_ms: v.get("expires_at_ms")?.as_u64()?,
            fetched_at_ms: v.get("fetched_at_ms")?.as_u64()?,
            generation: v.get("generation")?.as_u64()?,
            fence: match v.get("fence") {
                None => 0,
                Some(f) => f.as_u64()?,
            },
        })
    }
}

/// Tokens grant API access: Debug shows a prefix only.
impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("token", &crate::token::redacted(&self.token))
            .field("expires_at_ms", &self.expires_at_ms)
            .field("fetched_at_ms", &self.fetched_at_ms)
            .field("generation", &self.generation)
            .field("fence", &self.fence)
            .finish()
    }
}

/// A plausible record for the stores' tests (fetched at a fixed time, so
/// that only the generation orders them).
#[cfg(test)]
pub(crate) fn test_record(token: &str, generation: u64) -> Record {
    Record {
        token: token.into(),
        expires_at_ms: 1 + MAX_LIFETIME_MS,
        fetched_at_ms: 1,
        generation,
        fence: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(fetched: u64, expires: u64, generation: u64) -> Record {
        Record {
            token: "T".into(),
            expires_at_ms: expires,
            fetched_at_ms: fetched,
            generation,
            fence: 0,
        }
    }

    #[test]
    fn refresh_point_respects_margin_and_half_life() {
        assert_eq!(rec(0, 7_200_000, 1).refresh_at_ms(300_000), 6_900_000);
        // 300 s left and a 300 s margin: refresh at half-life, not at once.
        assert_eq!(rec(0, 300_000, 1).refresh_at_ms(300_000), 150_000);
    }

    #[test]
    fn newer_by_generation_or_by_fetch_time() {
        assert!(rec(0, 10, 2).is_newer_than(&rec(0, 10, 1)));
        // A wiped store: generation 1 again, but fetched later.
        assert!(rec(5, 10, 1).is_newer_than(&rec(0, 10, 3)));
        assert!(!rec(0, 10, 1).is_newer_than(&rec(5, 10, 3)));
        assert!(!rec(0, 10, 1).is_newer_than(&rec(0, 10, 1)));
    }

    #[test]
    fn an_older_fence_never_replaces() {
        let held = Record {
            fence: 5,
            ..rec(0, 10, 1)
        };
        let stale_leader = Record {
            fence: 4,
            ..rec(9, 10, 2)
        };
        assert!(!stale_leader.may_replace(&held));
        let new_leader = Record {
            fence: 6,
            ..rec(9, 10, 2)
        };
        assert!(new_leader.may_replace(&held));
    }

    #[test]
    fn absurd_records_read_as_absent() {
        let now = now_ms();
        let sane = rec(now, now + 7_200_000, 3);
        assert_eq!(Record::from_json(&sane.to_json()), Some(sane.clone()));
        for absurd in [
            Record {
                generation: u64::MAX,
                ..sane.clone()
            },
            Record {
                fence: u64::MAX,
                ..sane.clone()
            },
            rec(now + 3_600_000, now + 10_800_000, 3), // fetched an hour ahead
            rec(now, now + 2 * MAX_LIFETIME_MS, 3),    // lives two days
        ] {
            assert_eq!(Record::from_json(&absurd.to_json()), None, "{absurd:?}");
        }
        // A clock a minute ahead is still fine.
        let ahead = rec(now + 60_000, now + 7_260_000, 3);
        assert!(Record::from_json(&ahead.to_json()).is_some());
    }

    #[test]
    fn json_round_trip_and_garbage() {
        let r = rec(5, 10, 3);
        assert_eq!(Record::from_json(&r.to_json()), Some(r));
        assert_eq!(Record::from_json("{\"v\":1,\"token\":\"x\""), None);
        assert_eq!(Record::from_json("{\"v\":2,\"token\":\"x\"}"), None);
        assert_eq!(Record::from_json("\u{0}\u{1}garbage"), None);
    }
}
