//! The Python binding (`import wxtoken`), built by maturin (pyproject.toml)
//! as a crate of its own, so that pyo3 never reaches the core crate and no
//! Python build replaces the C library's libwxtoken.so. Conversions only:
//! every decision is the core's (docs/design.md, "The public faces"). The
//! interpreter is released (`detach`) around every call that can wait on
//! the network, a lock or the store (tickets included).
//!
//! Exceptions are plain Python classes (`wxtoken/_errors.py`), looked up once
//! and raised as `cls(message, errcode, errmsg)`.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFrozenSet, PyInt, PyList, PyMapping, PyString};
use serde_json::{Map, Number, Value};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use wxtoken::{Attempt, Config, Error, ErrorKind, TicketKind};

mod fast;
mod kept;

use kept::FRESH_STRS;

/// `wxtoken._errors.BY_KIND`: the exception class for each `ErrorKind::as_str`.
static ERROR_CLASSES: PyOnceLock<Py<PyDict>> = PyOnceLock::new();

/// A core error as an instance of its `wxtoken.WxTokenError` subclass.
fn to_py_err(py: Python<'_>, err: &Error) -> PyErr {
    let raise = || -> PyResult<PyErr> {
        let classes = ERROR_CLASSES.get_or_try_init(py, || {
            let by_kind = py.import("wxtoken._errors")?.getattr("BY_KIND")?;
            PyResult::Ok(by_kind.cast_into::<PyDict>()?.unbind())
        })?;
        let class = match classes.bind(py).get_item(err.kind().as_str())? {
            Some(class) => class,
            None => py.import("wxtoken._errors")?.getattr("WxTokenError")?,
        };
        let exc = class.call1((err.to_string(), err.errcode(), err.errmsg()))?;
        Ok(PyErr::from_value(exc))
    };
    raise().unwrap_or_else(|failed| failed)
}

fn invalid_argument(py: Python<'_>, msg: String) -> PyErr {
    to_py_err(py, &Error::new(ErrorKind::InvalidArgument, msg))
}

/// `**options` as the JSON object the core parses: str, int and None only.
fn options_map(
    py: Python<'_>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Map<String, Value>> {
    let mut map = Map::new();
    let Some(options) = options else {
        return Ok(map);
    };
    for (key, value) in options.iter() {
        let key: String = key.extract()?;
        let value = if value.is_none() {
            Value::Null
        } else if let Ok(s) = value.cast::<PyString>() {
            Value::String(s.to_cow()?.into_owned())
        } else if value.is_instance_of::<PyInt>() && !value.is_instance_of::<PyBool>() {
            if let Ok(n) = value.extract::<i64>() {
                Value::Number(Number::from(n))
            } else if let Ok(n) = value.extract::<u64>() {
                Value::Number(Number::from(n))
            } else {
                return Err(invalid_argument(
                    py,
                    format!("option '{key}' is out of range"),
                ));
            }
        } else {
            return Err(PyTypeError::new_err(format!(
                "option '{key}' must be a str, an int or None, not {}",
                value.get_type().name()?
            )));
        };
        map.insert(key, value);
    }
    Ok(map)
}

/// Parses the arguments and registers the app; returns its name.
fn configure_app(
    py: Python<'_>,
    appid: Option<PyBackedStr>,
    secret: Option<PyBackedStr>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<String> {
    let options = options_map(py, options)?;
    let (appid, secret) = (appid.as_deref(), secret.as_deref());
    py.detach(|| Config::from_options(appid, secret, &options).and_then(wxtoken::configure))
        .map_err(|e| to_py_err(py, &e))
}

/// A fresh token is the str kept for its epoch, or copied straight into a
/// new str (then kept) with the interpreter held (no detach); only the slow
/// path, which may wait for a refresh, lets other Python threads run.
fn get_token_of<'py>(py: Python<'py>, app: &str) -> PyResult<Bound<'py, PyString>> {
    // The epoch is read before the token: kept under an epoch, a token is
    // that epoch's or newer, and a newer one means the epoch has moved on.
    let epoch = wxtoken::fresh_epoch(app).map(std::num::NonZeroU64::get);
    if let Some(s) = epoch.and_then(|e| FRESH_STRS.get(py, e)) {
        return Ok(s);
    }
    if let Some(token) = wxtoken::with_fresh_token(app, |t| PyString::new(py, t)) {
        if let Some(epoch) = epoch {
            FRESH_STRS.put(py, epoch, &token);
        }
        return Ok(token);
    }
    let token = py
        .detach(|| wxtoken::get(app))
        .map_err(|e| to_py_err(py, &e))?;
    Ok(PyString::new(py, &token))
}

