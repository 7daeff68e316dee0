//! The C ABI (`include/wxtoken.h`, generated from this module by build.rs).
//!
//! Conversions only: C strings in, caller buffers out, errors to statuses and
//! a per-thread last error. All token logic lives in the core. Every exported
//! function runs inside the panic boundary of `guard.rs`; every pointer is
//! checked for NULL and every string for UTF-8 before the core is called.

mod buffer;
mod cstr;
mod guard;
mod last_error;
mod log;
mod status;

use std::os::raw::{c_char, c_int, c_void};

pub use log::wxtoken_log_level;
pub use status::wxtoken_status;

use buffer::OutBuf;
use cstr::{arg_str, arg_str_or};

/// Registers (or re-registers) an app, so that `wxtoken_get` and the others
/// accept its name: the `name` option if given, else the appid.
///
/// - `appid`, `secret`: the app's credentials (WeCom: the corpid and the
///   application's corpsecret). Neither may be NULL. An empty string means
///   "take it from the environment": `WXTOKEN_APPID`, and `WXTOKEN_SECRET`
///   (or the file named by `WXTOKEN_SECRET_FILE`).
/// - `options_json`: a JSON object with any of `name`, `platform` ("mp",
///   "wecom"), `mode` ("token", "stable"), `api_base`, `store` ("memory",
///   "file", "file:/dir", "redis://..."), `refresh_margin_s` (0 to 7200),
///   `timeout_ms` (1 to 60000), `wait_ms` (0 to 600000), `key_prefix`,
///   `redis_ca_file`, `daily_fetch_budget` (1 to 2000). NULL or "" means
///   no options; options not given fall back to their `WXTOKEN_*`
///   environment variable, then to the default. Unknown or mistyped keys, a
///   key given twice, numbers out of range, control characters in strings
///   and malformed JSON give `WXTOKEN_INVALID_ARGUMENT`.
///
/// Does not contact the platform: the first token is fetched on first use.
/// Re-configuring an app swaps its settings in; calls in flight finish on
/// the old ones.
///
/// Thread safety: safe from any thread. Ownership: the strings are only read
/// during the call; the library keeps copies, never the pointers. The secret
/// never appears in any message, record or log line.
///
/// # Safety
/// Each pointer is NULL (where allowed) or a NUL-terminated string valid for
/// the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn wxtoken_configure(
    appid: *const c_char,
    secret: *const c_char,
    options_json: *const c_char,
) -> wxtoken_status {
    guard::status("wxtoken_configure", || {
        // SAFETY: the caller's promise, passed on.
        unsafe { configure(appid, secret, options_json) }.map(drop)
    })
}

