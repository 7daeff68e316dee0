//! The upstream: the platform's token endpoints (wechat-api.md sections 1-3).
//! One call, no retries: retry policy belongs to the refresh leader.

mod agent;
mod response;

use serde_json::json;

use crate::config::{Config, Mode, Platform};
use crate::error::{Error, ErrorKind, Result};

pub(crate) use response::Fetched;

/// Fetches one token. `force` asks the stable endpoint for a new token
/// (only meaningful in stable mode; the caller spaces such calls 30 s apart).
pub(crate) fn fetch(cfg: &Config, force: bool) -> Result<Fetched> {
    let agent = agent::current();
    let secret = cfg.secret.expose();
    let base = cfg.api_base.trim_end_matches('/');
    let request = match (cfg.platform, cfg.mode) {
        (Platform::Mp, Mode::Token) => agent
            .get(&format!("{base}/cgi-bin/token"))
            .query("grant_type", "client_credential")
            .query("appid", &cfg.appid)
            .query("secret", secret)
            .timeout(cfg.timeout)
            .call(),
        (Platform::Mp, Mode::Stable) => {
            let body = json!({
                "grant_type": "client_credential",
                "appid": cfg.appid,
                "secret": secret,
                "force_refresh": force,
            });
            agent
                .post(&format!("{base}/cgi-bin/stable_token"))
                .set("Content-Type", "application/json")
                .timeout(cfg.timeout)
                .send_string(&body.to_string())
        }
        (Platform::Wecom, _) => agent
            .get(&format!("{base}/cgi-bin/gettoken"))
            .query("corpid", &cfg.appid)
            .query("corpsecret", secret)
            .timeout(cfg.timeout)
            .call(),
    };
    let outcome = match request {
        Ok(resp) => response::parse(resp),
        Err(ureq::Error::Status(code, resp)) if code >= 500 => {
            drop(resp);
            Err(Error::new(
                ErrorKind::Upstream,
                format!("token endpoint answered HTTP {code}"),
            ))
        }
        Err(ureq::Error::Status(code, _)) => Err(Error::new(
            ErrorKind::BadResponse,
            format!("token endpoint answered HTTP {code}"),
        )),
        Err(ureq::Error::Transport(t)) => Err(response::transport_error(&t, cfg.timeout)),
    };
    outcome.map_err(|e| redact(e, secret))
}

/// The platform's errmsg is not ours: make sure it cannot echo the secret.
fn redact(err: Error, secret: &str) -> Error {
    if secret.is_empty() || !err.errmsg().contains(secret) {
        return err;
    }
    let msg = err.errmsg().replace(secret, "***");
    if err.errcode() != 0 {
        Error::wechat(err.errcode(), msg)
    } else {
        Error::new(err.kind(), msg)
    }
}
