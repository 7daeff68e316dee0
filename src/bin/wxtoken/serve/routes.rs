//! The HTTP API (docs/serve.md): routing, authentication, the JSON shapes
//! and the error codes. Token logic is the library's; the blocking calls
//! (a fetch may take seconds) run on tokio's blocking pool, the fresh path
//! answers from memory on the connection's task.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use parking_lot::Mutex;
use serde_json::{json, Value};
use wxtoken::{Error, ErrorKind, TicketKind};

use super::auth;
use super::config::{Client, Limits, ServeConfig};
use super::metrics::Metrics;

pub type Body = Full<Bytes>;

/// What a reload replaces as a whole.
pub struct State {
    pub apps: Vec<AppInfo>,
    pub clients: Vec<Client>,
    pub limits: Limits,
    /// As last loaded: a reload that changes it says it needs a restart.
    pub workers: Option<usize>,
}

pub struct AppInfo {
    pub name: String,
    pub appid: String,
    pub platform: &'static str,
    pub mode: &'static str,
}

impl State {
    pub fn from_config(cfg: ServeConfig) -> State {
        let apps = cfg
            .apps
            .iter()
            .map(|a| AppInfo {
                name: a.name.clone(),
                appid: a.appid.clone(),
                platform: match a.platform {
                    wxtoken::Platform::Mp => "mp",
                    wxtoken::Platform::Wecom => "wecom",
                },
                mode: match a.mode {
                    wxtoken::Mode::Token => "token",
                    wxtoken::Mode::Stable => "stable",
                },
            })
            .collect();
        State {
            apps,
            clients: cfg.clients,
            limits: cfg.limits,
            workers: cfg.workers,
        }
    }

    pub fn app(&self, name: &str) -> Option<&AppInfo> {
        self.apps.iter().find(|a| a.name == name)
    }
}

/// One token as served: the generation is the store's, shared by every
/// instance on one store.
#[derive(Clone)]
struct Served {
    token: Arc<str>,
    /// `{"access_token":"…","generation":N,"expires_in":`: escaped and
    /// formatted once per token, not per request.
    head: Arc<str>,
    generation: u64,
    expires_at_ms: u64,
}

impl Served {
    fn new(token: &str, generation: u64, expires_at_ms: u64) -> Served {
        Served {
            token: Arc::from(token),
            head: Arc::from(format!(
                "{{\"access_token\":{},\"generation\":{generation},\"expires_in\":",
                Value::from(token)
            )),
            generation,
            expires_at_ms,
        }
    }
    /// `{"access_token", "generation", "expires_in"}`: only the seconds
    /// left are written per request.
    fn body(&self) -> String {
        use std::fmt::Write;
        let mut body = String::with_capacity(self.head.len() + 12);
        body.push_str(&self.head);
        let _ = write!(body, "{}}}", self.expires_in());
        body
    }
    fn expires_in(&self) -> u64 {
        self.expires_at_ms.saturating_sub(now_ms()) / 1000
    }
}

/// One ticket as served: `{"ticket", "expires_in", "generation"}`, the
/// generation the store's for that ticket.
fn ticket_body(ticket: &str, generation: u64, expires_at_ms: u64) -> Value {
    json!({
        "ticket": ticket,
        "expires_in": expires_at_ms.saturating_sub(now_ms()) / 1000,
        "generation": generation,
    })
}

/// The ticket's generation and expiry from the library's status, checked
/// to be about that very ticket (a refetch may land between the calls).
fn describe_ticket(
    app: &str,
    kind: TicketKind,
    ticket: wxtoken::Token,
) -> Result<(String, u64, u64), Error> {
    let mut ticket = ticket;
    for _ in 0..5 {
        let status = wxtoken::status(app)?;
        let again = wxtoken::get_ticket(app, kind)?;
        if again.as_str() == ticket.as_str() {
            let t = &status["tickets"][kind.as_str()]["token"];
            return Ok((
                ticket.to_string(),
                t["generation"].as_u64().unwrap_or(0),
                t["expires_at_ms"].as_u64().unwrap_or(0),
            ));
        }
        ticket = again;
    }
    Err(Error::new(
        ErrorKind::Upstream,
        "the ticket changed five times while being described",
    ))
}

/// A report that could refresh: when, which app, which generation.
type Report = (Instant, String, u64);

