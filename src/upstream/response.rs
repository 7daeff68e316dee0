//! Turning what the token endpoint answered into a token or a classified error.

use std::io::Read;
use std::time::Duration;

use serde_json::Value;

use super::redact;
use crate::error::{Error, ErrorKind, Result};

/// Token responses are small; anything larger is not one.
const MAX_BODY: u64 = 64 * 1024;

/// The platform's tokens live 7200 s. A longer claim is not a token
/// response, and believing it would keep a dead token for as long.
const MAX_EXPIRES_IN_S: u64 = 86_400;

/// The platform's messages are one line of some 100 characters.
const MAX_ERRMSG: usize = 512;

pub(crate) struct Fetched {
    pub token: String,
    pub expires_in_s: u64,
}

impl std::fmt::Debug for Fetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetched")
            .field("token", &crate::token::redacted(&self.token))
            .field("expires_in_s", &self.expires_in_s)
            .finish()
    }
}

/// What an endpoint answers: the credential's field and the endpoint's
/// name in messages.
#[derive(Clone, Copy)]
pub(super) struct Answer {
    pub field: &'static str,
    pub endpoint: &'static str,
}

pub(super) const TOKEN: Answer = Answer {
    field: "access_token",
    endpoint: "token endpoint",
};
pub(super) const TICKET: Answer = Answer {
    field: "ticket",
    endpoint: "ticket endpoint",
};

/// `secret` is what the request carried that the answer must not echo
/// (the app secret; for a ticket, the access token).
pub(super) fn parse(
    resp: ureq::Response,
    secret: &str,
    timeout: Duration,
    answer: Answer,
) -> Result<Fetched> {
    let mut body = Vec::new();
    resp.into_reader()
        .take(MAX_BODY)
        .read_to_end(&mut body)
        .map_err(|e| read_error(e.kind(), timeout))?;
    parse_answer(&body, secret, answer)
}

/// A body that stops coming within `timeout_ms` is a timeout (ureq's
/// deadline), not a broken connection.
fn read_error(kind: std::io::ErrorKind, timeout: Duration) -> Error {
    if is_timeout(kind) {
        return timed_out(timeout);
    }
    Error::new(
        ErrorKind::Network,
        format!("reading the token response failed: {kind}"),
    )
}

/// `secret` is what the request carried: the platform's errmsg could echo it.
#[cfg(test)]
pub(super) fn parse_body(body: &[u8], secret: &str) -> Result<Fetched> {
    parse_answer(body, secret, TOKEN)
}

fn parse_answer(body: &[u8], secret: &str, answer: Answer) -> Result<Fetched> {
    let Answer { field, endpoint } = answer;
    let v: Value = serde_json::from_slice(body).map_err(|_| {
        Error::new(
            ErrorKind::BadResponse,
            format!("{endpoint} answered a body that is not JSON"),
        )
    })?;
    let errcode = v.get("errcode").and_then(Value::as_i64).unwrap_or(0);
    if errcode != 0 {
        let errmsg = v.get("errmsg").and_then(Value::as_str).unwrap_or("");
        return Err(Error::wechat(
            errcode,
            printable(&redact::redact(errmsg, secret)),
        ));
    }
    let token = v.get(field).and_then(Value::as_str).unwrap_or("");
    let expires_in = v.get("expires_in").and_then(Value::as_u64).unwrap_or(0);
    if token.is_empty() || expires_in == 0 {
        return Err(Error::new(
            ErrorKind::BadResponse,
            format!("{endpoint} answered JSON without {field} and expires_in"),
        ));
    }
    // A token travels in URLs, headers and C strings: NUL, newlines, spaces
    // or non-ASCII would break the caller's business call, or its logs.
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::new(
            ErrorKind::BadResponse,
            format!(
                "{endpoint} answered {field} with characters other than \
                 printable ASCII (NUL, newline, space...)"
            ),
        ));
    }
    if expires_in > MAX_EXPIRES_IN_S {
        return Err(Error::new(
            ErrorKind::BadResponse,
            format!(
                "{endpoint} answered expires_in {expires_in} s, over a day \
                 (the platform's credentials live 7200 s)"
            ),
        ));
    }
    Ok(Fetched {
        token: token.to_string(),
        expires_in_s: expires_in,
    })
}