fn invalidate_of<'py>(
    py: Python<'py>,
    app: &str,
    bad_token: &str,
) -> PyResult<Bound<'py, PyString>> {
    let token = py
        .detach(|| wxtoken::invalidate(app, bad_token))
        .map_err(|e| to_py_err(py, &e))?;
    Ok(PyString::new(py, &token))
}

fn status_of<'py>(py: Python<'py>, app: &str) -> PyResult<Bound<'py, PyAny>> {
    let status = py
        .detach(|| wxtoken::status(app))
        .map_err(|e| to_py_err(py, &e))?;
    to_python(py, &status)
}

/// A ticket kind by its name ("jsapi", "wx_card", "agent_config"); any
/// other raises InvalidArgument with the core's message.
fn ticket_kind(py: Python<'_>, kind: &str) -> PyResult<TicketKind> {
    kind.parse::<TicketKind>().map_err(|e| to_py_err(py, &e))
}

/// Tickets are fetched with the token, over the network: the interpreter
/// is released for the whole call.
fn get_ticket_of<'py>(py: Python<'py>, app: &str, kind: &str) -> PyResult<Bound<'py, PyString>> {
    let kind = ticket_kind(py, kind)?;
    let ticket = py
        .detach(|| wxtoken::get_ticket(app, kind))
        .map_err(|e| to_py_err(py, &e))?;
    Ok(PyString::new(py, &ticket))
}

fn invalidate_ticket_of<'py>(
    py: Python<'py>,
    app: &str,
    kind: &str,
    bad_ticket: &str,
) -> PyResult<Bound<'py, PyString>> {
    let kind = ticket_kind(py, kind)?;
    let ticket = py
        .detach(|| wxtoken::invalidate_ticket(app, kind, bad_ticket))
        .map_err(|e| to_py_err(py, &e))?;
    Ok(PyString::new(py, &ticket))
}

fn jssdk_config_of<'py>(py: Python<'py>, app: &str, url: &str) -> PyResult<Bound<'py, PyAny>> {
    let config = py
        .detach(|| wxtoken::jssdk_config(app, url))
        .map_err(|e| to_py_err(py, &e))?;
    to_python(py, &config.to_json())
}

