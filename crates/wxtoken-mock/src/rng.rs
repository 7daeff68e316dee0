//! Pseudo-random filler for tokens and request ids.
//!
//! Nothing here is security-relevant (simulated tokens only need to be unique and
//! unpredictable enough that tests cannot guess them), so a lock-free splitmix64 over a
//! time-seeded counter replaces a rand dependency.

use once_cell::sync::Lazy;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
const URL_SAFE: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Differs per process and per start, so two simulators never hand out the same tokens.
static SEED: Lazy<u64> = Lazy::new(|| {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    mix(nanos ^ (u64::from(std::process::id()) << 32))
});
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// splitmix64's output function: a bijection that scatters consecutive inputs.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The next pseudo-random number; safe to call from any thread.
pub(crate) fn next_u64() -> u64 {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    mix(SEED.wrapping_add(n.wrapping_mul(GOLDEN)))
}

/// Appends `len` URL-safe alphanumerics to `out`.
pub(crate) fn push_alnum(out: &mut String, len: usize) {
    let mut bits = 0u64;
    for i in 0..len {
        if i % 8 == 0 {
            bits = next_u64();
        }
        out.push(URL_SAFE[(bits & 0xff) as usize % URL_SAFE.len()] as char);
        bits >>= 8;
    }
}

/// A request id in the style the platform appends to every errmsg (`rid: ...`).
pub(crate) fn rid() -> String {
    let (a, b) = (next_u64(), next_u64());
    format!("{:08x}-{:08x}-{:08x}", a as u32, (a >> 32) as u32, b as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alnum_has_exact_length_and_safe_chars() {
        let mut s = String::new();
        push_alnum(&mut s, 37);
        assert_eq!(s.len(), 37);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn rids_differ() {
        assert_ne!(rid(), rid());
        assert_eq!(rid().len(), 26);
    }
}