/// The compatible endpoint's memory of what it served a client for an app.
struct CompatSeen {
    generation: u64,
    /// Requests answered with that generation, and when the first was.
    served: u32,
    first_at: Instant,
}

/// How long a readiness answer is reused: /readyz is anonymous, and a flood
/// of probes must not become a flood of store reads or fetches.
const READY_REUSE: Duration = Duration::from_secs(1);

pub struct Shared {
    pub state: ArcSwap<State>,
    pub metrics: Metrics,
    /// app -> the last token described, so the fresh path needs no status
    /// call. Read by every token request, written once per token: replaced
    /// whole, read without a lock.
    served: ArcSwap<HashMap<String, Served>>,
    /// client -> recent (time, app, generation) reports that could refresh.
    reports: Mutex<HashMap<String, VecDeque<Report>>>,
    compat: Mutex<HashMap<(String, String), CompatSeen>>,
    /// app -> when a compatible-endpoint repeat last refreshed it.
    compat_refreshed: Mutex<HashMap<String, Instant>>,
    /// The last readiness answer; held while one probe runs, so concurrent
    /// probes wait for it instead of starting their own.
    ready: tokio::sync::Mutex<Option<(Instant, bool, Value)>>,
}

impl Shared {
    pub fn new(state: State) -> Shared {
        Shared {
            state: ArcSwap::from_pointee(state),
            metrics: Metrics::default(),
            served: ArcSwap::default(),
            reports: Mutex::default(),
            compat: Mutex::default(),
            compat_refreshed: Mutex::default(),
            ready: tokio::sync::Mutex::default(),
        }
    }

    /// The current token of `app`: from memory when fresh, else through the
    /// library's get (which coalesces concurrent cold starts into one fetch).
    async fn current(&self, app: &str) -> Result<Served, Error> {
        if let Some(s) = self.fresh(app, Served::clone) {
            return Ok(s);
        }
        let name = app.to_string();
        let served = blocking(move || describe(&name, wxtoken::get(&name)?)).await?;
        self.remember(app, &served);
        Ok(served)
    }

    /// `f` of the app's token, if the library holds it fresh and it has
    /// been described: the fresh path, no clone, no lock.
    fn fresh<R>(&self, app: &str, f: impl FnOnce(&Served) -> R) -> Option<R> {
        let served = self.served.load();
        let s = served.get(app)?;
        wxtoken::with_fresh_token(app, |t| **t == *s.token)?.then(|| f(s))
    }

    fn remember(&self, app: &str, served: &Served) {
        self.served.rcu(|all| {
            let mut all = HashMap::clone(all);
            all.insert(app.to_string(), served.clone());
            all
        });
    }

    async fn invalidate(&self, app: &str, bad: String) -> Result<Served, Error> {
        let name = app.to_string();
        let served = blocking(move || describe(&name, wxtoken::invalidate(&name, &bad)?)).await?;
        self.remember(app, &served);
        Ok(served)
    }

    /// Whether `client` may report generation `generation` of `app`: reports
    /// of one generation count once, at most `limit` per minute.
    fn admit_report(&self, client: &str, app: &str, generation: u64, limit: usize) -> bool {
        let now = Instant::now();
        let mut all = self.reports.lock();
        let recent = all.entry(client.to_string()).or_default();
        while recent
            .front()
            .is_some_and(|(t, _, _)| now.duration_since(*t) > Duration::from_secs(60))
        {
            recent.pop_front();
        }
        if recent.iter().any(|(_, a, g)| a == app && *g == generation) {
            return true;
        }
        if recent.len() >= limit {
            return false;
        }
        recent.push_back((now, app.to_string(), generation));
        true
    }
}

