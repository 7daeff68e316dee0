//! Retry and cool-down policy: transient failures are retried a few times
//! with exponential backoff and jitter; after a failed refresh, callers with
//! no valid token get the error at once for a while instead of each one
//! hitting the upstream again.

use std::cell::Cell;
use std::time::Duration;

use crate::error::{Error, ErrorKind};

/// Upstream calls one refresh makes at most for transient failures.
pub(crate) const MAX_ATTEMPTS: u32 = 3;

const FIRST_RETRY_MS: u64 = 200;

/// Delay before retry number `attempt` (1-based): 200 ms, 400 ms, ... ±50%.
pub(crate) fn retry_delay(attempt: u32) -> Duration {
    let base = FIRST_RETRY_MS << attempt.saturating_sub(1).min(6);
    Duration::from_millis(base / 2 + jitter(base))
}

/// The longest one refresh can take: every attempt timing out, plus the
/// backoff between them. A store lock's lease is this plus some slack.
pub(crate) fn refresh_budget(timeout: Duration) -> Duration {
    let backoff: u64 = (1..MAX_ATTEMPTS)
        .map(|a| (FIRST_RETRY_MS << (a - 1)) * 3 / 2)
        .sum();
    timeout
        .saturating_mul(MAX_ATTEMPTS)
        .saturating_add(Duration::from_millis(backoff))
}

/// Whether a failed refresh with `err` starts a cool-down proper (rejected
/// credentials or IP, a quota), not a transient failure's short backoff:
/// what `stats.cooldowns` counts.
pub(crate) fn is_cooldown(err: &Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::CredentialsRejected | ErrorKind::IpNotAllowed | ErrorKind::QuotaExhausted
    )
}

/// How long to answer `err` at once, without an upstream call, after the
/// `failures_in_row`-th failed refresh. Rejected credentials and IPs do not
/// heal by themselves; quotas heal on their own clock (the local fetch
/// ceiling, errcode 0, within its 60 s window); transient trouble and a
/// store that keeps an unusable record back off from 1 s up to 30 s.
pub(crate) fn cooldown(err: &Error, failures_in_row: u32) -> Duration {
    let ms = match err.kind() {
        ErrorKind::CredentialsRejected | ErrorKind::IpNotAllowed => 60_000,
        ErrorKind::QuotaExhausted if err.errcode() == 45011 => 60_000,
        ErrorKind::QuotaExhausted if err.errcode() == 0 => crate::stats::CEILING_WINDOW_MS,
        ErrorKind::QuotaExhausted => 300_000,
        _ => (1000u64 << failures_in_row.saturating_sub(1).min(5)).min(30_000),
    };
    Duration::from_millis(ms)
}

/// Uniform in 0..n, from a per-thread xorshift (no need for a crypto RNG:
/// jitter only has to keep processes from retrying in lockstep).
fn jitter(n: u64) -> u64 {
    thread_local!(static STATE: Cell<u64> = const { Cell::new(0) });
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            let addr = s as *const _ as u64;
            x = (crate::clock::now_ms() ^ addr.rotate_left(17) ^ u64::from(std::process::id())) | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        if n == 0 {
            0
        } else {
            x % n
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_with_jitter() {
        for _ in 0..100 {
            let d1 = retry_delay(1).as_millis();
            let d2 = retry_delay(2).as_millis();
            assert!((100..300).contains(&d1), "{d1}");
            assert!((200..600).contains(&d2), "{d2}");
        }
    }

    #[test]
    fn cooldowns_by_kind() {
        assert_eq!(
            cooldown(&Error::wechat(40125, ""), 1),
            Duration::from_secs(60)
        );
        assert_eq!(
            cooldown(&Error::wechat(45009, ""), 1),
            Duration::from_secs(300)
        );
        assert_eq!(cooldown(&Error::wechat(-1, ""), 1), Duration::from_secs(1));
        assert_eq!(cooldown(&Error::wechat(-1, ""), 3), Duration::from_secs(4));
        assert_eq!(
            cooldown(&Error::wechat(-1, ""), 40),
            Duration::from_secs(30)
        );
    }
}