/// `wxtoken_configure`, and then copies the app's name (the one to pass to
/// `wxtoken_get`: the `name` option, else `WXTOKEN_NAME`, else the appid)
/// into `buf` with the buffer rules of `wxtoken_get`. Bindings use it so
/// that only the library decides names.
///
/// On `WXTOKEN_BUFFER_TOO_SMALL` the configuration has still taken effect.
///
/// Thread safety and ownership as for `wxtoken_configure` and `wxtoken_get`.
///
/// # Safety
/// As for `wxtoken_configure`, and `buf`/`len` as for `wxtoken_get`.
#[no_mangle]
pub unsafe extern "C" fn wxtoken_configure_named(
    appid: *const c_char,
    secret: *const c_char,
    options_json: *const c_char,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> wxtoken_status {
    guard::status("wxtoken_configure_named", || {
        let out = OutBuf::with_len(buf, cap, len)?;
        // SAFETY: the caller's promise, passed on.
        let name = unsafe { configure(appid, secret, options_json) }?;
        // SAFETY: the caller promises `cap` writable bytes at `buf` and a writable `len`.
        unsafe { out.write(&name, "app name") }
    })
}

/// The body both configure functions share; returns the app's name.
///
/// # Safety
/// Each pointer is NULL or a NUL-terminated string valid for the call.
unsafe fn configure(
    appid: *const c_char,
    secret: *const c_char,
    options_json: *const c_char,
) -> Result<String, last_error::Failure> {
    // SAFETY: the caller promises NULL or NUL-terminated strings for each.
    let (appid, secret, options) = unsafe {
        (
            arg_str(appid, "appid")?,
            arg_str(secret, "secret")?,
            arg_str_or(options_json, "options_json", "")?,
        )
    };
    let cfg = crate::Config::from_json(non_empty(appid), non_empty(secret), options)?;
    Ok(crate::configure(cfg)?)
}

/// Copies a token the platform accepts now into `buf`, with a NUL after it,
/// and writes its length (in bytes, without the NUL) to `*len`.
///
/// - `app`: the app's name (see `wxtoken_configure`). An app not configured
///   in this process is configured from the `WXTOKEN_*` environment if that
///   names it; otherwise `WXTOKEN_NOT_CONFIGURED`.
/// - `buf`, `cap`: the caller's buffer and its size in bytes. When
///   `cap < token length + 1` nothing is copied, `*len` still receives the
///   token length, `buf[0]` is set to NUL (if `cap > 0`), and the result is
///   `WXTOKEN_BUFFER_TOO_SMALL`. `buf` may be NULL only when `cap` is 0: a
///   size query. The platform asks callers to reserve at least 512 bytes for
///   a token; a fixed buffer of 1024 bytes, or a size query first, is safe.
/// - `len`: must not be NULL.
/// - `app` must not point into `buf` (the token is written while `app` is read).
///
/// Blocking: a fresh token is copied with no lock, system call or allocation.
/// With no valid token the call waits for the one refresh in flight, at most
/// the app's `wait_ms` (then `WXTOKEN_TIMEOUT`); a token inside the refresh
/// margin is returned at once while one refresh runs in the background.
///
/// Thread safety: safe from any thread; concurrent callers share one refresh.
/// Ownership: `buf` and `len` are caller-owned; the library keeps no pointer
/// to them after the call returns.
///
/// # Safety
/// `app` is NULL or a NUL-terminated string; `buf` is NULL or points to `cap`
/// writable bytes; `len` is NULL or points to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn wxtoken_get(
    app: *const c_char,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> wxtoken_status {
    guard::status("wxtoken_get", || {
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let app = unsafe { arg_str(app, "app")? };
        let out = OutBuf::with_len(buf, cap, len)?;
        // SAFETY: the caller promises `cap` writable bytes at `buf` and a
        // writable `len`; the token is the core's memory, not the caller's.
        crate::with_token(app, |token| unsafe { out.write(token, "token") })?
    })
}

/// A nonzero number naming `app`'s current token while it is fresh in this
/// process: the same number, the same token. 0 when no fresh token is at
/// hand without `wxtoken_get`'s slow path, when the process cannot tell yet
/// (then every call is 0), and for a NULL, non-UTF-8 or unknown `app`.
///
/// For bindings that keep their own copy of the token (a PHP string): read
/// the number *before* copying the token with `wxtoken_get`, keep the copy
/// under it, and hand the copy out while this returns the same number. A
/// copy made after the number was read is that number's token or a newer
/// one, and a newer one means the number has already moved on.
///
/// Never blocks, locks or allocates. Thread safety: safe from any thread.
///
/// # Safety
/// `app` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn wxtoken_fresh_epoch(app: *const c_char) -> u64 {
    guard::value(0, || {
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let Ok(app) = (unsafe { arg_str(app, "app") }) else {
            return 0;
        };
        crate::fresh_epoch(app).map_or(0, std::num::NonZeroU64::get)
    })
}

/// `app`'s fresh word, for bindings whose calls cost far more than a memory
/// read (PHP's FFI: a call costs several times a read of `$word[0]`). While
/// the word reads `epoch << 1 | 1`, `epoch` is what `wxtoken_fresh_epoch`
/// answers; any other value means "call": the token is not fresh, or this
/// process cannot tell yet. Keep a copy of the token under the word's value
/// as under the epoch (read the word before `wxtoken_get`), and hand it out
/// while the word reads the same. In a forked child every inherited word is
/// cleared, so a copy kept in the parent never matches there.
///
/// The pointer stays valid for the life of the process, re-configuring
/// included. Read it as one aligned 64-bit load, never write it:
/// `__atomic_load_n(word, __ATOMIC_ACQUIRE)` in C; PHP's `$word[0]` is a
/// plain load, which is enough because `wxtoken_get` loads the same word
/// with acquire ordering before it copies. 64-bit values: a 32-bit PHP int
/// cannot hold one. NULL for a NULL, non-UTF-8 or never configured `app`:
/// ask again after configuring it.
///
/// Never blocks, locks or allocates. Thread safety: safe from any thread.
///
/// # Safety
/// `app` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn wxtoken_fresh_word(app: *const c_char) -> *const u64 {
    guard::value(std::ptr::null(), || {
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let Ok(app) = (unsafe { arg_str(app, "app") }) else {
            return std::ptr::null();
        };
        crate::registry::fresh_word_ptr(app).unwrap_or(std::ptr::null())
    })
}