/// The token's generation and expiry from the library's status, checked to
/// be about that very token (a refresh may land between the two calls).
fn describe(app: &str, token: wxtoken::Token) -> Result<Served, Error> {
    let mut token = token;
    for _ in 0..5 {
        let status = wxtoken::status(app)?;
        let again = wxtoken::get(app)?;
        if again.as_str() == token.as_str() {
            return Ok(Served::new(
                token.as_str(),
                status["token"]["generation"].as_u64().unwrap_or(0),
                status["token"]["expires_at_ms"].as_u64().unwrap_or(0),
            ));
        }
        token = again;
    }
    Err(Error::new(
        ErrorKind::Upstream,
        "the token changed five times while being described",
    ))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|_| Err(Error::new(ErrorKind::Upstream, "internal error")))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Route<'a> {
    Healthz,
    Readyz,
    Metrics,
    Apps,
    Token(&'a str),
    Invalidate(&'a str),
    Status(&'a str),
    Ticket(&'a str, &'a str),
    TicketInvalidate(&'a str, &'a str),
    Jssdk(&'a str),
    Compat,
}

impl<'a> Route<'a> {
    fn parse(path: &'a str) -> Option<Route<'a>> {
        // At most 6 segments (the longest route), on the stack: no
        // allocation per request.
        let mut segments = [""; 6];
        let mut n = 0;
        for segment in path.split('/').skip(1) {
            *segments.get_mut(n)? = segment;
            n += 1;
        }
        Some(match &segments[..n] {
            ["healthz"] => Route::Healthz,
            ["readyz"] => Route::Readyz,
            ["metrics"] => Route::Metrics,
            ["v1", "apps"] => Route::Apps,
            ["v1", "apps", name, "token"] => Route::Token(name),
            ["v1", "apps", name, "invalidate"] => Route::Invalidate(name),
            ["v1", "apps", name, "status"] => Route::Status(name),
            ["v1", "apps", name, "tickets", kind] => Route::Ticket(name, kind),
            ["v1", "apps", name, "tickets", kind, "invalidate"] => {
                Route::TicketInvalidate(name, kind)
            }
            ["v1", "apps", name, "jssdk"] => Route::Jssdk(name),
            ["cgi-bin", "token"] => Route::Compat,
            _ => return None,
        })
    }

    fn method(self) -> Method {
        match self {
            Route::Invalidate(_) | Route::TicketInvalidate(..) | Route::Jssdk(_) => Method::POST,
            _ => Method::GET,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Route::Healthz => "healthz",
            Route::Readyz => "readyz",
            Route::Metrics => "metrics",
            Route::Apps => "apps",
            Route::Token(_) => "token",
            Route::Invalidate(_) => "invalidate",
            Route::Status(_) => "status",
            Route::Ticket(..) => "ticket",
            Route::TicketInvalidate(..) => "ticket_invalidate",
            Route::Jssdk(_) => "jssdk",
            Route::Compat => "compat",
        }
    }
}

pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let uri = req.uri().clone(); // shares the request's bytes
    let route = Route::parse(uri.path());
    let label = route.map_or("unknown", Route::label);
    let resp = match route {
        None => error(StatusCode::NOT_FOUND, "not_found", "no such route"),
        Some(r) => dispatch(&shared, r, req).await,
    };
    shared.metrics.request(label, resp.status().as_u16());
    Ok(resp)
}

async fn dispatch(shared: &Shared, route: Route<'_>, req: Request<Incoming>) -> Response<Body> {
    let allowed = route.method();
    // HEAD is not served: a token in a HEAD answer's headers is no use.
    if req.method() != allowed {
        let mut resp = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            &format!("use {allowed}"),
        );
        resp.headers_mut().insert(
            ALLOW,
            HeaderValue::from_static(if allowed == Method::POST {
                "POST"
            } else {
                "GET"
            }),
        );
        return resp;
    }
    let state = shared.state.load_full();
    match route {
        Route::Healthz => return ok(json!({"status": "ok"})),
        Route::Readyz => return readyz(shared, &state).await,
        Route::Compat => return compat(shared, &state, req.uri().query()).await,
        _ => {}
    }
    let Some(client) = auth::bearer(req.headers().get(hyper::header::AUTHORIZATION))
        .and_then(|key| auth::client(&state.clients, key))
    else {
        let mut resp = error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or unknown client key (Authorization: Bearer KEY)",
        );
        resp.headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return resp;
    };
    let app = match route {
        Route::Metrics => {
            // Only the apps this client may use; a status call per app may
            // read the store (a Redis round trip): off the async workers.
            let names: Vec<String> = state
                .apps
                .iter()
                .filter(|a| client.may_use(&a.name))
                .map(|a| a.name.clone())
                .collect();
            let text = tokio::task::block_in_place(|| shared.metrics.render(&names));
            return respond(StatusCode::OK, "text/plain; version=0.0.4", text.into());
        }
        Route::Apps => {
            let apps: Vec<Value> = state
                .apps
                .iter()
                .filter(|a| client.may_use(&a.name))
                .map(|a| json!({"name": a.name, "appid": a.appid, "platform": a.platform, "mode": a.mode}))
                .collect();
            return ok(json!({ "apps": apps }));
        }
        Route::Token(a)
        | Route::Invalidate(a)
        | Route::Status(a)
        | Route::Ticket(a, _)
        | Route::TicketInvalidate(a, _)
        | Route::Jssdk(a) => a,
        _ => unreachable!("handled above"),
    };
    // Forbidden before unknown: a restricted client learns no app names.
    if !client.may_use(app) {
        return error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this client may not use that app",
        );
    }
    if state.app(app).is_none() {
        return error(StatusCode::NOT_FOUND, "unknown_app", "no app of that name");
    }
    let kind = match route {
        Route::Ticket(_, k) | Route::TicketInvalidate(_, k) => match k.parse::<TicketKind>() {
            Ok(kind) => Some(kind),
            Err(_) => {
                return error(
                    StatusCode::NOT_FOUND,
                    "unknown_ticket_kind",
                    "no ticket of that kind: jsapi, wx_card or agent_config",
                )
            }
        },
        _ => None,
    };
    match route {
        Route::Token(_) => match shared.fresh(app, Served::body) {
            Some(body) => ok_text(body),
            None => match shared.current(app).await {
                Ok(s) => ok_text(s.body()),
                Err(e) => token_error(shared, app, &e),
            },
        },
        // Status reads the store's shared state: off the async workers.
        Route::Status(_) => match tokio::task::block_in_place(|| wxtoken::status(app)) {
            Ok(s) => ok(s),
            Err(e) => token_error(shared, app, &e),
        },
        Route::Invalidate(_) => {
            let client_name = client.name.clone();
            invalidate(shared, &state.limits, &client_name, app, req).await
        }
        Route::Ticket(..) => {
            let (name, kind) = (app.to_string(), kind.expect("parsed above"));
            let got =
                blocking(move || describe_ticket(&name, kind, wxtoken::get_ticket(&name, kind)?));
            match got.await {
                Ok((t, generation, expires_at_ms)) => {
                    ok(ticket_body(&t, generation, expires_at_ms))
                }
                Err(e) => token_error(shared, app, &e),
            }
        }
        Route::TicketInvalidate(..) => {
            let client_name = client.name.clone();
            let kind = kind.expect("parsed above");
            invalidate_ticket(shared, &state.limits, &client_name, app, kind, req).await
        }
        Route::Jssdk(_) => jssdk(shared, &state.limits, app, req).await,
        _ => unreachable!("handled above"),
    }
}

