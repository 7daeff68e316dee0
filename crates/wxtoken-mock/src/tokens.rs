//! Every token the simulator has issued, and the platform's verdict on each: good, superseded
//! (40001), expired (42001) or never seen (40014).

use super::rng;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// How many tokens are remembered. Beyond that the oldest dead ones are forgotten and then
/// answer 40014 instead of 40001/42001 (still a "bad token" code); this bounds memory in
/// long benchmarks that raise the quota.
const REMEMBER: usize = 50_000;
/// Shortest token that still fits a unique serial prefix and some random filler.
pub(crate) const MIN_TOKEN_LEN: usize = 24;
/// Longest token: it must still fit into a 64 KiB request.
pub(crate) const MAX_TOKEN_LEN: usize = 16_384;

/// What a business call would be told about a token at a given moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Accepted; carries the index of the app that owns it.
    Valid(usize),
    Superseded,
    Expired,
    Unknown,
}

impl Verdict {
    /// The errcode a business call gets, with the platform's message; `None` when valid.
    pub(crate) fn error(self) -> Option<(i64, &'static str)> {
        match self {
            Verdict::Valid(_) => None,
            Verdict::Superseded => Some((
                40001,
                "invalid credential, access_token is invalid or not latest",
            )),
            Verdict::Expired => Some((42001, "access_token expired")),
            Verdict::Unknown => Some((40014, "invalid access_token")),
        }
    }
}

struct Rec {
    owner: usize,
    expires_at: u64,
    /// From this moment on the token is superseded; `u64::MAX` while it is not.
    revoked_at: u64,
}

impl Rec {
    fn verdict(&self, now: u64) -> Verdict {
        if now >= self.revoked_at {
            Verdict::Superseded
        } else if now >= self.expires_at {
            Verdict::Expired
        } else {
            Verdict::Valid(self.owner)
        }
    }
}

/// Token registry; all times are milliseconds on the caller's clock.
#[derive(Default)]
pub(crate) struct TokenBook {
    recs: HashMap<Arc<str>, Rec>,
    order: VecDeque<Arc<str>>,
    serial: u64,
}

impl TokenBook {
    /// Issues a new token for app `owner`, valid from `now` for `lifetime_ms`.
    pub(crate) fn issue(
        &mut self,
        now: u64,
        lifetime_ms: u64,
        len: usize,
        owner: usize,
    ) -> Arc<str> {
        self.serial += 1;
        let token: Arc<str> = make_token(self.serial, len).into();
        let rec = Rec {
            owner,
            expires_at: now.saturating_add(lifetime_ms),
            revoked_at: u64::MAX,
        };
        self.recs.insert(token.clone(), rec);
        self.order.push_back(token.clone());
        self.prune(now);
        token
    }

    pub(crate) fn verdict(&self, now: u64, token: &str) -> Verdict {
        self.recs
            .get(token)
            .map_or(Verdict::Unknown, |rec| rec.verdict(now))
    }

    /// Milliseconds of life left, or `None` when the token is not usable now.
    pub(crate) fn remaining_ms(&self, now: u64, token: &str) -> Option<u64> {
        let rec = self.recs.get(token)?;
        match rec.verdict(now) {
            Verdict::Valid(_) => Some(rec.expires_at - now),
            _ => None,
        }
    }

    /// Supersedes `token` from `at` on, or from its own expiry if that comes first, so that
    /// a superseded token always answers 40001 afterwards. Never extends a token's life.
    pub(crate) fn revoke(&mut self, token: &str, at: u64) {
        if let Some(rec) = self.recs.get_mut(token) {
            rec.revoked_at = rec.revoked_at.min(at).min(rec.expires_at);
        }
    }

    /// Forgets the oldest tokens beyond `REMEMBER`, keeping any that are still valid.
    fn prune(&mut self, now: u64) {
        let mut spared = 0;
        while self.order.len() > REMEMBER && spared < 8 {
            let Some(oldest) = self.order.pop_front() else {
                return;
            };
            if matches!(self.verdict(now, &oldest), Verdict::Valid(_)) {
                self.order.push_back(oldest);
                spared += 1;
            } else {
                self.recs.remove(&oldest);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.recs.len()
    }
}

/// A base-36 serial keeps tokens unique; random filler brings them to exactly `len`.
fn make_token(serial: u64, len: usize) -> String {
    let len = len.clamp(MIN_TOKEN_LEN, MAX_TOKEN_LEN);
    let mut token = String::with_capacity(len);
    push_base36(&mut token, serial);
    token.push('_');
    let filler = len - token.len();
    rng::push_alnum(&mut token, filler);
    token
}

fn push_base36(out: &mut String, mut n: u64) {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut buf = [0u8; 13];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = DIGITS[(n % 36) as usize];
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.extend(buf[i..].iter().map(|&b| b as char));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_exact_length_and_are_unique() {
        let mut book = TokenBook::default();
        let a = book.issue(0, 1000, 600, 0);
        let b = book.issue(0, 1000, 600, 0);
        assert_eq!(a.len(), 600);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'));
        assert_eq!(book.issue(0, 1000, 3, 0).len(), MIN_TOKEN_LEN);
        let mut s = String::new();
        push_base36(&mut s, u64::MAX);
        assert_eq!(s, "3w5e11264sgsf");
    }

    #[test]
    fn verdicts_follow_the_clock() {
        let mut book = TokenBook::default();
        let t = book.issue(1000, 5000, 32, 7);
        assert_eq!(book.verdict(1000, &t), Verdict::Valid(7));
        assert_eq!(book.remaining_ms(2000, &t), Some(4000));
        assert_eq!(book.verdict(6000, &t), Verdict::Expired);
        assert_eq!(book.remaining_ms(6000, &t), None);
        assert_eq!(book.verdict(0, "nope"), Verdict::Unknown);
        book.revoke(&t, 3000);
        assert_eq!(book.verdict(2999, &t), Verdict::Valid(7));
        assert_eq!(book.verdict(3000, &t), Verdict::Superseded);
        assert_eq!(book.verdict(9000, &t), Verdict::Superseded);
        book.revoke(&t, 9000);
        assert_eq!(
            book.verdict(3000, &t),
            Verdict::Superseded,
            "never extended"
        );
    }

    #[test]
    fn revoking_caps_at_own_expiry() {
        let mut book = TokenBook::default();
        let t = book.issue(0, 1000, 32, 0);
        book.revoke(&t, 5000);
        assert_eq!(book.verdict(999, &t), Verdict::Valid(0));
        assert_eq!(book.verdict(1000, &t), Verdict::Superseded);
    }

    #[test]
    fn pruning_bounds_memory_but_keeps_valid_tokens() {
        let mut book = TokenBook::default();
        let keep = book.issue(0, u64::MAX, 24, 0);
        for i in 0..(REMEMBER as u64 + 10) {
            book.issue(i, 0, 24, 0);
        }
        assert!(book.len() <= REMEMBER + 1);
        assert_eq!(book.verdict(5, &keep), Verdict::Valid(0));
    }
}
