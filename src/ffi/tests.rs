//! The exported functions called as C would call them, for everything that
//! needs no upstream (the C tests in bindings/c cover the rest against the
//! simulator).

use std::ffi::CStr;
use std::os::raw::c_char;
use std::ptr;

use super::*;
use wxtoken_status as S;

fn c(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn p(v: &[u8]) -> *const c_char {
    v.as_ptr().cast()
}

fn last_error() -> String {
    let mut buf = [0 as c_char; 1024];
    // SAFETY: buf has 1024 writable bytes.
    let s = unsafe { wxtoken_last_error(buf.as_mut_ptr(), buf.len()) };
    assert_eq!(s, S::WXTOKEN_OK);
    // SAFETY: wxtoken_last_error NUL-terminates within the buffer.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn configure_checks_pointers_utf8_and_options() {
    let (id, secret) = (c("wxffiunit0000001"), c("ffi-unit-secret"));
    // SAFETY (every call below): arguments are NULL or NUL-terminated buffers that outlive the call.
    unsafe {
        assert_eq!(
            wxtoken_configure(ptr::null(), p(&secret), ptr::null()),
            S::WXTOKEN_NULL_POINTER
        );
        assert_eq!(last_error(), "invalid argument: argument 'appid' is NULL");
        assert_eq!(
            wxtoken_configure(p(&id), ptr::null(), ptr::null()),
            S::WXTOKEN_NULL_POINTER
        );
        assert_eq!(last_error(), "invalid argument: argument 'secret' is NULL");
        let bad = b"wx\xc3\x28\0";
        assert_eq!(
            wxtoken_configure(p(bad), p(&secret), ptr::null()),
            S::WXTOKEN_INVALID_UTF8
        );
        assert_eq!(
            last_error(),
            "invalid argument: argument 'appid' is not valid UTF-8"
        );
        assert_eq!(
            wxtoken_configure(p(&id), p(&secret), p(bad)),
            S::WXTOKEN_INVALID_UTF8
        );
        let unknown = c(r#"{"store":"memory","colour":"red"}"#);
        assert_eq!(
            wxtoken_configure(p(&id), p(&secret), p(&unknown)),
            S::WXTOKEN_INVALID_ARGUMENT
        );
        assert!(last_error().contains("unknown option 'colour'"));
        let malformed = c(r#"{"store":"#);
        assert_eq!(
            wxtoken_configure(p(&id), p(&secret), p(&malformed)),
            S::WXTOKEN_INVALID_ARGUMENT
        );
        assert!(last_error().contains("not valid JSON"));
        let mistyped = c(r#"{"wait_ms":"soon"}"#);
        assert_eq!(
            wxtoken_configure(p(&id), p(&secret), p(&mistyped)),
            S::WXTOKEN_INVALID_ARGUMENT
        );
        assert!(!last_error().contains("ffi-unit-secret"));
        let ok = c(r#"{"store":"memory","api_base":"http://127.0.0.1:9"}"#);
        assert_eq!(wxtoken_configure(p(&id), p(&secret), p(&ok)), S::WXTOKEN_OK);
        assert_eq!(wxtoken_last_errcode(), 0);
    }
}

#[test]
fn get_checks_arguments_before_the_core() {
    let app = c("wxffi-nobody");
    let mut buf = [0 as c_char; 64];
    let mut len = 0usize;
    // SAFETY (every call below): valid or NULL pointers, buffers of the stated size.
    unsafe {
        assert_eq!(
            wxtoken_get(ptr::null(), buf.as_mut_ptr(), 64, &mut len),
            S::WXTOKEN_NULL_POINTER
        );
        assert_eq!(
            wxtoken_get(p(&app), buf.as_mut_ptr(), 64, ptr::null_mut()),
            S::WXTOKEN_NULL_POINTER
        );
        assert_eq!(last_error(), "invalid argument: argument 'len' is NULL");
        assert_eq!(
            wxtoken_get(p(&app), ptr::null_mut(), 64, &mut len),
            S::WXTOKEN_NULL_POINTER
        );
        assert_eq!(last_error(), "invalid argument: argument 'buf' is NULL");
        assert_eq!(
            wxtoken_get(p(&app), buf.as_mut_ptr(), 64, &mut len),
            S::WXTOKEN_NOT_CONFIGURED
        );
        assert!(last_error().contains("'wxffi-nobody' is not configured"));
        let empty = c("");
        assert_eq!(
            wxtoken_get(p(&empty), buf.as_mut_ptr(), 64, &mut len),
            S::WXTOKEN_INVALID_ARGUMENT
        );
        let tok = c("t");
        let status = wxtoken_invalidate(p(&app), ptr::null(), buf.as_mut_ptr(), 64, &mut len);
        assert_eq!(status, S::WXTOKEN_NULL_POINTER);
        assert_eq!(
            last_error(),
            "invalid argument: argument 'bad_token' is NULL"
        );
        let status = wxtoken_invalidate(p(&app), p(&tok), buf.as_mut_ptr(), 64, &mut len);
        assert_eq!(status, S::WXTOKEN_NOT_CONFIGURED);
        let status = wxtoken_status_json(p(&app), buf.as_mut_ptr(), 64, &mut len);
        assert_eq!(status, S::WXTOKEN_NOT_CONFIGURED);
    }
}

#[test]
fn status_json_uses_the_buffer_rules() {
    let (id, secret) = (c("wxffiunit0000002"), c("ffi-unit-secret"));
    let opts = c(r#"{"store":"memory","api_base":"http://127.0.0.1:9"}"#);
    let mut len = 0usize;
    // SAFETY (every call below): valid or NULL pointers, buffers of the stated size.
    unsafe {
        assert_eq!(
            wxtoken_configure(p(&id), p(&secret), p(&opts)),
            S::WXTOKEN_OK
        );
        let query = wxtoken_status_json(p(&id), ptr::null_mut(), 0, &mut len);
        assert_eq!(query, S::WXTOKEN_BUFFER_TOO_SMALL);
        assert!(len > 20);
        let mut buf = vec![0 as c_char; len];
        let short = wxtoken_status_json(p(&id), buf.as_mut_ptr(), len, &mut len);
        assert_eq!(short, S::WXTOKEN_BUFFER_TOO_SMALL);
        assert_eq!(buf[0], 0);
        let mut buf = vec![0 as c_char; len + 1];
        assert_eq!(
            wxtoken_status_json(p(&id), buf.as_mut_ptr(), len + 1, &mut len),
            S::WXTOKEN_OK
        );
        let text = CStr::from_ptr(buf.as_ptr()).to_str().unwrap();
        assert_eq!(text.len(), len);
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["appid"], "wxffiunit0000002");
        assert!(!text.contains("ffi-unit-secret"));
    }
}

#[test]
fn last_error_truncates_and_never_replaces_itself() {
    let app = c("wxffi-nobody-\u{4e2d}\u{6587}");
    let mut len = 0usize;
    // SAFETY (every call below): valid or NULL pointers, buffers of the stated size.
    unsafe {
        wxtoken_get(p(&app), ptr::null_mut(), 0, &mut len);
        let full = last_error();
        let mut small = [1 as c_char; 20];
        assert_eq!(
            wxtoken_last_error(small.as_mut_ptr(), 20),
            S::WXTOKEN_BUFFER_TOO_SMALL
        );
        let cut = CStr::from_ptr(small.as_ptr()).to_str().unwrap();
        assert!(full.starts_with(cut) && cut.len() == 19, "{cut:?}");
        assert_eq!(
            wxtoken_last_error(ptr::null_mut(), 0),
            S::WXTOKEN_BUFFER_TOO_SMALL
        );
        assert_eq!(
            wxtoken_last_error(ptr::null_mut(), 5),
            S::WXTOKEN_NULL_POINTER
        );
        assert_eq!(
            last_error(),
            full,
            "reading the last error does not change it"
        );
        // Cuts fall on character boundaries: "... 'wxffi-nobody-中" cut inside 文.
        let at = full.find('\u{6587}').unwrap();
        let mut buf = vec![1 as c_char; at + 2];
        assert_eq!(
            wxtoken_last_error(buf.as_mut_ptr(), at + 2),
            S::WXTOKEN_BUFFER_TOO_SMALL
        );
        assert_eq!(CStr::from_ptr(buf.as_ptr()).to_bytes().len(), at);
    }
}

#[test]
fn static_strings_and_pure_helpers() {
    // SAFETY: both functions return static NUL-terminated strings.
    let name = |n: c_int| {
        unsafe { CStr::from_ptr(wxtoken_status_name(n)) }
            .to_str()
            .unwrap()
    };
    assert_eq!(name(0), "WXTOKEN_OK");
    assert_eq!(name(6), "WXTOKEN_TIMEOUT");
    assert_eq!(name(S::WXTOKEN_PANIC as c_int), "WXTOKEN_PANIC");
    assert_eq!(name(15), "WXTOKEN_UNKNOWN");
    assert_eq!(name(-1), "WXTOKEN_UNKNOWN");
    // SAFETY: as above.
    let version = unsafe { CStr::from_ptr(wxtoken_version()) }
        .to_str()
        .unwrap();
    assert_eq!(version, crate::VERSION);
    assert!(wxtoken_is_bad_token_errcode(40001));
    assert!(wxtoken_is_bad_token_errcode(42001));
    assert!(!wxtoken_is_bad_token_errcode(40125));
    // SAFETY: NULL or NUL-terminated literals.
    let text = |s: Option<&CStr>| unsafe {
        wxtoken_is_bad_token_errcode_str(s.map_or(std::ptr::null(), CStr::as_ptr))
    };
    assert!(text(Some(c"40001")));
    assert!(text(Some(c"42001")));
    assert!(!text(Some(c"40125")));
    assert!(!text(Some(c"+40001")));
    assert!(!text(Some(c"40001.0")));
    assert!(!text(None));
}

const DOC_TICKET: &str =
    "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg";

#[test]
fn jssdk_signature_gives_the_documented_vector() {
    let (ticket, nonce) = (c(DOC_TICKET), c("Wm3WZYTPz0wzccnW"));
    let url = c("http://mp.weixin.qq.com?params=value");
    let with_fragment = c("http://mp.weixin.qq.com?params=value#frag");
    let mut buf = [1 as c_char; 41];
    let mut len = 0usize;
    // SAFETY (every call below): valid or NULL pointers, buffers of the stated size.
    unsafe {
        for u in [&url, &with_fragment] {
            let s = wxtoken_jssdk_signature(
                p(&ticket),
                p(&nonce),
                1414587457,
                p(u),
                buf.as_mut_ptr(),
                41,
                &mut len,
            );
            assert_eq!(s, S::WXTOKEN_OK);
            assert_eq!(len, 40);
            assert_eq!(
                CStr::from_ptr(buf.as_ptr()).to_str().unwrap(),
                "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
            );
        }
        let s = wxtoken_jssdk_signature(
            p(&ticket),
            p(&nonce),
            1414587457,
            p(&url),
            buf.as_mut_ptr(),
            40,
            &mut len,
        );
        assert_eq!(s, S::WXTOKEN_BUFFER_TOO_SMALL);
        assert_eq!((len, buf[0]), (40, 0));
        let s = wxtoken_jssdk_signature(
            p(&ticket),
            ptr::null(),
            1,
            p(&url),
            buf.as_mut_ptr(),
            41,
            &mut len,
        );
        assert_eq!(s, S::WXTOKEN_NULL_POINTER);
        assert_eq!(
            last_error(),
            "invalid argument: argument 'noncestr' is NULL"
        );
        let bad = b"http://\xff\0";
        let s = wxtoken_jssdk_signature(
            p(&ticket),
            p(&nonce),
            1,
            p(bad),
            buf.as_mut_ptr(),
            41,
            &mut len,
        );
        assert_eq!(s, S::WXTOKEN_INVALID_UTF8);
        assert_eq!(
            last_error(),
            "invalid argument: argument 'url' is not valid UTF-8"
        );
    }
}

#[test]
fn ticket_functions_check_arguments_and_the_kind() {
    let app = c("wxffi-nobody");
    let (jsapi, wrong, t) = (c("jsapi"), c("JSAPI"), c("t"));
    let mut buf = [0 as c_char; 64];
    let mut len = 0usize;
    // SAFETY (every call below): valid or NULL pointers, buffers of the stated size.
    unsafe {
        let s = wxtoken_get_ticket(p(&app), ptr::null(), buf.as_mut_ptr(), 64, &mut len);
        assert_eq!(s, S::WXTOKEN_NULL_POINTER);
        assert_eq!(last_error(), "invalid argument: argument 'kind' is NULL");
        let s = wxtoken_get_ticket(p(&app), p(&jsapi), buf.as_mut_ptr(), 64, ptr::null_mut());
        assert_eq!(s, S::WXTOKEN_NULL_POINTER);
        let s = wxtoken_get_ticket(p(&app), p(&wrong), buf.as_mut_ptr(), 64, &mut len);
        assert_eq!(s, S::WXTOKEN_INVALID_ARGUMENT);
        assert!(
            last_error().contains("unknown ticket kind 'JSAPI': jsapi, wx_card or agent_config"),
            "{}",
            last_error()
        );
        let s = wxtoken_get_ticket(p(&app), p(&jsapi), buf.as_mut_ptr(), 64, &mut len);
        assert_eq!(s, S::WXTOKEN_NOT_CONFIGURED);
        let s = wxtoken_invalidate_ticket(
            p(&app),
            p(&jsapi),
            ptr::null(),
            buf.as_mut_ptr(),
            64,
            &mut len,
        );
        assert_eq!(s, S::WXTOKEN_NULL_POINTER);
        assert_eq!(
            last_error(),
            "invalid argument: argument 'bad_ticket' is NULL"
        );
        let s =
            wxtoken_invalidate_ticket(p(&app), p(&wrong), p(&t), buf.as_mut_ptr(), 64, &mut len);
        assert_eq!(s, S::WXTOKEN_INVALID_ARGUMENT);
        let s = wxtoken_jssdk_config_json(p(&app), ptr::null(), buf.as_mut_ptr(), 64, &mut len);
        assert_eq!(s, S::WXTOKEN_NULL_POINTER);
        assert_eq!(last_error(), "invalid argument: argument 'url' is NULL");
        let url = c("https://example.com/");
        let s = wxtoken_jssdk_config_json(p(&app), p(&url), buf.as_mut_ptr(), 64, &mut len);
        assert_eq!(s, S::WXTOKEN_NOT_CONFIGURED);
    }
}

#[test]
fn default_wecom_name_is_the_cores() {
    let (corp, secret) = (c("wwcorp"), c("corp-s3cr3t"));
    let want = crate::default_wecom_name("wwcorp", "corp-s3cr3t");
    let mut buf = [1 as c_char; 64];
    let mut len = 0usize;
    // SAFETY (every call below): valid or NULL pointers, buffers of the stated size.
    unsafe {
        let s = wxtoken_default_wecom_name(p(&corp), p(&secret), buf.as_mut_ptr(), 64, &mut len);
        assert_eq!(s, S::WXTOKEN_OK);
        assert_eq!(len, "wwcorp-".len() + 16);
        let name = CStr::from_ptr(buf.as_ptr()).to_str().unwrap();
        assert_eq!(name, want);
        assert!(!name.contains("s3cr3t"));
        let s = wxtoken_default_wecom_name(p(&corp), p(&secret), buf.as_mut_ptr(), len, &mut len);
        assert_eq!(s, S::WXTOKEN_BUFFER_TOO_SMALL);
        assert_eq!((len, buf[0]), (want.len(), 0));
        let s = wxtoken_default_wecom_name(p(&corp), ptr::null(), buf.as_mut_ptr(), 64, &mut len);
        assert_eq!(s, S::WXTOKEN_NULL_POINTER);
        assert_eq!(last_error(), "invalid argument: argument 'secret' is NULL");
        let bad = b"s3cr3t\xff\0";
        let s = wxtoken_default_wecom_name(p(&corp), p(bad), buf.as_mut_ptr(), 64, &mut len);
        assert_eq!(s, S::WXTOKEN_INVALID_UTF8);
        assert!(!last_error().contains("s3cr3t"));
    }
}
