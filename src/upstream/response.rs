//! Turning what the token endpoint answered into a token or a classified error.

use std::io::Read;
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};

/// Token responses are small; anything larger is not one.
const MAX_BODY: u64 = 64 * 1024;

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

pub(super) fn parse(resp: ureq::Response) -> Result<Fetched> {
    let mut body = String::new();
    resp.into_reader()
        .take(MAX_BODY)
        .read_to_string(&mut body)
        .map_err(|e| {
            Error::new(
                ErrorKind::Network,
                format!("reading the token response failed: {}", e.kind()),
            )
        })?;
    parse_body(&body)
}

pub(super) fn parse_body(body: &str) -> Result<Fetched> {
    let v: Value = serde_json::from_str(body).map_err(|_| {
        Error::new(
            ErrorKind::BadResponse,
            "token endpoint answered a body that is not JSON",
        )
    })?;
    let errcode = v.get("errcode").and_then(Value::as_i64).unwrap_or(0);
    if errcode != 0 {
        let errmsg = v
            .get("errmsg")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        return Err(Error::wechat(errcode, errmsg));
    }
    let token = v.get("access_token").and_then(Value::as_str).unwrap_or("");
    let expires_in = v.get("expires_in").and_then(Value::as_u64).unwrap_or(0);
    if token.is_empty() || expires_in == 0 {
        return Err(Error::new(
            ErrorKind::BadResponse,
            "token endpoint answered JSON without access_token and expires_in",
        ));
    }
    Ok(Fetched {
        token: token.to_string(),
        expires_in_s: expires_in,
    })
}

/// Describes a transport failure by its kind only: ureq's own text quotes the
/// URL, which for the classic endpoint holds the secret.
pub(super) fn transport_error(t: &ureq::Transport, timeout: Duration) -> Error {
    let io_kind = io_error_kind(t);
    if matches!(
        io_kind,
        Some(std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock)
    ) {
        return Error::new(
            ErrorKind::Timeout,
            format!(
                "token endpoint did not answer within {} ms",
                timeout.as_millis()
            ),
        );
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

    #[test]
    fn parses_success_and_errors() {
        let f = parse_body(r#"{"access_token":"ACCESS","expires_in":7200}"#).unwrap();
        assert_eq!((f.token.as_str(), f.expires_in_s), ("ACCESS", 7200));
        let f = parse_body(r#"{"errcode":0,"errmsg":"ok","access_token":"W","expires_in":7200}"#)
            .unwrap();
        assert_eq!(f.token, "W");
        let e = parse_body(r#"{"errcode":40013,"errmsg":"invalid appid rid: 1"}"#).unwrap_err();
        assert_eq!(
            (e.kind(), e.errcode()),
            (ErrorKind::CredentialsRejected, 40013)
        );
        let e = parse_body(r#"{"errcode":-1,"errmsg":"system error"}"#).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Upstream);
        assert_eq!(
            parse_body("<html>").unwrap_err().kind(),
            ErrorKind::BadResponse
        );
        assert_eq!(
            parse_body(r#"{"access_token":""}"#).unwrap_err().kind(),
            ErrorKind::BadResponse
        );
        assert_eq!(
            parse_body(r#"{"access_token":"x","expires_in":-5}"#)
                .unwrap_err()
                .kind(),
            ErrorKind::BadResponse
        );
    }
}