/// An answer that ends a request early (boxed: a response is large).
type Refusal = Box<Response<Body>>;

/// The body of a POST as JSON: at most `max_body_bytes` (413), within the
/// header timeout (408), JSON (400 malformed_json).
async fn json_body(limits: &Limits, req: Request<Incoming>) -> Result<Value, Refusal> {
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &format!("the body is limited to {} bytes", limits.max_body_bytes),
        )
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return Err(Box::new(too_large()));
    }
    // A body dribbled in is bounded like the headers (slowloris).
    let read = Limited::new(req.into_body(), limits.max_body_bytes).collect();
    let body =
        match tokio::time::timeout(Duration::from_millis(limits.header_timeout_ms), read).await {
            Err(_) => {
                return Err(Box::new(error(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    "the body did not arrive in time",
                )))
            }
            Ok(Ok(b)) => b.to_bytes(),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(Box::new(too_large()))
            }
            Ok(Err(_)) => {
                return Err(Box::new(error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "the body broke off",
                )))
            }
        };
    serde_json::from_slice::<Value>(&body).map_err(|_| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the body is not JSON",
        ))
    })
}

/// A non-empty string field of a JSON body, else 400 bad_request.
fn string_field(body: &Value, field: &str) -> Result<String, Refusal> {
    match body.get(field).and_then(Value::as_str) {
        Some(t) if !t.is_empty() => Ok(t.to_string()),
        _ => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            &format!("the body must be {{\"{field}\": \"...\"}}"),
        ))),
    }
}