/// The platform's errmsg as wxtoken passes it on (C's last error, Python's
/// and PHP's exceptions, log lines): control characters become spaces, so
/// an upstream cannot forge log lines, and it is cut at `MAX_ERRMSG` chars.
/// Called after redaction, so a cut never splits a secret.
fn printable(errmsg: &str) -> String {
    errmsg
        .chars()
        .take(MAX_ERRMSG)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Describes a transport failure by its kind only: ureq's own text quotes the
/// URL, which for the classic endpoint holds the secret.
pub(super) fn transport_error(t: &ureq::Transport, timeout: Duration) -> Error {
    let io_kind = io_error_kind(t);
    if io_kind.is_some_and(is_timeout) {
        return timed_out(timeout);
    }
    let what = match (t.kind(), io_kind) {
        (ureq::ErrorKind::Dns, _) => "name lookup failed".to_string(),
        (ureq::ErrorKind::ConnectionFailed, _) => "connection failed".to_string(),
        (_, Some(kind)) => format!("connection broke ({kind})"),
        (kind, None) => format!("transport error ({kind})"),
    };
    Error::new(
        ErrorKind::Network,
        format!("token endpoint unreachable: {what}"),
    )
}

fn is_timeout(kind: std::io::ErrorKind) -> bool {
    matches!(
        kind,
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

fn timed_out(timeout: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!(
            "token endpoint did not answer within {} ms",
            timeout.as_millis()
        ),
    )
}

fn io_error_kind(t: &ureq::Transport) -> Option<std::io::ErrorKind> {
    let mut source = std::error::Error::source(t);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str) -> Result<Fetched> {
        parse_body(text.as_bytes(), "the-secret")
    }

    #[test]
    fn parses_success_and_errors() {
        let f = body(r#"{"access_token":"ACCESS","expires_in":7200}"#).unwrap();
        assert_eq!((f.token.as_str(), f.expires_in_s), ("ACCESS", 7200));
        let f =
            body(r#"{"errcode":0,"errmsg":"ok","access_token":"W","expires_in":7200}"#).unwrap();
        assert_eq!(f.token, "W");
        let e = body(r#"{"errcode":40013,"errmsg":"invalid appid rid: 1"}"#).unwrap_err();
        assert_eq!(
            (e.kind(), e.errcode()),
            (ErrorKind::CredentialsRejected, 40013)
        );
        let e = body(r#"{"errcode":-1,"errmsg":"system error"}"#).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Upstream);
        assert_eq!(body("<html>").unwrap_err().kind(), ErrorKind::BadResponse);
        assert_eq!(
            body(r#"{"access_token":""}"#).unwrap_err().kind(),
            ErrorKind::BadResponse
        );
        assert_eq!(
            body(r#"{"access_token":"x","expires_in":-5}"#)
                .unwrap_err()
                .kind(),
            ErrorKind::BadResponse
        );
    }

    #[test]
    fn tokens_with_control_characters_and_endless_lives_are_refused() {
        for bad in [
            "AB\\u0000CD",
            "AB\\nCD",
            "AB CD",
            "AB\\u007fCD",
            "AB\\u00e9CD",
        ] {
            let e = body(&format!(r#"{{"access_token":"{bad}","expires_in":7200}}"#)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BadResponse, "{bad}");
        }
        let e = body(r#"{"access_token":"AB","expires_in":18446744073709551615}"#).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadResponse);
        assert!(body(r#"{"access_token":"A-b_9","expires_in":86400}"#).is_ok());
    }

    #[test]
    fn errmsg_is_one_bounded_line() {
        let e = body(r#"{"errcode":-1,"errmsg":"busy\nwxtoken[1]: fetched generation 9\u0000"}"#)
            .unwrap_err();
        assert_eq!(e.errmsg(), "busy wxtoken[1]: fetched generation 9 ");
        let long = format!(r#"{{"errcode":-1,"errmsg":"{}"}}"#, "é".repeat(5000));
        assert_eq!(
            body(&long).unwrap_err().errmsg().chars().count(),
            MAX_ERRMSG
        );
    }

    #[test]
    fn an_echoed_secret_is_redacted() {
        let e = body(r#"{"errcode":40125,"errmsg":"invalid appsecret the%2Dsecret rid: 1"}"#)
            .unwrap_err();
        assert_eq!(e.errmsg(), "invalid appsecret *** rid: 1");
    }
}