/// A JSON value as the Python value `json.loads` would give.
fn to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any(),
            (None, None) => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let items = items
                .iter()
                .map(|v| to_python(py, v))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Object(fields) => {
            let dict = PyDict::new(py);
            for (k, v) in fields {
                dict.set_item(k, to_python(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// The core's rule (`wxtoken::is_bad_token_errcode_text`): an int (not a
/// bool) or a decimal str among `BAD_TOKEN_ERRCODES`; nothing else counts.
fn is_bad_errcode(errcode: &Bound<'_, PyAny>) -> bool {
    if let Ok(text) = errcode.cast::<PyString>() {
        return text.to_str().is_ok_and(wxtoken::is_bad_token_errcode_text);
    }
    errcode.is_instance_of::<PyInt>()
        && !errcode.is_instance_of::<PyBool>()
        && errcode
            .extract::<i64>()
            .is_ok_and(wxtoken::is_bad_token_errcode)
}

/// A value returned by the business call: a dict or Mapping whose
/// `errcode` is a bad-token code says the token was refused.
fn returned_bad_token(value: &Bound<'_, PyAny>) -> bool {
    let errcode = if let Ok(dict) = value.cast::<PyDict>() {
        dict.get_item("errcode").ok().flatten()
    } else if let Ok(mapping) = value.cast::<PyMapping>() {
        mapping.get_item("errcode").ok()
    } else {
        None
    };
    errcode.is_some_and(|e| is_bad_errcode(&e))
}

/// An exception raised by the business call: an `errcode` attribute that
/// is a bad-token code says the token was refused.
fn raised_bad_token(exc: &Bound<'_, PyAny>) -> bool {
    exc.getattr("errcode").is_ok_and(|e| is_bad_errcode(&e))
}

/// `collections.abc.Awaitable`: what an async business function returns.
static AWAITABLE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// An async fn given to the blocking `call`: its coroutine would be
/// returned unawaited and a 40001 never seen, so it is closed and refused.
fn refuse_awaitable(py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<()> {
    let awaitable = AWAITABLE.get_or_try_init(py, || {
        PyResult::Ok(py.import("collections.abc")?.getattr("Awaitable")?.unbind())
    })?;
    if !v.is_instance(awaitable.bind(py))? {
        return Ok(());
    }
    if v.hasattr("close")? {
        v.call_method0("close")?; // no "coroutine was never awaited" warning
    }
    Err(PyTypeError::new_err(format!(
        "fn returned {} (an async function?): wxtoken.call runs fn synchronously; \
         use `await wxtoken.aio.call(app, fn)`",
        v.get_type().name()?
    )))
}

/// One run of the business call, as the core's `call` wants it.
fn attempt(py: Python<'_>, f: &Py<PyAny>, token: &str) -> Attempt<PyResult<Py<PyAny>>> {
    let returned = f
        .bind(py)
        .call1((token,))
        .and_then(|v| refuse_awaitable(py, &v).map(|()| v));
    match returned {
        Ok(v) if returned_bad_token(&v) => Attempt::BadToken(Ok(v.unbind())),
        Ok(v) => Attempt::Done(Ok(v.unbind())),
        Err(e) if raised_bad_token(e.value(py)) => Attempt::BadToken(Err(e)),
        Err(e) => Attempt::Done(Err(e)),
    }
}

/// `fn(token)`, retried once by the core on a bad-token answer. The
/// interpreter is released while the core gets or refreshes the token and
/// taken back only to run `fn`.
fn call_of(py: Python<'_>, app: &str, f: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    if !f.is_callable() {
        return Err(PyTypeError::new_err(format!(
            "fn must be callable, not {}",
            f.get_type().name()?
        )));
    }
    let f = f.clone().unbind();
    let outcome =
        py.detach(|| wxtoken::call(app, |token| Python::attach(|py| attempt(py, &f, token))));
    match outcome {
        Ok(returned_or_raised) => returned_or_raised,
        Err(e) => Err(to_py_err(py, &e)),
    }
}

/// Registers an app (or replaces its configuration) and returns its name,
/// the key the other functions take. Contacts nobody: the first token is
/// fetched on first use.
///
/// appid, secret: the app's credentials (WeCom: corpid and corpsecret);
/// None takes WXTOKEN_APPID / WXTOKEN_SECRET (or WXTOKEN_SECRET_FILE).
///
/// Keyword options (str, int or None; each left out falls back to its
/// WXTOKEN_* variable, then to the default):
///   name               the key callers pass (default: the appid)
///   platform           "mp" (default) or "wecom"
///   mode               "token" (cgi-bin/token, default) or "stable"
///   api_base           the platform's base URL (http only on loopback)
///   store              "memory", "file" (default), "file:/dir", "redis://..."
///   refresh_margin_s   refresh this long before expiry (0..7200, default 300)
///   timeout_ms         one upstream HTTP call (1..60000, default 5000)
///   wait_ms            how long get_token waits for a refresh (0..600000,
///                      default 10000)
///   key_prefix         prefix of the store's keys
///   redis_ca_file      CA bundle for rediss:// stores
///   daily_fetch_budget token fetches allowed a day (1..2000, default 500)
///
/// Raises InvalidArgument for an unknown option or a bad value.
#[pyfunction]
#[pyo3(signature = (appid = None, secret = None, **options))]
fn configure(
    py: Python<'_>,
    appid: Option<PyBackedStr>,
    secret: Option<PyBackedStr>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<String> {
    configure_app(py, appid, secret, options)
}

/// `wxtoken.get_token` for every call its fast path (fast.rs) does not
/// answer: a token not kept yet, the slow path, bad arguments.
#[pyfunction]
#[pyo3(name = "get_token")]
fn get_token<'py>(app: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyString>> {
    get_token_of(app.py(), app.to_str()?)
}

/// Reports bad_token as refused by a business call (40001, 40014, 42001)
/// and returns a good token: one refresh if bad_token is still current,
/// else the current token with no upstream call.
#[pyfunction]
fn invalidate<'py>(
    py: Python<'py>,
    app: PyBackedStr,
    bad_token: PyBackedStr,
) -> PyResult<Bound<'py, PyString>> {
    invalidate_of(py, &app, &bad_token)
}

/// The app's state in this process as a dict: settings, token timings,
/// refreshing, cooldown, last_error, stats. Never the token or the secret.
#[pyfunction]
fn status<'py>(py: Python<'py>, app: PyBackedStr) -> PyResult<Bound<'py, PyAny>> {
    status_of(py, &app)
}

