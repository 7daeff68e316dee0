//! `wxtoken_status`: what every C entry point returns. One value per
//! [`ErrorKind`] (in the order of [`ErrorKind::ALL`]), then the failures that
//! only exist at the C boundary. The numbers are part of the ABI: never
//! renumber, only append.

use std::os::raw::c_char;

use crate::ErrorKind;

/// The outcome of a wxtoken call. `WXTOKEN_OK` (0) is success; every other
/// value names one way to fail. The values are fixed: new ones are only ever
/// appended.
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum wxtoken_status {
    /// Success.
    WXTOKEN_OK = 0,
    /// appid, secret or account rejected by the platform (40013, 40125, ...).
    /// Not retried; callers get it at once for a cool-down period.
    WXTOKEN_CREDENTIALS_REJECTED = 1,
    /// This machine's IP is not on the account's allow-list (40164, 60020, ...).
    WXTOKEN_IP_NOT_ALLOWED = 2,
    /// The daily or per-minute quota of token fetches is spent (45009, 45011).
    WXTOKEN_QUOTA_EXHAUSTED = 3,
    /// The platform answered "busy" (-1), an HTTP 5xx, or an unknown errcode.
    WXTOKEN_UPSTREAM = 4,
    /// Could not connect to the platform, or the connection broke.
    WXTOKEN_NETWORK = 5,
    /// An upstream call (timeout_ms) or the wait for a refresh (wait_ms) ran out.
    WXTOKEN_TIMEOUT = 6,
    /// The platform answered something that is not a token response.
    WXTOKEN_BAD_RESPONSE = 7,
    /// The shared store could not be read, written or locked.
    WXTOKEN_STORE = 8,
    /// No app of that name was configured (and the WXTOKEN_* environment names
    /// none).
    WXTOKEN_NOT_CONFIGURED = 9,
    /// A bad argument or option: an empty string, an unknown or mistyped
    /// option key, options that are not a JSON object.
    WXTOKEN_INVALID_ARGUMENT = 10,
    /// A pointer argument that must not be NULL was NULL.
    WXTOKEN_NULL_POINTER = 11,
    /// A string argument is not valid UTF-8.
    WXTOKEN_INVALID_UTF8 = 12,
    /// The caller's buffer is too small; the length needed (without the NUL)
    /// was written to `*len` where the function has a `len` argument.
    WXTOKEN_BUFFER_TOO_SMALL = 13,
    /// wxtoken hit an internal bug (a Rust panic) and stopped it at the
    /// boundary. Please report it.
    WXTOKEN_PANIC = 14,
}

use wxtoken_status as S;

impl wxtoken_status {
    /// Every status, in numeric order (index == value).
    pub const ALL: [wxtoken_status; 15] = [
        S::WXTOKEN_OK,
        S::WXTOKEN_CREDENTIALS_REJECTED,
        S::WXTOKEN_IP_NOT_ALLOWED,
        S::WXTOKEN_QUOTA_EXHAUSTED,
        S::WXTOKEN_UPSTREAM,
        S::WXTOKEN_NETWORK,
        S::WXTOKEN_TIMEOUT,
        S::WXTOKEN_BAD_RESPONSE,
        S::WXTOKEN_STORE,
        S::WXTOKEN_NOT_CONFIGURED,
        S::WXTOKEN_INVALID_ARGUMENT,
        S::WXTOKEN_NULL_POINTER,
        S::WXTOKEN_INVALID_UTF8,
        S::WXTOKEN_BUFFER_TOO_SMALL,
        S::WXTOKEN_PANIC,
    ];

