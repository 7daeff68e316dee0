//! The upstream: the platform's token endpoints (docs/wechat-api.md sections 1-3).
//! One call, no retries: retry policy belongs to the refresh leader.

mod agent;
mod redact;
mod response;

use serde_json::json;

use crate::config::{self, Config, Mode, Platform};
use crate::error::{Error, ErrorKind, Result};

pub(crate) use response::Fetched;

/// Fetches one token. `force` asks the stable endpoint for a new token
/// (only meaningful in stable mode; the caller spaces such calls 30 s apart).
pub(crate) fn fetch(cfg: &Config, force: bool) -> Result<Fetched> {
    let agent = agent::current();
    let secret = cfg.secret.expose();
    let endpoint = |path: &str| endpoint_url(&cfg.api_base, path);
    let request = match (cfg.platform, cfg.mode) {
        (Platform::Mp, Mode::Token) => agent
            .request_url("GET", &endpoint("token")?)
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
                .request_url("POST", &endpoint("stable_token")?)
                .set("Content-Type", "application/json")
                .timeout(cfg.timeout)
                .send_string(&body.to_string())
        }
        (Platform::Wecom, _) => agent
            .request_url("GET", &endpoint("gettoken")?)
            .query("corpid", &cfg.appid)
            .query("corpsecret", secret)
            .timeout(cfg.timeout)
            .call(),
    };
    // ureq's own error texts quote the URL, secret and all: none is passed on.
    match request {
        Ok(resp) => response::parse(resp, secret, cfg.timeout),
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
    }
}

/// `{api_base}/cgi-bin/{name}`, built on the URL that configure checked, so
/// the request goes to the host that was judged.
fn endpoint_url(api_base: &str, name: &str) -> Result<url::Url> {
    let mut url = config::parse_api_base(api_base)?;
    url.path_segments_mut()
        .map_err(|()| Error::invalid("api_base cannot be a base URL"))?
        .pop_if_empty()
        .extend(["cgi-bin", name]);
    Ok(url)
}
