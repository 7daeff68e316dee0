//! Maps paths to state calls and state answers to the platform's JSON.

use super::fault::Fault;
use super::http::{ReadError, Request, Response};
use super::rng;
use super::server::Shared;
use super::state::{ApiError, Creds, Endpoint, Issued};
use serde_json::{json, Value};

/// Every path the simulator knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Token,
    StableToken,
    GetToken,
    Check,
    ClearQuota,
    ClearQuotaV2,
    AdminStats,
    AdminResetStats,
    AdminFault,
    AdminSupersede,
    AdminConfig,
    AdminNewDay,
    NotFound,
}

impl Route {
    pub(crate) fn of(path: &str) -> Route {
        match path {
            "/cgi-bin/token" => Route::Token,
            "/cgi-bin/stable_token" => Route::StableToken,
            "/cgi-bin/gettoken" => Route::GetToken,
            "/cgi-bin/get_api_domain_ip" | "/cgi-bin/getcallbackip" => Route::Check,
            "/cgi-bin/clear_quota" => Route::ClearQuota,
            "/cgi-bin/clear_quota/v2" => Route::ClearQuotaV2,
            "/mock/stats" => Route::AdminStats,
            "/mock/reset_stats" => Route::AdminResetStats,
            "/mock/fault" => Route::AdminFault,
            "/mock/supersede" => Route::AdminSupersede,
            "/mock/config" => Route::AdminConfig,
            "/mock/new_day" => Route::AdminNewDay,
            _ => Route::NotFound,
        }
    }

    /// The token endpoint behind this route: these are counted and can be faulted.
    pub(crate) fn endpoint(self) -> Option<Endpoint> {
        match self {
            Route::Token => Some(Endpoint::Token),
            Route::StableToken => Some(Endpoint::Stable),
            Route::GetToken => Some(Endpoint::GetToken),
            _ => None,
        }
    }
}

/// Counts a token call under the appid (corpid) it names, before any fault applies.
pub(crate) fn count_token_call(sh: &Shared, req: &Request, ep: Endpoint) {
    let body_appid = match ep {
        Endpoint::Stable => req.json_body().and_then(|b| str_field(&b, "appid")),
        _ => None,
    };
    let param = if ep == Endpoint::GetToken {
        "corpid"
    } else {
        "appid"
    };
    let appid = body_appid.or_else(|| req.query(param).map(str::to_owned));
    sh.state
        .lock()
        .count_call(ep, appid.as_deref().unwrap_or(""));
}

pub(crate) fn handle(sh: &Shared, req: &Request, route: Route) -> Response {
    match route {
        Route::Token => classic(sh, req),
        Route::StableToken => stable(sh, req),
        Route::GetToken => wecom(sh, req),
        Route::Check => check(sh, req),
        Route::ClearQuota => clear_quota(sh, req),
        Route::ClearQuotaV2 => clear_quota_v2(sh, req),
        Route::AdminStats => Response::json(200, &sh.stats()),
        Route::AdminResetStats => {
            sh.reset_stats();
            ok()
        }
        Route::AdminFault => admin_fault(sh, req),
        Route::AdminSupersede => admin_supersede(sh, req),
        Route::AdminConfig => admin_config(sh, req),
        Route::AdminNewDay => {
            sh.state.lock().new_day();
            ok()
        }
        Route::NotFound => Response::json(404, &error_json(40066, "invalid url")),
    }
}

/// The answer to a request whose body could not be read (hyper answers a bad head).
pub(crate) fn bad_request(e: &ReadError) -> Response {
    match e {
        ReadError::TooLarge => Response::json(413, &error_json(40097, "request too large")),
        ReadError::Malformed(why) => Response::json(400, &error_json(40097, why)),
    }
}

/// `{"errcode":N,"errmsg":"MSG rid: ..."}`, the platform's error shape.
fn error_json(code: i64, msg: &str) -> Value {
    json!({"errcode": code, "errmsg": format!("{msg} rid: {}", rng::rid())})
}

fn api_error(e: ApiError) -> Response {
    Response::json(200, &error_json(e.code, &e.msg))
}

fn ok() -> Response {
    Response::json(200, &json!({"errcode": 0, "errmsg": "ok"}))
}

