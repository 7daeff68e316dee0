//! Key names. All keys of one app share a hash tag (the part in braces), so
//! a Redis Cluster would keep them in one slot and the scripts, which touch
//! several of them at once, stay legal there.

use crate::error::{Error, Result};

pub(crate) const DEFAULT_PREFIX: &str = "wxtoken";

/// The keys of one app.
pub(super) struct Keys {
    /// The record: a hash, expiring with the token.
    pub rec: String,
    /// The refresh lock: the holder's owner token, with the lease as TTL.
    pub lock: String,
    /// The fence counter: only grows (the lock script bumps it past the
    /// record's fence if it was ever wiped).
    pub fence: String,
    /// The shared failure state and fetch count (crate::meta): a hash of
    /// the writer's fence and the meta's JSON, times on Redis's clock.
    pub meta: String,
}

impl Keys {
    /// `store_key` comes from `Config::store_key`: platform, mode, appid and
    /// hashes (never the secret); its characters exclude braces.
    pub fn new(prefix: &str, store_key: &str) -> Keys {
        let base = format!("{prefix}:{{{store_key}}}");
        Keys {
            rec: format!("{base}:rec"),
            lock: format!("{base}:lock"),
            fence: format!("{base}:fence"),
            meta: format!("{base}:meta"),
        }
    }
}

/// A prefix may not hold a brace (it would move the hash tag) nor spaces or
/// control characters (keys should stay readable in redis-cli).
pub(crate) fn check_prefix(prefix: &str) -> Result<()> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 64
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "key_prefix must be 1 to 64 of: letters, digits, '-', '_', '.', ':', '/'",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hash_tag_per_app() {
        let k = Keys::new("wxtoken", "mp-token-wx1@ab12");
        assert_eq!(k.rec, "wxtoken:{mp-token-wx1@ab12}:rec");
        assert_eq!(k.lock, "wxtoken:{mp-token-wx1@ab12}:lock");
        assert_eq!(k.fence, "wxtoken:{mp-token-wx1@ab12}:fence");
        assert_eq!(k.meta, "wxtoken:{mp-token-wx1@ab12}:meta");
    }

    #[test]
    fn prefixes_that_would_move_the_tag_are_refused() {
        assert!(check_prefix("wxtoken").is_ok());
        assert!(check_prefix("prod:wx").is_ok());
        for bad in ["", "a{b", "a}b", "a b", "a\nb", &"x".repeat(65)] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }
}