/// Runs fn(token). When it returns a mapping whose "errcode", or raises an
/// exception whose errcode attribute, is a bad-token errcode (an int or its
/// decimal str, e.g. 40001 or "40001"), the token is invalidated and fn runs
/// once more with the new one; that result goes back as it is.
#[pyfunction]
#[pyo3(name = "call")]
fn call_fn(py: Python<'_>, app: PyBackedStr, r#fn: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    call_of(py, &app, r#fn)
}

/// The app's ticket of `kind` ("jsapi", "wx_card"; WeCom: "jsapi",
/// "agent_config"), with the token's contract: a fresh one from memory, one
/// fetch for every thread and process sharing the store. Raises
/// InvalidArgument for an unknown kind or one the platform lacks.
#[pyfunction]
fn get_ticket<'py>(
    py: Python<'py>,
    app: PyBackedStr,
    kind: PyBackedStr,
) -> PyResult<Bound<'py, PyString>> {
    get_ticket_of(py, &app, &kind)
}

/// Reports bad_ticket as refused (wx.config failed though signed right) and
/// returns a good ticket: one refetch if bad_ticket is still current, else
/// the current ticket with no upstream call.
#[pyfunction]
fn invalidate_ticket<'py>(
    py: Python<'py>,
    app: PyBackedStr,
    kind: PyBackedStr,
    bad_ticket: PyBackedStr,
) -> PyResult<Bound<'py, PyString>> {
    invalidate_ticket_of(py, &app, &kind, &bad_ticket)
}

/// The JS-SDK signature: SHA-1 (lower-case hex) of
/// "jsapi_ticket=T&noncestr=N&timestamp=TS&url=URL", the URL's #fragment
/// dropped. Pure: no app, no network.
#[pyfunction]
fn jssdk_signature(ticket: &str, noncestr: &str, timestamp: u64, url: &str) -> String {
    wxtoken::jssdk_signature(ticket, noncestr, timestamp, url)
}

/// What the page at url passes to wx.config: {"appId", "timestamp",
/// "nonceStr", "signature"}, signed with the app's jsapi_ticket and a fresh
/// nonce.
#[pyfunction]
fn jssdk_config<'py>(
    py: Python<'py>,
    app: PyBackedStr,
    url: PyBackedStr,
) -> PyResult<Bound<'py, PyAny>> {
    jssdk_config_of(py, &app, &url)
}

/// Set while the interpreter may no longer be entered (atexit ran
/// `_set_log_sink(None)`). No counter of calls in progress here: the core's
/// clear waits for one, per fork generation, so a child never waits for its
/// parent's log thread.
static LOG_CLOSED: AtomicBool = AtomicBool::new(true);

/// `logging`'s number for a core level.
fn logging_level(level: wxtoken::LogLevel) -> u32 {
    match level {
        wxtoken::LogLevel::Error => 40,
        wxtoken::LogLevel::Warn => 30,
        wxtoken::LogLevel::Info => 20,
        _ => 10,
    }
}

