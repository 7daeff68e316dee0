//! Redis's clock seen from this host: the scripts' replies carry Redis's
//! `TIME`, and records' times (on Redis's clock) become this host's.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use crate::clock::now_ms;
use crate::record::Record;

/// A script's reply: Redis's TIME, then the record's fields (if any).
pub(super) type Reply = Vec<Option<String>>;

/// This host's view of Redis's clock: `offset = local_now - redis_now`,
/// measured on every reply. It is kept while new measurements stay within
/// [`ServerClock::JITTER_MS`] of it, so the same record converts to the
/// same local times on every read (a record that seemed to move would be
/// adopted again and again); a clock step beyond that is taken at once.
#[derive(Default)]
pub(super) struct ServerClock {
    offset: AtomicI64,
    /// False until the first reply.
    measured: AtomicBool,
}

impl ServerClock {
    const JITTER_MS: i64 = 250;
    /// Taken off every expiry read from Redis. The conversion errs late:
    /// the save script adds the token's remaining life to Redis's `TIME`,
    /// read one trip after the leader measured it, and the offset counts
    /// the reply's trip as clock difference (and is kept within
    /// [`Self::JITTER_MS`]). Together well under a second on any sane
    /// network; a token retired 1 s early costs nothing, one served after
    /// it expired costs a failed business call.
    pub(super) const EXPIRY_SAFETY_MS: u64 = 1000;

    fn offset(&self, local_now: u64, redis_now: u64) -> i64 {
        let fresh = local_now as i64 - redis_now as i64;
        if self.measured.load(Ordering::Acquire) {
            let kept = self.offset.load(Ordering::Relaxed);
            if (fresh - kept).abs() <= Self::JITTER_MS {
                return kept;
            }
        }
        self.offset.store(fresh, Ordering::Relaxed);
        self.measured.store(true, Ordering::Release);
        fresh
    }

    /// The record in a script reply, its times on this host's clock; None
    /// if the reply holds no well-formed record.
    pub fn record(&self, reply: &Reply) -> Option<Record> {
        self.record_at(reply, now_ms())
    }

    fn record_at(&self, reply: &Reply, local_now: u64) -> Option<Record> {
        let num = |i: usize| reply.get(i)?.as_deref()?.parse::<u64>().ok();
        let redis_now = num(0)?.checked_mul(1000)? + num(1)? / 1000;
        let offset = self.offset(local_now, redis_now);
        if reply.get(2)?.as_deref()? != "1" {
            return None;
        }
        let token = reply.get(3)?.as_deref().filter(|t| !t.is_empty())?;
        let local = |t: u64| (t as i64).saturating_add(offset).max(0) as u64;
        Some(Record {
            token: token.into(),
            generation: num(4)?,
            fence: num(5)?,
            fetched_at_ms: local(num(6)?),
            expires_at_ms: local(num(7)?).saturating_sub(Self::EXPIRY_SAFETY_MS),
        })
    }
}

impl ServerClock {
    /// Redis's time in a script reply (its first two fields, TIME) and the
    /// offset to this host's clock it yields, measured as for records.
    pub fn time_and_offset(&self, reply: &Reply) -> Option<(u64, i64)> {
        let num = |i: usize| reply.get(i)?.as_deref()?.parse::<u64>().ok();
        let redis_now = num(0)?.checked_mul(1000)? + num(1)? / 1000;
        Some((redis_now, self.offset(now_ms(), redis_now)))
    }

    /// The offset kept from the last reply, if any came yet.
    pub fn known_offset(&self) -> Option<i64> {
        self.measured
            .load(Ordering::Acquire)
            .then(|| self.offset.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(redis_ms: u64, fetched: u64, expires: u64) -> Reply {
        let s = |v: u64| Some(v.to_string());
        vec![
            s(redis_ms / 1000),
            s(redis_ms % 1000 * 1000),
            s(1),
            Some("TOK".into()),
            s(7),
            s(3),
            s(fetched),
            s(expires),
        ]
    }

    #[test]
    fn redis_times_become_this_hosts_times() {
        // This host runs 10 minutes ahead of Redis.
        let skew = 600_000;
        let redis_now = 1_700_000_000_000;
        let clock = ServerClock::default();
        let r = clock
            .record_at(
                &reply(redis_now, redis_now - 1000, redis_now + 7_199_000),
                redis_now + skew,
            )
            .unwrap();
        assert_eq!(r.fetched_at_ms, redis_now + skew - 1000);
        let safety = ServerClock::EXPIRY_SAFETY_MS;
        assert_eq!(r.expires_at_ms, redis_now + skew + 7_199_000 - safety);
        assert!(r.is_valid(redis_now + skew + 7_198_999 - safety));
        assert!(!r.is_valid(redis_now + skew + 7_199_000 - safety));
        assert_eq!((r.generation, r.fence, &*r.token), (7, 3, "TOK"));
    }

    /// The offset measured on a reply that took 400 ms to arrive counts
    /// those 400 ms as clock difference: the expiry converted from it lies
    /// up to a trip late. Read 400 ms before the real expiry (on this
    /// host's clock, which here agrees with Redis's), the token must
    /// already look expired, not be served for another 400 ms.
    #[test]
    fn an_expiry_read_over_a_slow_reply_is_never_late() {
        let clock = ServerClock::default();
        let redis_now = 1_700_000_000_000;
        let expires = redis_now + 60_000;
        let trip = 400;
        let r = clock
            .record_at(
                &reply(redis_now, redis_now - 1000, expires),
                redis_now + trip,
            )
            .unwrap();
        assert!(
            !r.is_valid(expires),
            "valid at its real expiry: {} ms late",
            r.expires_at_ms - expires + 1
        );
    }

    #[test]
    fn round_trip_jitter_does_not_move_a_record() {
        let clock = ServerClock::default();
        let at = |local| {
            clock
                .record_at(&reply(1_000_000, 900_000, 2_000_000), local)
                .unwrap()
        };
        let first = at(5_000_000);
        assert_eq!(at(5_000_120), first, "120 ms of jitter: same local times");
        // A real step of the host clock (NTP) is taken at once.
        assert_eq!(at(5_060_000).expires_at_ms, first.expires_at_ms + 60_000);
    }

    #[test]
    fn absent_or_foreign_records_read_as_none() {
        let clock = ServerClock::default();
        let t = || vec![Some("1700000000".to_string()), Some("0".to_string())];
        assert_eq!(clock.record_at(&t(), 0), None);
        let mut foreign = t();
        foreign.extend([Some("2".into()), Some("x".into()), None, None, None, None]);
        assert_eq!(clock.record_at(&foreign, 0), None);
        let mut bad_num = reply(1_000_000, 1, 2);
        bad_num[4] = Some("seven".into());
        assert_eq!(clock.record_at(&bad_num, 0), None);
    }
}