fn token_reply(r: Result<Issued, ApiError>, wecom: bool) -> Response {
    match r {
        Ok(i) => {
            let mut v = json!({"access_token": &*i.token, "expires_in": i.expires_in});
            if wecom {
                v["errcode"] = json!(0);
                v["errmsg"] = json!("ok");
            }
            Response::json(200, &v)
        }
        Err(e) => api_error(e),
    }
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn classic(sh: &Shared, req: &Request) -> Response {
    let creds = Creds {
        grant_type: req.query("grant_type"),
        appid: req.query("appid"),
        secret: req.query("secret"),
    };
    let now = sh.now_ms();
    token_reply(sh.state.lock().classic_token(now, &creds, req.peer), false)
}

/// POST with a JSON body only: a form or empty body reads as "appid missing" (41002).
fn stable(sh: &Shared, req: &Request) -> Response {
    if req.method != "POST" {
        return api_error(ApiError {
            code: 43002,
            msg: "require POST method".into(),
        });
    }
    let Some(body) = req.json_body() else {
        return api_error(ApiError {
            code: 41002,
            msg: "appid missing".into(),
        });
    };
    let (grant_type, appid, secret) = (
        str_field(&body, "grant_type"),
        str_field(&body, "appid"),
        str_field(&body, "secret"),
    );
    let creds = Creds {
        grant_type: grant_type.as_deref(),
        appid: appid.as_deref(),
        secret: secret.as_deref(),
    };
    let force = body.get("force_refresh").and_then(Value::as_bool) == Some(true);
    let now = sh.now_ms();
    let r = sh.state.lock().stable_token(now, &creds, force, req.peer);
    token_reply(r, false)
}

fn wecom(sh: &Shared, req: &Request) -> Response {
    let now = sh.now_ms();
    let (corpid, secret) = (req.query("corpid"), req.query("corpsecret"));
    let r = sh.state.lock().wecom_token(now, corpid, secret, req.peer);
    token_reply(r, true)
}

fn check(sh: &Shared, req: &Request) -> Response {
    let now = sh.now_ms();
    match sh.state.lock().check(now, req.query("access_token")) {
        Ok(()) => Response::json(200, &json!({"ip_list": ["127.0.0.1"]})),
        Err(e) => api_error(e),
    }
}

fn clear_quota(sh: &Shared, req: &Request) -> Response {
    let appid = req.json_body().and_then(|b| str_field(&b, "appid"));
    let now = sh.now_ms();
    let r = sh
        .state
        .lock()
        .clear_quota(now, req.query("access_token"), appid.as_deref());
    done(r)
}

/// appid and appsecret from the JSON body or the query: the documentation says both.
fn clear_quota_v2(sh: &Shared, req: &Request) -> Response {
    let body = req.json_body().unwrap_or(Value::Null);
    let field = |k: &str| str_field(&body, k).or_else(|| req.query(k).map(str::to_owned));
    let (appid, secret) = (field("appid"), field("appsecret"));
    let now = sh.now_ms();
    let r = sh
        .state
        .lock()
        .clear_quota_v2(now, appid.as_deref(), secret.as_deref());
    done(r)
}

fn done(r: Result<(), ApiError>) -> Response {
    r.map_or_else(api_error, |()| ok())
}

fn admin_error(msg: &str) -> Response {
    Response::json(400, &json!({"errcode": 40097, "errmsg": msg}))
}

fn admin_fault(sh: &Shared, req: &Request) -> Response {
    let body = req.json_body().unwrap_or(Value::Null);
    match Fault::from_json(&body) {
        Ok((fault, count)) => {
            sh.fault.lock().set(fault, count);
            ok()
        }
        Err(msg) => admin_error(&msg),
    }
}

fn admin_supersede(sh: &Shared, req: &Request) -> Response {
    let appid = req
        .json_body()
        .and_then(|b| str_field(&b, "appid"))
        .or_else(|| req.query("appid").map(str::to_owned));
    let Some(appid) = appid else {
        return admin_error("\"appid\" is required");
    };
    let now = sh.now_ms();
    if sh.state.lock().supersede(now, &appid) {
        ok()
    } else {
        api_error(ApiError {
            code: 40013,
            msg: "invalid appid".into(),
        })
    }
}

fn admin_config(sh: &Shared, req: &Request) -> Response {
    let body = req.json_body().unwrap_or(Value::Null);
    match sh.state.lock().apply_config(&body) {
        Ok(cfg) => Response::json(200, &json!({"errcode": 0, "errmsg": "ok", "config": cfg})),
        Err(msg) => admin_error(&msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_exact_path() {
        assert_eq!(Route::of("/cgi-bin/token"), Route::Token);
        assert_eq!(Route::of("/cgi-bin/getcallbackip"), Route::Check);
        assert_eq!(Route::of("/cgi-bin/clear_quota/v2"), Route::ClearQuotaV2);
        assert_eq!(Route::of("/cgi-bin/token/"), Route::NotFound);
        assert_eq!(Route::of("/mock/stats").endpoint(), None);
        assert_eq!(
            Route::of("/cgi-bin/gettoken").endpoint(),
            Some(Endpoint::GetToken)
        );
    }

    #[test]
    fn errors_carry_a_rid() {
        let v = error_json(40013, "invalid appid");
        let msg = v["errmsg"].as_str().unwrap();
        assert!(msg.starts_with("invalid appid rid: "), "{msg}");
    }
}