/// Sends the core's records to `emit(levelno, event, app, message, fields,
/// ts_ms)` (wxtoken/_log.py), called on the core's log thread with the
/// interpreter attached there, never on a refresh thread; None stops it.
/// Both return (detached, so a handler in progress can finish) once the
/// previous sink is not running and never will again: after None nothing
/// enters the interpreter from wxtoken's log thread, so it may shut down.
/// Every level is taken: `emit` asks the `wxtoken` logger before it
/// builds anything.
#[pyfunction]
#[pyo3(signature = (emit, enabled = None))]
fn _set_log_sink(py: Python<'_>, emit: Option<Py<PyAny>>, enabled: Option<Py<PyAny>>) {
    let Some(emit) = emit else {
        LOG_CLOSED.store(true, Ordering::SeqCst);
        py.detach(wxtoken::clear_log_sink);
        return;
    };
    LOG_CLOSED.store(false, Ordering::SeqCst);
    let sink = move |rec: &wxtoken::LogRecord| {
        if LOG_CLOSED.load(Ordering::SeqCst) {
            return;
        }
        // try_attach: never initialise or enter an interpreter that is gone.
        Python::try_attach(|py| {
            let levelno = logging_level(rec.level);
            if let Some(enabled) = &enabled {
                match enabled
                    .bind(py)
                    .call1((levelno,))
                    .and_then(|v| v.is_truthy())
                {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => return e.write_unraisable(py, None),
                }
            }
            let fields = to_python(py, &Value::Object(rec.fields.clone()));
            let args = fields.map(|f| {
                (
                    levelno,
                    rec.event,
                    rec.app.as_str(),
                    rec.message.as_str(),
                    f,
                    rec.at_ms,
                )
            });
            if let Err(e) = args.and_then(|a| emit.bind(py).call1(a)) {
                e.write_unraisable(py, None);
            }
        });
    };
    // Detached: the core waits for the old sink's call, which may be
    // waiting for this thread's GIL.
    py.detach(move || wxtoken::set_log_sink(wxtoken::LogLevel::Debug, sink));
}

/// Waits (with the interpreter released, so the log thread can deliver)
/// until the `wxtoken` logger has every record made so far, at most
/// `timeout` seconds. True when it has.
#[pyfunction]
#[pyo3(signature = (timeout = 1.0))]
fn flush_log(py: Python<'_>, timeout: f64) -> bool {
    let timeout = std::time::Duration::from_secs_f64(timeout.clamp(0.0, 3600.0));
    py.detach(|| wxtoken::flush_log(timeout))
}

/// The token if a fresh one is at hand, else None: never waits (no lock,
/// no network), so wxtoken.aio answers a fresh token on the event loop and
/// sends only the slow path to a thread.
#[pyfunction]
#[pyo3(name = "_fresh_token")]
fn fresh_token<'py>(py: Python<'py>, app: PyBackedStr) -> Option<Bound<'py, PyString>> {
    wxtoken::with_fresh_token(&app, |t| PyString::new(py, t))
}

/// call()'s rule for a returned value, for callers that cannot hand their
/// business call to call() (wxtoken.aio awaits it; wxtoken.wechatpy hooks
/// wechatpy's retry): a mapping whose "errcode" is a bad-token errcode.
#[pyfunction]
#[pyo3(name = "_is_bad_token_result")]
fn is_bad_token_result(value: &Bound<'_, PyAny>) -> bool {
    returned_bad_token(value)
}

/// call()'s rule for a raised exception: an errcode attribute that is a
/// bad-token errcode.
#[pyfunction]
#[pyo3(name = "_is_bad_token_error")]
fn is_bad_token_error(error: &Bound<'_, PyAny>) -> bool {
    raised_bad_token(error)
}

/// The core's default name of a WeCom application (the corp id and a short
/// hash of the secret), for wxtoken.wechatpy.work's client.
#[pyfunction]
#[pyo3(name = "_default_wecom_name")]
fn default_wecom_name(corpid: &str, secret: &str) -> String {
    wxtoken::default_wecom_name(corpid, secret)
}

/// One configured app: Client(appid, secret, **options) takes the
/// arguments of configure() and holds the name it returns.
#[pyclass(frozen, module = "wxtoken", name = "Client")]
struct Client {
    name: String,
    /// The name looked up once: a fresh read skips hashing it.
    app: Option<wxtoken::AppRef>,
}

#[pymethods]
impl Client {
    #[new]
    #[pyo3(signature = (appid = None, secret = None, **options))]
    fn new(
        py: Python<'_>,
        appid: Option<PyBackedStr>,
        secret: Option<PyBackedStr>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let name = configure_app(py, appid, secret, options)?;
        Ok(Client {
            app: wxtoken::AppRef::new(&name),
            name,
        })
    }