    /// The constant's name as C spells it, NUL-terminated.
    pub(crate) fn name_nul(self) -> &'static [u8] {
        match self {
            S::WXTOKEN_OK => b"WXTOKEN_OK\0",
            S::WXTOKEN_CREDENTIALS_REJECTED => b"WXTOKEN_CREDENTIALS_REJECTED\0",
            S::WXTOKEN_IP_NOT_ALLOWED => b"WXTOKEN_IP_NOT_ALLOWED\0",
            S::WXTOKEN_QUOTA_EXHAUSTED => b"WXTOKEN_QUOTA_EXHAUSTED\0",
            S::WXTOKEN_UPSTREAM => b"WXTOKEN_UPSTREAM\0",
            S::WXTOKEN_NETWORK => b"WXTOKEN_NETWORK\0",
            S::WXTOKEN_TIMEOUT => b"WXTOKEN_TIMEOUT\0",
            S::WXTOKEN_BAD_RESPONSE => b"WXTOKEN_BAD_RESPONSE\0",
            S::WXTOKEN_STORE => b"WXTOKEN_STORE\0",
            S::WXTOKEN_NOT_CONFIGURED => b"WXTOKEN_NOT_CONFIGURED\0",
            S::WXTOKEN_INVALID_ARGUMENT => b"WXTOKEN_INVALID_ARGUMENT\0",
            S::WXTOKEN_NULL_POINTER => b"WXTOKEN_NULL_POINTER\0",
            S::WXTOKEN_INVALID_UTF8 => b"WXTOKEN_INVALID_UTF8\0",
            S::WXTOKEN_BUFFER_TOO_SMALL => b"WXTOKEN_BUFFER_TOO_SMALL\0",
            S::WXTOKEN_PANIC => b"WXTOKEN_PANIC\0",
        }
    }

    /// The status with this number, if there is one. C hands statuses back
    /// as plain integers, which may hold anything.
    pub(crate) fn from_int(n: i64) -> Option<wxtoken_status> {
        usize::try_from(n)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
    }
}

/// `name` as a C string pointer (the bytes are static and NUL-terminated).
pub(crate) fn static_cstr(name: &'static [u8]) -> *const c_char {
    debug_assert_eq!(name.last(), Some(&0));
    name.as_ptr().cast()
}

pub(crate) const UNKNOWN_NAME: &[u8] = b"WXTOKEN_UNKNOWN\0";

impl From<ErrorKind> for wxtoken_status {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::CredentialsRejected => S::WXTOKEN_CREDENTIALS_REJECTED,
            ErrorKind::IpNotAllowed => S::WXTOKEN_IP_NOT_ALLOWED,
            ErrorKind::QuotaExhausted => S::WXTOKEN_QUOTA_EXHAUSTED,
            ErrorKind::Upstream => S::WXTOKEN_UPSTREAM,
            ErrorKind::Network => S::WXTOKEN_NETWORK,
            ErrorKind::Timeout => S::WXTOKEN_TIMEOUT,
            ErrorKind::BadResponse => S::WXTOKEN_BAD_RESPONSE,
            ErrorKind::Store => S::WXTOKEN_STORE,
            ErrorKind::NotConfigured => S::WXTOKEN_NOT_CONFIGURED,
            ErrorKind::InvalidArgument => S::WXTOKEN_INVALID_ARGUMENT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_numeric_order() {
        for (i, s) in wxtoken_status::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
            assert_eq!(wxtoken_status::from_int(i as i64), Some(*s));
        }
        assert_eq!(wxtoken_status::from_int(-1), None);
        assert_eq!(wxtoken_status::from_int(15), None);
        assert_eq!(wxtoken_status::from_int(i64::MAX), None);
    }

    #[test]
    fn kinds_map_in_the_order_of_error_kind_all() {
        for (i, kind) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(wxtoken_status::from(*kind) as usize, i + 1, "{kind:?}");
        }
    }

    /// The names agree with the committed header's constants and numbers.
    #[test]
    fn names_match_the_header() {
        let header = include_str!("../../include/wxtoken.h");
        for s in wxtoken_status::ALL {
            let name = std::str::from_utf8(s.name_nul())
                .unwrap()
                .trim_end_matches('\0');
            let line = format!("{name} = {},", s as i32);
            assert!(header.contains(&line), "header lacks `{line}`");
        }
    }
}
