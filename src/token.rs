//! The token handed to Rust callers: a shared string, cheap to clone, whose
//! Debug output does not leak it into logs.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token(pub(crate) Arc<str>);

impl Token {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Token {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Token {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Token {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Token {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

/// Display is the explicit way to get the token text.
impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({})", redacted(&self.0))
    }
}

/// The first 6 characters and the length: enough to tell tokens apart in a log.
pub(crate) fn redacted(token: &str) -> String {
    let prefix: String = token.chars().take(6).collect();
    format!("{prefix}…[{} chars]", token.chars().count())
}
