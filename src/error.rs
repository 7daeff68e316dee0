//! Errors: one kind per way a token request can fail, each carrying the WeChat
//! errcode and errmsg when the platform gave them (docs/wechat-api.md section 6).
//!
//! Messages are built by wxtoken itself, never copied from a transport error:
//! those quote the request URL, and the classic endpoint's URL holds the secret.

use std::fmt;

/// What went wrong, coarse enough to act on. Bindings map each kind to one
/// status code (C), exception class (Python) or exception subclass (PHP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// appid, secret, grant type or account rejected (40001, 40013, 40125, 40243, 48001...).
    CredentialsRejected,
    /// The caller's IP is not on the account's allow-list (40164, 60020, 61004, 8950x).
    IpNotAllowed,
    /// Daily or per-minute quota spent (45009, 45011).
    QuotaExhausted,
    /// The platform answered "busy" (-1), an HTTP 5xx, or an errcode wxtoken does not know.
    Upstream,
    /// Could not connect, or the connection broke.
    Network,
    /// An upstream call or a wait for a refresh ran out of time.
    Timeout,
    /// The upstream answered something that is not a token response.
    BadResponse,
    /// The shared store could not be read, written or locked.
    Store,
    /// No app of that name was configured.
    NotConfigured,
    /// A caller passed a bad argument or option.
    InvalidArgument,
}

impl ErrorKind {
    /// Every kind, in a stable order (bindings generate their tables from it).
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::CredentialsRejected,
        ErrorKind::IpNotAllowed,
        ErrorKind::QuotaExhausted,
        ErrorKind::Upstream,
        ErrorKind::Network,
        ErrorKind::Timeout,
        ErrorKind::BadResponse,
        ErrorKind::Store,
        ErrorKind::NotConfigured,
        ErrorKind::InvalidArgument,
    ];

    /// The snake_case name used in JSON, in Python's `kind` and PHP's `getKind()`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::CredentialsRejected => "credentials_rejected",
            ErrorKind::IpNotAllowed => "ip_not_allowed",
            ErrorKind::QuotaExhausted => "quota_exhausted",
            ErrorKind::Upstream => "upstream",
            ErrorKind::Network => "network",
            ErrorKind::Timeout => "timeout",
            ErrorKind::BadResponse => "bad_response",
            ErrorKind::Store => "store",
            ErrorKind::NotConfigured => "not_configured",
            ErrorKind::InvalidArgument => "invalid_argument",
        }
    }

    /// Transient failures are retried with backoff; the others are cooled down.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorKind::Upstream | ErrorKind::Network | ErrorKind::Timeout | ErrorKind::BadResponse
        )
    }

    fn describe(self) -> &'static str {
        match self {
            ErrorKind::CredentialsRejected => "credentials rejected",
            ErrorKind::IpNotAllowed => "caller IP not allowed",
            ErrorKind::QuotaExhausted => "quota exhausted",
            ErrorKind::Upstream => "upstream error",
            ErrorKind::Network => "network error",
            ErrorKind::Timeout => "timed out",
            ErrorKind::BadResponse => "bad response from upstream",
            ErrorKind::Store => "store error",
            ErrorKind::NotConfigured => "not configured",
            ErrorKind::InvalidArgument => "invalid argument",
        }
    }
}

/// A failed wxtoken operation. `errcode` is WeChat's (0 when the failure did
/// not come from the platform).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    errcode: i64,
    errmsg: String,
}

impl Error {
    pub fn new(kind: ErrorKind, errmsg: impl Into<String>) -> Self {
        Error {
            kind,
            errcode: 0,
            errmsg: errmsg.into(),
        }
    }

    /// An error answered by the platform, classified by its errcode.
    pub fn wechat(errcode: i64, errmsg: impl Into<String>) -> Self {
        Error {
            kind: classify(errcode),
            errcode,
            errmsg: errmsg.into(),
        }
    }

    /// The platform's errcode under a kind of wxtoken's choosing.
    pub(crate) fn with_errcode(kind: ErrorKind, errcode: i64, errmsg: impl Into<String>) -> Self {
        Error {
            kind,
            errcode,
            errmsg: errmsg.into(),
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, msg)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn errcode(&self) -> i64 {
        self.errcode
    }

    pub fn errmsg(&self) -> &str {
        &self.errmsg
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.describe(), self.errmsg)?;
        if self.errcode != 0 {
            write!(f, " (errcode {})", self.errcode)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Maps a token endpoint's errcode to a kind (docs/wechat-api.md section 6).
/// Unknown codes count as upstream trouble: retried, never fatal.
pub fn classify(errcode: i64) -> ErrorKind {
    match errcode {
        40001 | 40002 | 40013 | 40125 | 40243 | 41002 | 41004 | 43002 | 48001 | 50002 => {
            ErrorKind::CredentialsRejected
        }
        40164 | 60020 | 61004 | 89501 | 89503 | 89506 | 89507 => ErrorKind::IpNotAllowed,
        45009 | 45011 => ErrorKind::QuotaExhausted,
        _ => ErrorKind::Upstream,
    }
}

/// The errcodes with which a business API says "this access_token is bad":
/// invalid or superseded (40001), malformed (40014), expired (42001).
pub const BAD_TOKEN_ERRCODES: [i64; 3] = [40001, 40014, 42001];

/// True when a business call's errcode means the token should be invalidated.
pub fn is_bad_token_errcode(errcode: i64) -> bool {
    BAD_TOKEN_ERRCODES.contains(&errcode)
}

/// [`is_bad_token_errcode`] for an errcode held as text: some JSON decoders
/// and HTTP clients hand `"errcode": "40001"` over as a string. Only the
/// form the integer prints as counts ("40001"; not "+40001", " 40001",
/// "040001" or "40001.0"). This pair is the one rule of every binding's
/// `call`; any other type (bool, float) never counts.
pub fn is_bad_token_errcode_text(text: &str) -> bool {
    text.parse::<i64>()
        .is_ok_and(|n| is_bad_token_errcode(n) && n.to_string() == text)
}

/// A caller's string quoted in a message: at most 64 characters of it.
pub(crate) fn shortened(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_documented_codes() {
        assert_eq!(classify(40125), ErrorKind::CredentialsRejected);
        assert_eq!(classify(40013), ErrorKind::CredentialsRejected);
        assert_eq!(classify(40164), ErrorKind::IpNotAllowed);
        assert_eq!(classify(60020), ErrorKind::IpNotAllowed);
        assert_eq!(classify(45009), ErrorKind::QuotaExhausted);
        assert_eq!(classify(-1), ErrorKind::Upstream);
        assert_eq!(classify(12345), ErrorKind::Upstream);
        assert!(classify(-1).is_transient());
        assert!(!classify(40125).is_transient());
    }

    #[test]
    fn bad_token_errcode_as_text_is_the_decimal_form_only() {
        for code in BAD_TOKEN_ERRCODES {
            assert!(is_bad_token_errcode_text(&code.to_string()));
        }
        for text in [
            "40125", "0", "", "+40001", " 40001", "40001 ", "040001", "40001.0", "4e4",
        ] {
            assert!(!is_bad_token_errcode_text(text), "{text:?}");
        }
    }

    #[test]
    fn display_names_kind_message_and_errcode() {
        let e = Error::wechat(40125, "invalid appsecret");
        assert_eq!(
            e.to_string(),
            "credentials rejected: invalid appsecret (errcode 40125)"
        );
        let e = Error::new(ErrorKind::Timeout, "no token within 10 ms");
        assert_eq!(e.to_string(), "timed out: no token within 10 ms");
    }
}
