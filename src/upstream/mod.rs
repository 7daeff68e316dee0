//! The upstream: the platform's token endpoints (docs/wechat-api.md sections 1-3).
//! One call, no retries: retry policy belongs to the refresh leader.

mod agent;
mod redact;
mod response;

use serde_json::json;

use crate::config::{self, Config, Mode, Platform};
use crate::error::{Error, ErrorKind, Result};
use crate::ticket::TicketKind;

pub(crate) use response::Fetched;

/// Fetches one token. `force` asks the stable endpoint for a new token
/// (only meaningful in stable mode; the caller spaces such calls 30 s apart).
pub(crate) fn fetch(cfg: &Config, force: bool) -> Result<Fetched> {
    let agent = agent::current();
    let secret = cfg.secret.expose();
    let endpoint = |path: &str| endpoint_url(&cfg.api_base, &[path]);
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
    answered(request, secret, cfg, response::TOKEN)
}

/// Fetches one ticket of `kind` with `access_token` (docs/wechat-api.md
/// section 8). A bad-token errcode in the answer is the caller's to act on.
pub(crate) fn fetch_ticket(cfg: &Config, kind: TicketKind, access_token: &str) -> Result<Fetched> {
    let (path, type_) = kind.endpoint(cfg.platform)?;
    let url = endpoint_url(&cfg.api_base, path)?;
    let mut request = agent::current()
        .request_url("GET", &url)
        .query("access_token", access_token)
        .timeout(cfg.timeout);
    if let Some(t) = type_ {
        request = request.query("type", t);
    }
    answered(request.call(), access_token, cfg, response::TICKET)
}

/// The request's outcome as a credential or an error. ureq's own error
/// texts quote the URL, secret (or token) and all: none is passed on.
fn answered(
    request: std::result::Result<ureq::Response, ureq::Error>,
    secret: &str,
    cfg: &Config,
    answer: response::Answer,
) -> Result<Fetched> {
    let endpoint = answer.endpoint;
    match request {
        Ok(resp) => response::parse(resp, secret, cfg.timeout, answer),
        Err(ureq::Error::Status(code, resp)) if code >= 500 => {
            drop(resp);
            Err(Error::new(
                ErrorKind::Upstream,
                format!("{endpoint} answered HTTP {code}"),
            ))
        }
        Err(ureq::Error::Status(code, _)) => Err(Error::new(
            ErrorKind::BadResponse,
            format!("{endpoint} answered HTTP {code}"),
        )),
        Err(ureq::Error::Transport(t)) => Err(response::transport_error(&t, cfg.timeout)),
    }
}

/// `{api_base}/cgi-bin/{path...}`, built on the URL that configure
/// checked, so the request goes to the host that was judged.
fn endpoint_url(api_base: &str, path: &[&str]) -> Result<url::Url> {
    let mut url = config::parse_api_base(api_base)?;
    url.path_segments_mut()
        .map_err(|()| Error::invalid("api_base cannot be a base URL"))?
        .pop_if_empty()
        .push("cgi-bin")
        .extend(path);
    Ok(url)
}
