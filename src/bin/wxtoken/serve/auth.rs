//! Client keys: only their SHA-256 is configured. A presented key is hashed
//! and compared with every client's digest in constant time, so neither the
//! comparison nor the position of the match tells an attacker anything.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::config::Client;

/// The client whose key this is, if any.
pub fn client<'a>(clients: &'a [Client], key: &str) -> Option<&'a Client> {
    // An absent key (`secret=` left out of a compat request) is no key,
    // even if someone configured the digest of the empty string.
    if key.is_empty() {
        return None;
    }
    let presented: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    let mut found = None;
    for c in clients {
        // No early exit: every digest is compared.
        if bool::from(c.digest.ct_eq(&presented)) {
            found = Some(c);
        }
    }
    found
}

/// The key of an `Authorization: Bearer KEY` header.
pub fn bearer(header: Option<&hyper::header::HeaderValue>) -> Option<&str> {
    let value = header?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !key.trim().is_empty()).then(|| key.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_matched_by_its_digest() {
        let digest: [u8; 32] = Sha256::digest(b"k1").into();
        let clients = vec![Client {
            name: "a".into(),
            digest,
            apps: None,
        }];
        assert_eq!(client(&clients, "k1").map(|c| c.name.as_str()), Some("a"));
        assert!(client(&clients, "k2").is_none());
        let h = hyper::header::HeaderValue::from_static("Bearer k1");
        assert_eq!(bearer(Some(&h)), Some("k1"));
        let h = hyper::header::HeaderValue::from_static("Basic k1");
        assert_eq!(bearer(Some(&h)), None);
    }
}