/// Reports that a business call answered a bad-token errcode (40001, 40014,
/// 42001; see `wxtoken_is_bad_token_errcode`) for `bad_token`, and copies a
/// good token into `buf` as `wxtoken_get` does.
///
/// If `bad_token` is still the current token, exactly one refresh runs,
/// however many threads, processes or hosts report it at once; if the token
/// has already changed, the current one is copied with no upstream call.
/// An empty `bad_token` is `WXTOKEN_INVALID_ARGUMENT`.
///
/// Buffer rules as for `wxtoken_get`. `buf` may be the very buffer that holds
/// `bad_token` (`bad_token` is read before `buf` is written), so a caller can
/// replace its token in place. On `WXTOKEN_BUFFER_TOO_SMALL` the
/// invalidation has still taken effect: fetch the token with `wxtoken_get`
/// (or repeat this call, which is idempotent) using a larger buffer.
///
/// Blocking: waits for the refresh, at most the app's `wait_ms`.
/// Thread safety: safe from any thread. Ownership: the strings are only read
/// during the call; `buf` and `len` are caller-owned and not kept.
///
/// # Safety
/// As for `wxtoken_get`; `bad_token` is NULL or a NUL-terminated string,
/// possibly inside `buf`.
#[no_mangle]
pub unsafe extern "C" fn wxtoken_invalidate(
    app: *const c_char,
    bad_token: *const c_char,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> wxtoken_status {
    guard::status("wxtoken_invalidate", || {
        // SAFETY: the caller promises NULL or NUL-terminated strings.
        let (app, bad) = unsafe { (arg_str(app, "app")?, arg_str(bad_token, "bad_token")?) };
        let out = OutBuf::with_len(buf, cap, len)?;
        let token = crate::invalidate(app, bad)?;
        // `bad` is not used past this point: `buf` may hold it (in-place use).
        // SAFETY: the caller promises `cap` writable bytes at `buf` and a
        // writable `len`; `token` is the core's memory.
        unsafe { out.write(&token, "token") }
    })
}

/// Copies the app's state as a JSON object text into `buf` (NUL-terminated;
/// length without the NUL in `*len`): token timing (never the token itself),
/// whether a refresh is running, the last refresh error, and this process's
/// counters. Buffer rules as for `wxtoken_get`; 4096 bytes is ample.
///
/// Does not block on the network. Thread safety: safe from any thread.
/// Ownership: `buf` and `len` are caller-owned and not kept.
///
/// # Safety
/// As for `wxtoken_get`.
#[no_mangle]
pub unsafe extern "C" fn wxtoken_status_json(
    app: *const c_char,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> wxtoken_status {
    guard::status("wxtoken_status_json", || {
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let app = unsafe { arg_str(app, "app")? };
        let out = OutBuf::with_len(buf, cap, len)?;
        let text = crate::status(app)?.to_string();
        // SAFETY: the caller promises `cap` writable bytes at `buf` and a writable `len`.
        unsafe { out.write(&text, "status JSON") }
    })
}

/// Copies the app's ticket of `kind` into `buf` as `wxtoken_get` copies the
/// token: a ticket the platform accepts now, NUL-terminated, its length
/// (without the NUL) in `*len`.
///
/// - `kind`: "jsapi" (the JS-SDK's `wx.config`), "wx_card" (Official
///   Accounts' card ticket) or "agent_config" (WeCom's `wx.agentConfig`).
///   Any other text, or a kind the app's platform does not have, gives
///   `WXTOKEN_INVALID_ARGUMENT` with the reason in `wxtoken_last_error`.
/// - `app`, `buf`, `cap`, `len`: as for `wxtoken_get`. A ticket is about
///   100 bytes; 512 bytes is ample.
///
/// The ticket has the token's whole contract: one upstream call per app and
/// kind however many threads, processes or hosts ask at once, shared through
/// the app's store, refreshed before it expires. Fetching it may first fetch
/// the app's token.
///
/// Blocking: as for `wxtoken_get`. Thread safety: safe from any thread.
/// Ownership: `buf` and `len` are caller-owned and not kept.
///
/// # Safety
/// As for `wxtoken_get`; `kind` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn wxtoken_get_ticket(
    app: *const c_char,
    kind: *const c_char,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> wxtoken_status {
    guard::status("wxtoken_get_ticket", || {
        // SAFETY: the caller promises NULL or NUL-terminated strings.
        let (app, kind) = unsafe { (arg_str(app, "app")?, arg_str(kind, "kind")?) };
        let out = OutBuf::with_len(buf, cap, len)?;
        let kind: crate::TicketKind = kind.parse()?;
        let ticket = crate::get_ticket(app, kind)?;
        // SAFETY: the caller promises `cap` writable bytes at `buf` and a
        // writable `len`; `ticket` is the core's memory.
        unsafe { out.write(&ticket, "ticket") }
    })
}

/// Reports that a page's `wx.config` (or `wx.agentConfig`) failed with a
/// signature made from `bad_ticket`, and copies a good ticket of `kind` into
/// `buf`, as `wxtoken_invalidate` does for the token.
///
/// If `bad_ticket` is still the current ticket, exactly one refresh runs;
/// if it has already changed, the current one is copied with no upstream
/// call. An empty `bad_ticket` is `WXTOKEN_INVALID_ARGUMENT`. `kind` as for
/// `wxtoken_get_ticket`.
///
/// Buffer rules as for `wxtoken_get`. `buf` may be the very buffer that
/// holds `bad_ticket` (it is read before `buf` is written). On
/// `WXTOKEN_BUFFER_TOO_SMALL` the invalidation has still taken effect.
///
/// Blocking: waits for the refresh, at most the app's `wait_ms`.
/// Thread safety: safe from any thread. Ownership: the strings are only read
/// during the call; `buf` and `len` are caller-owned and not kept.
///
/// # Safety
/// As for `wxtoken_get_ticket`; `bad_ticket` is NULL or a NUL-terminated
/// string, possibly inside `buf`.
#[no_mangle]
pub unsafe extern "C" fn wxtoken_invalidate_ticket(
    app: *const c_char,
    kind: *const c_char,
    bad_ticket: *const c_char,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> wxtoken_status {
    guard::status("wxtoken_invalidate_ticket", || {
        // SAFETY: the caller promises NULL or NUL-terminated strings.
        let (app, kind, bad) = unsafe {
            (
                arg_str(app, "app")?,
                arg_str(kind, "kind")?,
                arg_str(bad_ticket, "bad_ticket")?,
            )
        };
        let out = OutBuf::with_len(buf, cap, len)?;
        let kind: crate::TicketKind = kind.parse()?;
        let ticket = crate::invalidate_ticket(app, kind, bad)?;
        // `bad` is not used past this point: `buf` may hold it (in-place use).
        // SAFETY: the caller promises `cap` writable bytes at `buf` and a
        // writable `len`; `ticket` is the core's memory.
        unsafe { out.write(&ticket, "ticket") }
    })
}

/// Copies the JS-SDK signature (40 lower-case hex digits, NUL-terminated;
/// `*len` receives 40) into `buf`: SHA-1 of
/// `jsapi_ticket=TICKET&noncestr=NONCESTR&timestamp=TIMESTAMP&url=URL`, with
/// `url` cut at its first `#` (the fragment is never signed). WeCom's
/// `wx.agentConfig` signs the same string with the agent_config ticket.
///
/// Buffer rules as for `wxtoken_get`; 41 bytes suffice. No argument may be
/// NULL; none is checked beyond UTF-8 (the caller passes the page's values).
///
/// Pure: no network, no lock. Thread safety: safe from any thread.
/// Ownership: the strings are only read during the call; `buf` and `len`
/// are caller-owned and not kept.
///
/// # Safety
/// `ticket`, `noncestr`, `url` are NULL or NUL-terminated strings; `buf`
/// and `len` as for `wxtoken_get`, not overlapping the strings.
#[no_mangle]
pub unsafe extern "C" fn wxtoken_jssdk_signature(
    ticket: *const c_char,
    noncestr: *const c_char,
    timestamp: u64,
    url: *const c_char,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> wxtoken_status {
    guard::status("wxtoken_jssdk_signature", || {
        // SAFETY: the caller promises NULL or NUL-terminated strings.
        let (ticket, noncestr, url) = unsafe {
            (
                arg_str(ticket, "ticket")?,
                arg_str(noncestr, "noncestr")?,
                arg_str(url, "url")?,
            )
        };
        let out = OutBuf::with_len(buf, cap, len)?;
        let signature = crate::jssdk_signature(ticket, noncestr, timestamp, url);
        // SAFETY: the caller promises `cap` writable bytes at `buf` and a writable `len`.
        unsafe { out.write(&signature, "signature") }
    })
}

/// Copies the default name of a WeCom application into `buf` (NUL-terminated;
/// length without the NUL in `*len`): `corpid`, `-`, and 16 hex digits of a
/// hash of `secret` (the tag its store key holds), so two applications of one
/// corp, each with its own secret and token, never share a name. The SDK
/// adapters (EasyWeChat's, wechatpy's) pass it as `name` to configure when
/// none is given; `wxtoken_configure` itself still defaults to the corp id.
///
/// Buffer rules as for `wxtoken_get`; the corp id's length plus 18 bytes
/// suffice. No argument may be NULL; the strings must be UTF-8. The secret
/// is never in the answer nor in an error.
///
/// Pure: no network, no lock. Thread safety: safe from any thread.
/// Ownership: the strings are only read during the call; `buf` and `len`
/// are caller-owned and not kept.
///
/// # Safety
/// `corpid` and `secret` are NULL or NUL-terminated strings; `buf` and
/// `len` as for `wxtoken_get`, not overlapping the strings.
#[no_mangle]
pub unsafe extern "C" fn wxtoken_default_wecom_name(
    corpid: *const c_char,
    secret: *const c_char,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> wxtoken_status {
    guard::status("wxtoken_default_wecom_name", || {
        // SAFETY: the caller promises NULL or NUL-terminated strings.
        let (corpid, secret) = unsafe { (arg_str(corpid, "corpid")?, arg_str(secret, "secret")?) };
        let out = OutBuf::with_len(buf, cap, len)?;
        let name = crate::default_wecom_name(corpid, secret);
        // SAFETY: the caller promises `cap` writable bytes at `buf` and a writable `len`.
        unsafe { out.write(&name, "name") }
    })
}

/// Copies what a page passes to `wx.config` for `url` into `buf`, as a JSON
/// object text (NUL-terminated; length without the NUL in `*len`):
/// `{"appId":"...","nonceStr":"...","signature":"...","timestamp":N}`, with
/// the app's appid (WeCom: the corpid), the current Unix time in seconds, a
/// fresh 16-character nonce and the signature made with the app's jsapi
/// ticket (fetched as `wxtoken_get_ticket` fetches it). The ticket itself
/// is not in the text.
///
/// - `url`: the page's full URL; a `#fragment` is cut off before signing.
/// - Buffer rules as for `wxtoken_get`; 256 bytes is ample. Each call makes
///   a new nonce, so a size query followed by a second call gives a
///   different text of the same length.
///
/// Blocking: as for `wxtoken_get_ticket`. Thread safety: safe from any
/// thread. Ownership: `buf` and `len` are caller-owned and not kept.
///
/// # Safety
/// As for `wxtoken_get`; `url` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn wxtoken_jssdk_config_json(
    app: *const c_char,
    url: *const c_char,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> wxtoken_status {
    guard::status("wxtoken_jssdk_config_json", || {
        // SAFETY: the caller promises NULL or NUL-terminated strings.
        let (app, url) = unsafe { (arg_str(app, "app")?, arg_str(url, "url")?) };
        let out = OutBuf::with_len(buf, cap, len)?;
        let text = crate::jssdk_config(app, url)?.to_json().to_string();
        // SAFETY: the caller promises `cap` writable bytes at `buf` and a writable `len`.
        unsafe { out.write(&text, "JSSDK config JSON") }
    })
}

/// The WeChat errcode of the calling thread's last failed wxtoken call
/// (e.g. 40125 for a wrong secret), or 0 when there was none or it did not
/// come from the platform. Successful calls leave it unchanged, as errno.
///
/// Thread safety: safe from any thread; each thread sees only its own
/// failures.
#[no_mangle]
pub extern "C" fn wxtoken_last_errcode() -> i64 {
    guard::value(0, last_error::errcode)
}

/// Copies the calling thread's last failure message into `buf`, NUL-terminated
/// ("" when there was none), e.g. "credentials rejected: invalid appsecret
/// (errcode 40125)". Successful calls leave it unchanged, as errno; this
/// function itself never changes it.
///
/// A message longer than `cap - 1` bytes is cut at a UTF-8 character
/// boundary, still NUL-terminated, and `WXTOKEN_BUFFER_TOO_SMALL` is
/// returned (also for `cap` 0). 1024 bytes is ample. `buf` may be NULL only
/// when `cap` is 0.
///
/// Thread safety: safe from any thread; each thread sees only its own
/// failures. Ownership: `buf` is caller-owned and not kept.
///
/// # Safety
/// `buf` is NULL or points to `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn wxtoken_last_error(buf: *mut c_char, cap: usize) -> wxtoken_status {
    let outcome = guard::value(Err(wxtoken_status::WXTOKEN_PANIC), || {
        let out = OutBuf::without_len(buf, cap).map_err(|f| f.status())?;
        // SAFETY: the caller promises `cap` writable bytes at `buf`.
        if unsafe { out.write_truncated(&last_error::message()) } {
            Ok(())
        } else {
            Err(wxtoken_status::WXTOKEN_BUFFER_TOO_SMALL)
        }
    });
    // Not through guard::status: reading the last error must not replace it.
    outcome.err().unwrap_or(wxtoken_status::WXTOKEN_OK)
}

/// The library's version, e.g. "0.1.0".
///
/// Thread safety: safe from any thread. Ownership: a static NUL-terminated
/// string; never free or modify it.
#[no_mangle]
pub extern "C" fn wxtoken_version() -> *const c_char {
    const VERSION_NUL: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    status::static_cstr(VERSION_NUL.as_bytes())
}

/// The name of a status as the header spells it, e.g. "WXTOKEN_TIMEOUT";
/// "WXTOKEN_UNKNOWN" for a number that is no status. Takes an `int` so that
/// any value is safe to pass; `wxtoken_status` values convert implicitly.
///
/// Thread safety: safe from any thread. Ownership: a static NUL-terminated
/// string; never free or modify it.
#[no_mangle]
pub extern "C" fn wxtoken_status_name(status: c_int) -> *const c_char {
    let name = guard::value(status::UNKNOWN_NAME, || {
        wxtoken_status::from_int(i64::from(status))
            .map_or(status::UNKNOWN_NAME, wxtoken_status::name_nul)
    });
    status::static_cstr(name)
}

/// True when a business API's errcode says the access token is bad (40001,
/// 40014, 42001): the caller should pass that token to `wxtoken_invalidate`
/// and retry the call once with the token it returns.
///
/// Thread safety: safe from any thread; pure.
#[no_mangle]
pub extern "C" fn wxtoken_is_bad_token_errcode(errcode: i64) -> bool {
    guard::value(false, || crate::is_bad_token_errcode(errcode))
}

/// `wxtoken_is_bad_token_errcode` for an errcode held as text (some JSON
/// decoders give `"errcode": "40001"`): true only for the decimal form the
/// number prints as ("40001"; not "+40001", " 40001" or "40001.0"). NULL
/// and invalid UTF-8 are false.
///
/// Thread safety: safe from any thread; pure.
///
/// # Safety
/// `errcode` is NULL or a NUL-terminated string valid for the call.
#[no_mangle]
pub unsafe extern "C" fn wxtoken_is_bad_token_errcode_str(errcode: *const c_char) -> bool {
    guard::value(false, || {
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        unsafe { arg_str(errcode, "errcode") }.is_ok_and(crate::is_bad_token_errcode_text)
    })
}

/// Sends wxtoken's log records (docs/logging.md) at `level` and above
/// (`WXTOKEN_LOG_ERROR` .. `WXTOKEN_LOG_DEBUG`) to `callback`, replacing any
/// earlier callback or queue. `callback` NULL or `level` `WXTOKEN_LOG_OFF` removes
/// it. Records on stderr (`WXTOKEN_LOG`) are separate and unaffected.
///
/// `callback(level, event, app, message, fields_json, userdata)`: the record's
/// level (a `wxtoken_log_level`), its stable event name (e.g.
/// "token_refreshed", "refresh_failed", "credentials_rejected"), the app's
/// name ("" for none), one line of text, and its fields as a JSON object
/// text (`{"generation":3,"expires_in_s":7200,"duration_ms":41}`). No
/// record holds a token or a secret. The strings are valid during the call
/// only; copy what you keep.
///
/// Thread: `callback` is called on one thread of wxtoken's own ("wxtoken-log"),
/// one record at a time in the order they were made, never on the thread
/// that caused the record and never with a wxtoken lock held. So it may
/// block, and it may call wxtoken's functions (including the blocking ones:
/// that only delays later records), but it must not call
/// `wxtoken_log_flush`, which would wait for itself (it returns false).
/// `userdata` is passed back as given and must be usable from that thread.
/// At most the newest 1024 records wait for a slow callback; a
/// "log_records_dropped" record tells how many were lost. Call
/// `wxtoken_log_flush` before exit to deliver what is pending. In a forked
/// child, records made there go to the same callback from a new thread.
///
/// Replacing or removing: when this function (or `wxtoken_set_log_queue`)
/// returns, the previous callback is not running and will not be called
/// again, so its userdata may be freed right after. To promise that it
/// waits for a call in progress: do not call it while holding something the
/// callback waits for (a lock, a GIL). Called from inside the callback
/// itself, it returns at once and that call is the old callback's last.
///
/// Returns `WXTOKEN_INVALID_ARGUMENT` for a level outside 0..4.
///
/// # Safety
/// `callback` is NULL or a function with that signature that stays callable,
/// with its `userdata`, until this function replaces or removes it and
/// returns.
#[no_mangle]
pub unsafe extern "C" fn wxtoken_set_log_callback(
    level: c_int,
    callback: Option<
        unsafe extern "C" fn(
            level: c_int,
            event: *const c_char,
            app: *const c_char,
            message: *const c_char,
            fields_json: *const c_char,
            userdata: *mut c_void,
        ),
    >,
    userdata: *mut c_void,
) -> wxtoken_status {
    guard::status("wxtoken_set_log_callback", || {
        log::set_callback(log::level(level)?, callback, userdata);
        Ok(())
    })
}

/// Keeps wxtoken's log records at `level` and above in a queue (the newest
/// 1024) for the caller to take with `wxtoken_log_drain` on a thread of its
/// own choosing, replacing any callback; `WXTOKEN_LOG_OFF` removes it. For
/// runtimes whose code must not run on a foreign thread (PHP's FFI binding
/// uses it). Returns `WXTOKEN_INVALID_ARGUMENT` for a level outside 0..4.
/// Records made after it returns stay in the queue; a callback it replaces
/// is done when it returns (see `wxtoken_set_log_callback`).
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn wxtoken_set_log_queue(level: c_int) -> wxtoken_status {
    guard::status("wxtoken_set_log_queue", || {
        match log::level(level)? {
            crate::LogLevel::Off => crate::clear_log_sink(),
            level => crate::set_log_queue(level),
        }
        Ok(())
    })
}

/// Moves queued log records (see `wxtoken_set_log_queue`) into `buf`, oldest
/// first, as JSON lines: one object per record, each ending in a newline, with
/// `ts` (RFC 3339, UTC), `ts_ms`, `level` ("error", "warn", "info",
/// "debug"), `event`, `app`, `message`, `pid` and the record's fields. As
/// many whole records as fit are moved; the rest stay queued. `*len` gets
/// the bytes written (0: the queue is empty). When not even the oldest
/// record fits, it stays queued, `*len` gets its length and the result is
/// `WXTOKEN_BUFFER_TOO_SMALL`. 16384 bytes always take at least one record
/// in practice.
///
/// Thread safety: safe from any thread. Ownership: `buf` and `len` are
/// caller-owned and not kept.
///
/// # Safety
/// As for `wxtoken_get`'s `buf`, `cap` and `len`.
#[no_mangle]
pub unsafe extern "C" fn wxtoken_log_drain(
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> wxtoken_status {
    guard::status("wxtoken_log_drain", || {
        let out = OutBuf::with_len(buf, cap, len)?;
        // SAFETY: the caller promises `cap` writable bytes at `buf` and a writable `len`.
        unsafe { log::drain(&out) }
    })
}

/// Waits at most `timeout_ms` until the callback of `wxtoken_set_log_callback`
/// has received every record made so far; true when it has (or there was
/// none). Before exit, so that pending records are not lost. False at once
/// when called from inside the callback, or with a queue instead of a
/// callback and records still queued.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn wxtoken_log_flush(timeout_ms: u32) -> bool {
    guard::value(false, || {
        crate::flush_log(std::time::Duration::from_millis(u64::from(timeout_ms)))
    })
}

/// "" stands for "not given": the core then reads the environment.
fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests;