/// POST /v1/apps/{name}/tickets/{kind}/invalidate: as the token's, a
/// report of the current ticket is rate-limited (one per generation per
/// client, `invalidations_per_minute` in all); an old one costs nothing.
async fn invalidate_ticket(
    shared: &Shared,
    limits: &Limits,
    client: &str,
    app: &str,
    kind: TicketKind,
    req: Request<Incoming>,
) -> Response<Body> {
    let bad = match json_body(limits, req)
        .await
        .and_then(|v| string_field(&v, "bad_ticket"))
    {
        Ok(bad) => bad,
        Err(resp) => return *resp,
    };
    let name = app.to_string();
    let current = blocking(move || describe_ticket(&name, kind, wxtoken::get_ticket(&name, kind)?));
    let (ticket, generation, expires_at_ms) = match current.await {
        Ok(c) => c,
        Err(e) => return token_error(shared, app, &e),
    };
    if ticket != bad {
        return ok(ticket_body(&ticket, generation, expires_at_ms));
    }
    // The ticket's generations are its own: keyed apart from the token's.
    let key = format!("{app}#{}", kind.as_str());
    if !shared.admit_report(client, &key, generation, limits.invalidations_per_minute) {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many invalidations from this client; try again in a minute",
        );
    }
    let name = app.to_string();
    let fresh = blocking(move || {
        let t = wxtoken::invalidate_ticket(&name, kind, &bad)?;
        describe_ticket(&name, kind, t)
    });
    match fresh.await {
        Ok((t, generation, expires_at_ms)) => ok(ticket_body(&t, generation, expires_at_ms)),
        Err(e) => token_error(shared, app, &e),
    }
}

/// POST /v1/apps/{name}/jssdk with {"url"}: the wx.config object.
async fn jssdk(
    shared: &Shared,
    limits: &Limits,
    app: &str,
    req: Request<Incoming>,
) -> Response<Body> {
    let url = match json_body(limits, req)
        .await
        .and_then(|v| string_field(&v, "url"))
    {
        Ok(url) => url,
        Err(resp) => return *resp,
    };
    let name = app.to_string();
    match blocking(move || wxtoken::jssdk_config(&name, &url)).await {
        Ok(c) => ok(c.to_json()),
        Err(e) => token_error(shared, app, &e),
    }
}

async fn invalidate(
    shared: &Shared,
    limits: &Limits,
    client: &str,
    app: &str,
    req: Request<Incoming>,
) -> Response<Body> {
    let bad = match json_body(limits, req)
        .await
        .and_then(|v| string_field(&v, "bad_token"))
    {
        Ok(bad) => bad,
        Err(resp) => return *resp,
    };
    shared.metrics.report(app, "api");
    // Only a report of the current token can cause a fetch: those are the
    // ones rate-limited (one per generation per client).
    let current = match shared.current(app).await {
        Ok(s) => s,
        Err(e) => return token_error(shared, app, &e),
    };
    if *current.token != *bad {
        return ok_text(current.body());
    }
    if !shared.admit_report(
        client,
        app,
        current.generation,
        limits.invalidations_per_minute,
    ) {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many invalidations from this client; try again in a minute",
        );
    }
    match shared.invalidate(app, bad).await {
        Ok(s) => ok_text(s.body()),
        Err(e) => token_error(shared, app, &e),
    }
}

