//! The C ABI under hostile arguments, called from Rust exactly as C calls it,
//! against the simulator. bindings/c/tests/test_fuzz.c covers the same rules
//! at random; these pin the cases a user relies on, deterministically:
//! a bad argument is refused before anything happens (no fetch, no
//! invalidation, no re-configuration), hostile options lose nothing, and a
//! short buffer is written at `buf[0]` only, for every capacity.

use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::ptr;

use wxtoken::ffi::{
    wxtoken_configure, wxtoken_configure_named, wxtoken_get, wxtoken_invalidate,
    wxtoken_last_error, wxtoken_status as S, wxtoken_status_json,
};
use wxtoken_mock::{MockApp, MockConfig, MockServer};

use crate::support::{appid, check, SECRET};

const GUARD: usize = 64;
const FILL: u8 = 0xA5;

fn cs(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// A simulator for one app, issuing tokens of `token_len` bytes.
fn mock(appid: &str, token_len: usize) -> MockServer {
    MockServer::start(MockConfig {
        apps: vec![MockApp::mp(appid, SECRET)],
        token_len,
        ..MockConfig::default()
    })
    .expect("simulator starts")
}

fn options(server: &MockServer, extra: &str) -> CString {
    cs(&format!(
        r#"{{"store":"memory","api_base":"{}"{extra}}}"#,
        server.base_url()
    ))
}

fn configure(id: &str, opts: &CStr) -> S {
    let (id, secret) = (cs(id), cs(SECRET));
    // SAFETY: NUL-terminated strings that outlive the call.
    unsafe { wxtoken_configure(id.as_ptr(), secret.as_ptr(), opts.as_ptr()) }
}

fn get(app: &str) -> (S, String) {
    let app = cs(app);
    let mut buf = vec![0 as c_char; 20_000];
    let mut len = 0usize;
    // SAFETY: buf has the stated capacity; len is a local.
    let st = unsafe { wxtoken_get(app.as_ptr(), buf.as_mut_ptr(), buf.len(), &mut len) };
    // SAFETY: the library NUL-terminates whatever it writes; buf starts zeroed.
    let text = unsafe { CStr::from_ptr(buf.as_ptr()) };
    (st, text.to_str().unwrap().to_string())
}

fn last_error() -> String {
    let mut buf = vec![0 as c_char; 1 << 21];
    // SAFETY: buf has the stated capacity.
    let st = unsafe { wxtoken_last_error(buf.as_mut_ptr(), buf.len()) };
    assert_eq!(st, S::WXTOKEN_OK);
    // SAFETY: NUL-terminated by wxtoken_last_error.
    let text = unsafe { CStr::from_ptr(buf.as_ptr()) };
    text.to_str().unwrap().to_string()
}

/// `cap` bytes of FILL for the library, then GUARD bytes it must not touch.
struct Guarded {
    mem: Vec<u8>,
    cap: usize,
}

impl Guarded {
    fn new(cap: usize) -> Guarded {
        Guarded {
            mem: vec![FILL; cap + GUARD],
            cap,
        }
    }

    fn ptr(&mut self) -> *mut c_char {
        self.mem.as_mut_ptr().cast()
    }

    /// The BUFFER_TOO_SMALL rule: `buf[0]` is NUL (when cap > 0), nothing
    /// else written, in the buffer or past it.
    fn assert_only_terminated(&self, what: &str) {
        let untouched_from = if self.cap > 0 {
            assert_eq!(self.mem[0], 0, "{what}, cap {}: buf[0] is NUL", self.cap);
            1
        } else {
            0
        };
        assert!(
            self.mem[untouched_from..].iter().all(|&b| b == FILL),
            "{what}, cap {}: only buf[0] may be written",
            self.cap
        );
    }
}

#[test]
fn a_bad_argument_is_refused_before_any_fetch_invalidation_or_reconfiguration() {
    let id = appid("ffiarg");
    let server = mock(&id, 136);
    assert_eq!(configure(&id, &options(&server, "")), S::WXTOKEN_OK);
    let app = cs(&id);
    let mut buf = vec![0 as c_char; 1024];
    let mut len = 0usize;
    // SAFETY (every call below): NULL or NUL-terminated strings, buffers of the stated size.
    unsafe {
        // A get whose buffer arguments are wrong fetches nothing.
        let st = wxtoken_get(app.as_ptr(), buf.as_mut_ptr(), 1024, ptr::null_mut());
        assert_eq!(st, S::WXTOKEN_NULL_POINTER);
        let st = wxtoken_get(app.as_ptr(), ptr::null_mut(), 1024, &mut len);
        assert_eq!(st, S::WXTOKEN_NULL_POINTER);
        assert_eq!(server.token_calls(&id), 0, "no fetch for a refused get");
    }
    let (st, t1) = get(&id);
    assert_eq!(st, S::WXTOKEN_OK);
    assert_eq!(server.token_calls(&id), 1);

    let bad = cs(&t1);
    let mut bad_utf8 = t1.as_bytes()[..10].to_vec();
    bad_utf8.extend_from_slice(b"\xed\xa0\x80\0"); // a UTF-16 surrogate: not UTF-8
                                                   // SAFETY: as above.
    unsafe {
        // An invalidation whose arguments are wrong does not happen.
        let st = wxtoken_invalidate(
            app.as_ptr(),
            bad.as_ptr(),
            buf.as_mut_ptr(),
            1024,
            ptr::null_mut(),
        );
        assert_eq!(st, S::WXTOKEN_NULL_POINTER);
        let st = wxtoken_invalidate(app.as_ptr(), bad.as_ptr(), ptr::null_mut(), 5, &mut len);
        assert_eq!(st, S::WXTOKEN_NULL_POINTER);
        let st = wxtoken_invalidate(
            app.as_ptr(),
            bad_utf8.as_ptr().cast(),
            buf.as_mut_ptr(),
            1024,
            &mut len,
        );
        assert_eq!(st, S::WXTOKEN_INVALID_UTF8);
        assert_eq!(
            last_error(),
            "invalid argument: argument 'bad_token' is not valid UTF-8"
        );
    }
    assert_eq!(
        server.token_calls(&id),
        1,
        "no refresh for a refused invalidate"
    );
    assert_eq!(
        get(&id),
        (S::WXTOKEN_OK, t1.clone()),
        "the token is still current"
    );
    assert_eq!(check(&server, &t1), 0);

    // A configure_named whose buffer arguments are wrong configures nothing:
    // the app keeps its refresh margin (300 s, the default).
    let other = options(&server, r#","refresh_margin_s":7"#);
    let secret = cs(SECRET);
    // SAFETY: as above.
    unsafe {
        let st = wxtoken_configure_named(
            app.as_ptr(),
            secret.as_ptr(),
            other.as_ptr(),
            buf.as_mut_ptr(),
            64,
            ptr::null_mut(),
        );
        assert_eq!(st, S::WXTOKEN_NULL_POINTER);
        let st = wxtoken_status_json(app.as_ptr(), buf.as_mut_ptr(), 1024, &mut len);
        assert_eq!(st, S::WXTOKEN_OK);
        let status: serde_json::Value =
            serde_json::from_str(CStr::from_ptr(buf.as_ptr()).to_str().unwrap()).unwrap();
        assert_eq!(status["refresh_margin_s"], 300, "{status}");
    }
}

#[test]
fn hostile_options_are_refused_and_the_app_keeps_its_token() {
    let id = appid("ffiopt");
    let server = mock(&id, 136);
    assert_eq!(configure(&id, &options(&server, "")), S::WXTOKEN_OK);
    let (st, t1) = get(&id);
    assert_eq!(st, S::WXTOKEN_OK);

    let base = server.base_url();
    let hostile: Vec<String> = vec![
        "[".repeat(100_000),
        format!(r#"{{"api_base":"{base}","name":{}"#, "[".repeat(10_000)),
        format!(r#"{{"api_base":"{base}","wait_ms":18446744073709551616}}"#),
        format!(r#"{{"api_base":"{base}","timeout_ms":1e999}}"#),
        format!(r#"{{"api_base":"{base}","timeout_ms":0}}"#),
        format!(r#"{{"api_base":"{base}","refresh_margin_s":-1}}"#),
        format!(r#"{{"api_base":"{base}","store":"memory","store":5}}"#),
        format!(r#"{{"api_base":"{base}","name":"\ud800"}}"#),
        format!(r#"{{"api_base":"{base}","{}":1}}"#, "k".repeat(1 << 20)),
        format!(r#"{{"api_base":"{base}","name":"{}"}}"#, "N".repeat(257)),
        format!(r#"{{"api_base":"{base}","platform":"wecom","mode":"stable"}}"#),
        r#"{"api_base":"http://example.com"}"#.to_string(),
    ];
    for text in &hostile {
        let shown = &text[..text.len().min(60)];
        assert_eq!(
            configure(&id, &cs(text)),
            S::WXTOKEN_INVALID_ARGUMENT,
            "{shown}"
        );
        assert!(last_error().starts_with("invalid argument: "), "{shown}");
    }
    // Invalid UTF-8 inside a JSON string.
    let mut bad = format!(r#"{{"api_base":"{base}","name":""#).into_bytes();
    bad.extend_from_slice(b"\xc0\x80\"}\0");
    let (cid, secret) = (cs(&id), cs(SECRET));
    // SAFETY: NUL-terminated byte strings that outlive the call.
    let st = unsafe { wxtoken_configure(cid.as_ptr(), secret.as_ptr(), bad.as_ptr().cast()) };
    assert_eq!(st, S::WXTOKEN_INVALID_UTF8);

    // Nothing was lost: the same token, no new fetch.
    assert_eq!(get(&id), (S::WXTOKEN_OK, t1.clone()));
    assert_eq!(server.token_calls(&id), 1);
    assert_eq!(check(&server, &t1), 0);
    // Nor registered: a fresh app refused its options is not configured.
    let fresh = appid("ffiopt");
    assert_eq!(
        configure(&fresh, &cs(&hostile[3])),
        S::WXTOKEN_INVALID_ARGUMENT
    );
    assert_eq!(get(&fresh).0, S::WXTOKEN_NOT_CONFIGURED);
}

#[test]
fn a_short_buffer_is_written_at_buf0_only_for_every_capacity() {
    let id = appid("ffibuf");
    let server = mock(&id, 600); // longer than the 512 bytes WeChat asks callers to reserve
    let name = "N".repeat(256);
    let opts = options(&server, &format!(r#","name":"{name}""#));
    let (cid, secret, app) = (cs(&id), cs(SECRET), cs(&name));
    assert_eq!(get(&name).0, S::WXTOKEN_NOT_CONFIGURED);

    // configure_named: the 256-byte name, for every capacity too small.
    for cap in 0..=name.len() {
        let mut g = Guarded::new(cap);
        let mut len = usize::MAX;
        // SAFETY: g holds cap writable bytes (plus the guard); strings outlive the call.
        let st = unsafe {
            wxtoken_configure_named(
                cid.as_ptr(),
                secret.as_ptr(),
                opts.as_ptr(),
                g.ptr(),
                cap,
                &mut len,
            )
        };
        assert_eq!(st, S::WXTOKEN_BUFFER_TOO_SMALL, "cap {cap}");
        assert_eq!(len, name.len(), "cap {cap}: the needed length");
        g.assert_only_terminated("configure_named");
    }
    assert_eq!(
        get(&name).0,
        S::WXTOKEN_OK,
        "configured despite the short buffers"
    );
    let (_, t1) = get(&name);
    assert_eq!(t1.len(), 600);

    // get, invalidate (of a token no longer current: no refresh) and
    // status_json, for every capacity too small.
    let stale = cs("not-the-current-token");
    let status_len = || {
        let mut len = 0usize;
        // SAFETY: a size query: buf NULL, cap 0.
        let st = unsafe { wxtoken_status_json(app.as_ptr(), ptr::null_mut(), 0, &mut len) };
        assert_eq!(st, S::WXTOKEN_BUFFER_TOO_SMALL);
        len
    };
    for cap in 0..=t1.len() {
        for call in ["get", "invalidate", "status_json"] {
            // The status holds this process's counters: its length moves.
            let needed = if call == "status_json" {
                status_len()
            } else {
                t1.len()
            };
            if cap > needed {
                continue;
            }
            let mut g = Guarded::new(cap);
            let mut len = usize::MAX;
            // SAFETY: g holds cap writable bytes (plus the guard); strings outlive the call.
            let st = unsafe {
                match call {
                    "get" => wxtoken_get(app.as_ptr(), g.ptr(), cap, &mut len),
                    "invalidate" => {
                        wxtoken_invalidate(app.as_ptr(), stale.as_ptr(), g.ptr(), cap, &mut len)
                    }
                    _ => wxtoken_status_json(app.as_ptr(), g.ptr(), cap, &mut len),
                }
            };
            assert_eq!(st, S::WXTOKEN_BUFFER_TOO_SMALL, "{call}, cap {cap}");
            assert_eq!(len, needed, "{call}, cap {cap}: the needed length");
            g.assert_only_terminated(call);
        }
    }
    assert_eq!(server.token_calls(&id), 1, "all of it from one fetch");
    assert_eq!(get(&name), (S::WXTOKEN_OK, t1.clone()));
    assert_eq!(check(&server, &t1), 0);

    // wxtoken_last_error: cut at a character boundary, never past cap.
    let four = "\u{1F600}"; // 4 bytes in UTF-8
    let (_st, _) = get(&format!("nobody-{four}{four}"));
    let msg = last_error();
    let at = msg.find(four).unwrap();
    for cap in 0..=msg.len() {
        let mut g = Guarded::new(cap);
        // SAFETY: g holds cap writable bytes (plus the guard).
        let st = unsafe { wxtoken_last_error(g.ptr(), cap) };
        assert_eq!(st, S::WXTOKEN_BUFFER_TOO_SMALL, "cap {cap}");
        if cap == 0 {
            assert!(g.mem.iter().all(|&b| b == FILL), "cap 0: nothing written");
            continue;
        }
        let cut = g.mem.iter().position(|&b| b == 0).unwrap();
        assert!(cut < cap, "cap {cap}: NUL inside the buffer");
        let text = std::str::from_utf8(&g.mem[..cut]).expect("cut at a character boundary");
        assert!(msg.starts_with(text), "cap {cap}: a prefix of the message");
        assert!(
            cut + 4 > cap - 1,
            "cap {cap}: as much as fits ({cut} bytes)"
        );
        if (at + 1..at + 4).contains(&(cap - 1)) {
            assert_eq!(cut, at, "cap {cap}: the emoji is left out whole");
        }
        assert!(g.mem[cap..].iter().all(|&b| b == FILL), "cap {cap}: guard");
    }
}

#[test]
fn a_short_buffer_invalidation_takes_effect_once() {
    let id = appid("ffiinv");
    let server = mock(&id, 600);
    assert_eq!(configure(&id, &options(&server, "")), S::WXTOKEN_OK);
    let (st, t1) = get(&id);
    assert_eq!(st, S::WXTOKEN_OK);
    let (app, bad) = (cs(&id), cs(&t1));
    for round in 0..3 {
        let mut g = Guarded::new(16);
        let mut len = 0usize;
        // SAFETY: g holds 16 writable bytes (plus the guard); strings outlive the call.
        let st = unsafe { wxtoken_invalidate(app.as_ptr(), bad.as_ptr(), g.ptr(), 16, &mut len) };
        assert_eq!(st, S::WXTOKEN_BUFFER_TOO_SMALL, "round {round}");
        assert_eq!(len, 600);
        g.assert_only_terminated("invalidate");
        assert_eq!(
            server.token_calls(&id),
            2,
            "round {round}: one refresh, however often the caller retries"
        );
    }
    let (st, t2) = get(&id);
    assert_eq!(st, S::WXTOKEN_OK);
    assert_ne!(t2, t1, "the invalidation took effect");
    assert_eq!(check(&server, &t2), 0);
}