    /// The app's name, as the module-level functions take it.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// A token the platform accepts now (see wxtoken.get_token).
    fn get_token<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        let epoch = self.app.and_then(wxtoken::AppRef::fresh_epoch);
        if let Some(s) = epoch.and_then(|e| FRESH_STRS.get(py, e.get())) {
            return Ok(s);
        }
        get_token_of(py, &self.name)
    }

    /// Reports bad_token as refused; returns a good token (see wxtoken.invalidate).
    fn invalidate<'py>(
        &self,
        py: Python<'py>,
        bad_token: PyBackedStr,
    ) -> PyResult<Bound<'py, PyString>> {
        invalidate_of(py, &self.name, &bad_token)
    }

    /// The app's state as a dict, never the token or secret (see wxtoken.status).
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        status_of(py, &self.name)
    }

    /// Runs fn(token), once more on a bad-token errcode (see wxtoken.call).
    fn call(&self, py: Python<'_>, r#fn: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        call_of(py, &self.name, r#fn)
    }

    /// The app's ticket of kind (see wxtoken.get_ticket).
    fn get_ticket<'py>(
        &self,
        py: Python<'py>,
        kind: PyBackedStr,
    ) -> PyResult<Bound<'py, PyString>> {
        get_ticket_of(py, &self.name, &kind)
    }

    /// Reports bad_ticket as refused; returns a good ticket (see wxtoken.invalidate_ticket).
    fn invalidate_ticket<'py>(
        &self,
        py: Python<'py>,
        kind: PyBackedStr,
        bad_ticket: PyBackedStr,
    ) -> PyResult<Bound<'py, PyString>> {
        invalidate_ticket_of(py, &self.name, &kind, &bad_ticket)
    }

    /// The wx.config object for the page at url (see wxtoken.jssdk_config).
    fn jssdk_config<'py>(&self, py: Python<'py>, url: PyBackedStr) -> PyResult<Bound<'py, PyAny>> {
        jssdk_config_of(py, &self.name, &url)
    }

    /// Shows the name only: never the token or the secret.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "wxtoken.Client(name={})",
            PyString::new(py, &self.name).repr()?
        ))
    }
}

/// The interpreter the module was first loaded in (-1: none yet). The
/// module's statics (the kept strs, the error classes, `get_token`'s pyo3
/// function) hold that interpreter's objects, so a second interpreter of
/// the process (a subinterpreter) is refused rather than handed them.
static INTERPRETER: AtomicI64 = AtomicI64::new(-1);

fn only_one_interpreter() -> PyResult<()> {
    // SAFETY: called attached (module initialisation).
    let id = unsafe { pyo3::ffi::PyInterpreterState_GetID(pyo3::ffi::PyInterpreterState_Get()) };
    match INTERPRETER.compare_exchange(-1, id, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => Ok(()),
        Err(first) if first == id => Ok(()),
        Err(_) => Err(pyo3::exceptions::PyImportError::new_err(
            "wxtoken._wxtoken can be loaded in one interpreter per process only",
        )),
    }
}

#[pymodule]
#[pyo3(name = "_wxtoken")]
fn wxtoken_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    only_one_interpreter()?;
    let py = m.py();
    m.add("__version__", wxtoken::VERSION)?;
    m.add(
        "BAD_TOKEN_ERRCODES",
        PyFrozenSet::new(py, wxtoken::BAD_TOKEN_ERRCODES)?,
    )?;
    m.add_function(wrap_pyfunction!(configure, m)?)?;
    fast::add_get_token(m, wrap_pyfunction!(get_token, m)?.into_any())?;
    m.add_function(wrap_pyfunction!(invalidate, m)?)?;
    m.add_function(wrap_pyfunction!(status, m)?)?;
    m.add_function(wrap_pyfunction!(call_fn, m)?)?;
    m.add_function(wrap_pyfunction!(get_ticket, m)?)?;
    m.add_function(wrap_pyfunction!(invalidate_ticket, m)?)?;
    m.add_function(wrap_pyfunction!(jssdk_signature, m)?)?;
    m.add_function(wrap_pyfunction!(jssdk_config, m)?)?;
    m.add_function(wrap_pyfunction!(_set_log_sink, m)?)?;
    m.add_function(wrap_pyfunction!(flush_log, m)?)?;

    m.add_function(wrap_pyfunction!(fresh_token, m)?)?;
    m.add_function(wrap_pyfunction!(is_bad_token_result, m)?)?;
    m.add_function(wrap_pyfunction!(is_bad_token_error, m)?)?;
    m.add_function(wrap_pyfunction!(default_wecom_name, m)?)?;
    m.add_class::<Client>()?;
    Ok(())
}