/// GET /cgi-bin/token as the platform answers it, the client key in place of
/// the secret. An SDK that gets 40001 from a business call asks for a new
/// token without saying which one failed: the second request by one client
/// for a generation, within `compat_retry_window_s` of the first, is taken
/// as that report. Such repeats refresh an app at most once per window,
/// however many clients make them: a fleet of SDKs that each retry once
/// still costs one fetch.
async fn compat(shared: &Shared, state: &State, query: Option<&str>) -> Response<Body> {
    let wechat_error =
        |errcode: i64, errmsg: &str| ok(json!({"errcode": errcode, "errmsg": errmsg}));
    let mut params: HashMap<String, String> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        params.entry(k.into_owned()).or_insert(v.into_owned());
    }
    let param = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
    if param("grant_type") != "client_credential" {
        return wechat_error(40002, "invalid grant_type");
    }
    let Some(client) = auth::client(&state.clients, param("secret")) else {
        return wechat_error(40125, "invalid appsecret");
    };
    let Some(app) = state
        .apps
        .iter()
        .find(|a| a.appid == param("appid") && client.may_use(&a.name))
    else {
        return wechat_error(40013, "invalid appid");
    };
    let app = app.name.as_str();
    let fail = |e: &Error| {
        shared.metrics.failure(app, e.kind());
        wechat_error(-1, &format!("system error: {}", e.kind().as_str()))
    };
    let mut served = match shared.current(app).await {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let window = Duration::from_secs(state.limits.compat_retry_window_s);
    let key = (client.name.clone(), app.to_string());
    // Only the second request for a generation is a report: a client that
    // asks on every call (no cache) reports nothing after that.
    let second = shared.compat.lock().get(&key).is_some_and(|seen| {
        seen.generation == served.generation && seen.served == 1 && seen.first_at.elapsed() < window
    });
    let retry = second && {
        let mut refreshed = shared.compat_refreshed.lock();
        let allowed = refreshed.get(app).is_none_or(|t| t.elapsed() >= window);
        if allowed {
            refreshed.insert(app.to_string(), Instant::now());
        }
        allowed
    };
    if retry {
        shared.metrics.report(app, "compat");
        served = match shared.invalidate(app, served.token.to_string()).await {
            Ok(s) => s,
            Err(e) => return fail(&e),
        };
    }
    let mut seen = shared.compat.lock();
    let entry = seen.entry(key).or_insert(CompatSeen {
        generation: served.generation,
        served: 0,
        first_at: Instant::now(),
    });
    if entry.generation != served.generation {
        entry.generation = served.generation;
        entry.served = 0;
        entry.first_at = Instant::now();
    }
    entry.served = entry.served.saturating_add(1);
    drop(seen);
    ok(json!({"access_token": &*served.token, "expires_in": served.expires_in()}))
}

/// Ready when every app has a token: from memory where one is fresh, else
/// through the library (store reachable, token loadable). One probe at a
/// time, its answer reused for a second.
async fn readyz(shared: &Shared, state: &State) -> Response<Body> {
    let mut last = shared.ready.lock().await;
    let (ready, body) = match &*last {
        Some((at, ready, body)) if at.elapsed() < READY_REUSE => (*ready, body.clone()),
        _ => {
            let mut loaded = 0;
            for app in &state.apps {
                if wxtoken::with_fresh_token(&app.name, |_| ()).is_some() {
                    loaded += 1;
                    continue;
                }
                let name = app.name.clone();
                if blocking(move || wxtoken::get(&name)).await.is_ok() {
                    loaded += 1;
                }
            }
            let ready = loaded == state.apps.len();
            let body = json!({"ready": ready, "apps": state.apps.len(), "apps_ready": loaded});
            *last = Some((Instant::now(), ready, body.clone()));
            (ready, body)
        }
    };
    drop(last);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    respond(status, "application/json", body.to_string().into())
}

fn token_error(shared: &Shared, app: &str, e: &Error) -> Response<Body> {
    shared.metrics.failure(app, e.kind());
    let status = match e.kind() {
        ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
        ErrorKind::NotConfigured => StatusCode::NOT_FOUND,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::Store => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    };
    let body = json!({"error": {
        "code": e.kind().as_str(),
        "message": e.errmsg(),
        "errcode": e.errcode(),
    }});
    respond(status, "application/json", body.to_string().into())
}

fn ok(body: Value) -> Response<Body> {
    ok_text(body.to_string())
}

fn ok_text(json: String) -> Response<Body> {
    respond(StatusCode::OK, "application/json", json.into())
}

pub fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = json!({"error": {"code": code, "message": message}});
    respond(status, "application/json", body.to_string().into())
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::Route;

    #[test]
    fn routes_parse_without_allocating_and_longer_paths_are_unknown() {
        assert!(Route::parse("/v1/apps/shop/token") == Some(Route::Token("shop")));
        assert!(
            Route::parse("/v1/apps/shop/tickets/jsapi/invalidate")
                == Some(Route::TicketInvalidate("shop", "jsapi"))
        );
        assert!(Route::parse("/v1/apps/shop/tickets/jsapi/invalidate/x").is_none());
        assert!(Route::parse("/v1/apps/shop/token/").is_none());
        assert!(Route::parse("").is_none());
    }
}
