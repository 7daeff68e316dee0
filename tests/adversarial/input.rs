//! Input hardening: api_base and its user info, secret redaction, the secret
//! file's size, unknown CLI arguments, slow bodies, option ranges, control
//! characters in tokens and names, duplicate option keys.

use std::ffi::CStr;
use std::os::raw::c_char;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use wxtoken::ffi::{self, wxtoken_status as S};
use wxtoken::{Config, ErrorKind};
use wxtoken_mock::{Fault, MockApp, MockConfig, MockServer};

use crate::support::*;

/// The `wxtoken` command with a clean WXTOKEN_* environment plus `env`,
/// killed if it has not finished within 10 s (then the test fails).
fn cli(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wxtoken"));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("WXTOKEN_")) {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    let mut child = cmd.spawn().expect("run wxtoken");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("wxtoken {args:?} did not finish within 10 s");
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn c(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// `wxtoken_configure` as a C program calls it; the status and last error.
fn c_configure(appid: &str, secret: &str, options: &str) -> (S, String) {
    let (a, s, o) = (c(appid), c(secret), c(options));
    let mut buf = [0 as c_char; 1024];
    // SAFETY: NUL-terminated buffers that outlive the calls; buf has 1024 bytes.
    unsafe {
        let status =
            ffi::wxtoken_configure(a.as_ptr().cast(), s.as_ptr().cast(), o.as_ptr().cast());
        ffi::wxtoken_last_error(buf.as_mut_ptr(), buf.len());
        let msg = CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned();
        (status, msg)
    }
}

/// `wxtoken_get` as a C program calls it.
fn c_get(app: &str) -> S {
    let app = c(app);
    let mut buf = [0 as c_char; 1024];
    let mut len = 0usize;
    // SAFETY: as above; len is writable.
    unsafe { ffi::wxtoken_get(app.as_ptr().cast(), buf.as_mut_ptr(), buf.len(), &mut len) }
}

fn json_str(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

// ---- 1. api_base: the host judged is the host connected to ----

/// User info in api_base is refused everywhere, whatever the hosts; before
/// the fix `http://127.0.0.1:1@localhost:PORT` passed the loopback check on
/// "127.0.0.1" and the request went to the host after '@'.
#[test]
fn api_base_with_user_info_is_refused_and_nothing_is_sent() {
    let id = appid("userinfo");
    let server = mock_for(&id, 7200, 300);
    let port = server.addr().port();
    let bases = [
        format!("http://127.0.0.1:1@localhost:{port}/ok"),
        format!("http://127.0.0.1@localhost:{port}"),
        format!("http://[::1]@localhost:{port}"),
        format!("http://localhost:{port}@127.0.0.1:{port}"),
        format!("http://user:Pa55w0rd@127.0.0.1:{port}"),
        format!("http://:Pa55w0rd@127.0.0.1:{port}"),
        format!("http://127.0.0.1%3A1@127.0.0.1:{port}"),
        "http://127.0.0.1:1@evil.example:18080/ok".to_string(),
        "http://[::1]@evil.example:18080/ok".to_string(),
        "https://user:Pa55w0rd@api.weixin.qq.com".to_string(),
    ];
    for (n, base) in bases.iter().enumerate() {
        let opts = format!(
            r#"{{"store":"memory","name":"{id}-{n}","api_base":{}}}"#,
            json_str(base)
        );
        let err = Config::from_json(Some(&id), Some(SECRET), &opts)
            .and_then(wxtoken::configure)
            .and_then(|app| wxtoken::get(&app).map(drop))
            .expect_err(base);
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{base}: {err}");
        assert!(
            err.to_string().contains("user name or password"),
            "{base}: {err}"
        );
        assert!(!err.to_string().contains("Pa55w0rd"), "{err}");
        let (status, msg) = c_configure(&id, SECRET, &opts);
        assert_eq!(status, S::WXTOKEN_INVALID_ARGUMENT, "C: {base}: {msg}");
        let out = cli(
            &[
                "token",
                "--appid",
                &id,
                "--store",
                "memory",
                "--api-base",
                base,
            ],
            &[("WXTOKEN_SECRET", SECRET)],
        );
        assert_eq!(out.status.code(), Some(2), "CLI: {base}: {}", stderr(&out));
        assert!(!stderr(&out).contains("Pa55w0rd"), "{}", stderr(&out));
    }
    assert_eq!(server.token_calls(&id), 0, "no request left the process");
}

/// The rest of the class: schemes, hosts hidden behind '#', '?' or '\',
/// queries, fragments, spaces, empty hosts are refused; loopback spellings
/// the HTTP client connects to as loopback are accepted and do reach it.
#[test]
fn api_base_is_judged_on_the_host_the_client_connects_to() {
    let id = appid("apibase");
    let server = mock_for(&id, 7200, 300);
    let port = server.addr().port();
    let refused = [
        "http://evil.example#@127.0.0.1".to_string(),
        "http://evil.example?@127.0.0.1".to_string(),
        "http://evil.example\\@127.0.0.1".to_string(),
        "http://127.0.0.1.evil.example".to_string(),
        "http://localhost.evil.example".to_string(),
        "http://10.0.0.1".to_string(),
        "ftp://127.0.0.1".to_string(),
        "file:///etc/passwd".to_string(),
        "javascript:alert(1)".to_string(),
        "127.0.0.1:80".to_string(),
        "http://".to_string(),
        "https://".to_string(),
        "https://:443".to_string(),
        format!("http://127.0.0.1:{port}/?x=1"),
        format!("http://127.0.0.1:{port}/?"),
        format!("http://127.0.0.1:{port}#frag"),
        format!(" http://127.0.0.1:{port}"),
        format!("http://127.0.0.1:{port}\n"),
        format!("http://127.0.0.1\t.evil.example:{port}"),
        format!("http://127.0.0.1:{port}/a b"),
    ];
    for base in &refused {
        let mut cfg = config(&server, &id);
        cfg.api_base = base.clone();
        let err = wxtoken::configure(cfg).expect_err(base);
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{base:?}: {err}");
    }
    let accepted = [
        format!("http://127.0.0.1:{port}"),
        format!("http://127.0.0.1:{port}/"),
        format!("HTTP://LOCALHOST:{port}"),
        format!("http://127.1:{port}"),
        format!("http://0x7f.0.0.1:{port}"),
    ];
    for (n, base) in accepted.iter().enumerate() {
        let app = configure(&server, &id, |c| {
            c.api_base = base.clone();
            c.name = format!("{id}-ok{n}");
        });
        wxtoken::get(&app).unwrap_or_else(|e| panic!("{base}: {e}"));
    }
    assert_eq!(
        server.token_calls(&id),
        accepted.len() as u64,
        "each accepted base reached the loopback simulator"
    );
    // Loopback too (a path "/@evil.example" on 127.0.0.1), as ureq reads it.
    for ok in [
        "http://127.0.0.1:1\\@evil.example",
        "http://[::1]:1",
        "http://[::ffff:127.0.0.1]:1",
        "https://api.example/prefix",
    ] {
        let mut cfg = config(&server, &id);
        cfg.api_base = ok.to_string();
        cfg.validate().unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

// ---- 4. redaction ----

/// A secret that every encoding changes, echoed by the upstream raw and
/// encoded in several ways, never comes out of wxtoken.
#[test]
fn an_echoed_secret_is_redacted_in_every_spelling() {
    let id = appid("echo");
    let secret = "Sec/ret+Key=42&é x";
    let server = MockServer::start(MockConfig {
        apps: vec![MockApp::mp(&id, secret)],
        ..MockConfig::default()
    })
    .unwrap();
    let spellings = [
        secret.to_string(),
        "Sec%2Fret%2BKey%3D42%26%C3%A9+x".to_string(),
        "Sec%2Fret%2BKey%3D42%26%C3%A9%20x".to_string(),
        "Sec%2fret%2bKey%3d42%26%c3%a9+x".to_string(),
        "Sec%2Fret%2BKey%3D42%26%c3%a9%20x".to_string(),
    ];
    let leaked = |text: &str| {
        spellings
            .iter()
            .chain(["%C3%A9", "%c3%a9", "é"].map(String::from).iter())
            .any(|s| text.contains(s.as_str()))
    };
    for (n, echoed) in spellings.iter().enumerate() {
        let body = serde_json::json!({
            "errcode": 40125,
            "errmsg": format!("invalid appsecret, secret={echoed}&appid={id} hint: [{echoed}]"),
        });
        server.set_fault(Fault::Body(body.to_string()), None);
        let app = configure(&server, &id, |c| {
            c.secret = wxtoken::Secret::new(secret);
            c.name = format!("{id}-{n}");
        });
        let err = wxtoken::get(&app).unwrap_err();
        assert_eq!(err.errcode(), 40125);
        let status = wxtoken::status(&app).unwrap().to_string();
        for text in [err.to_string(), format!("{err:?}"), status] {
            assert!(!leaked(&text), "{echoed} leaked: {text}");
            assert!(text.contains("secret=***&appid"), "{text}");
        }
        // The CLI, with its log lines, sees the same.
        let out = cli(
            &[
                "token",
                "--appid",
                &id,
                "--store",
                "memory",
                "--api-base",
                &server.base_url(),
            ],
            &[("WXTOKEN_SECRET", secret), ("WXTOKEN_LOG", "1")],
        );
        assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
        assert!(!leaked(&stderr(&out)), "{}", stderr(&out));
    }
}

/// A one-letter secret: wxtoken's own messages stay readable (before the
/// fix: "did not an***wer within 200 m***"), and transport failures, whose
/// ureq text quotes the URL, show neither the secret nor its query.
#[test]
fn a_short_secret_is_not_spelled_out_and_transport_text_never_passes() {
    let id = appid("short");
    let server = MockServer::start(MockConfig {
        apps: vec![MockApp::mp(&id, "s")],
        ..MockConfig::default()
    })
    .unwrap();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cases = [
        (
            Some(Fault::Slow(Duration::from_secs(3))),
            server.base_url(),
            "did not answer within 200 ms",
        ),
        (Some(Fault::Drop), server.base_url(), "token endpoint"),
        (
            None,
            server.base_url().replace("http:", "https:"),
            "token endpoint",
        ),
        (
            None,
            format!("http://127.0.0.1:{closed}"),
            "connection failed",
        ),
    ];
    for (n, (fault, base, expected)) in cases.into_iter().enumerate() {
        server.set_fault(fault.unwrap_or(Fault::None), None);
        let app = configure(&server, &id, |c| {
            c.secret = wxtoken::Secret::new("s");
            c.api_base = base.clone();
            c.name = format!("{id}-{n}");
            c.timeout = Duration::from_millis(200);
        });
        let err = wxtoken::get(&app).unwrap_err().to_string();
        assert!(err.contains(expected), "{base}: {err}");
        assert!(
            !err.contains("***") && !err.contains("secret=") && !err.contains("cgi-bin"),
            "{err}"
        );
    }
    server.set_fault(
        Fault::Body(r#"{"errcode":40125,"errmsg":"invalid appsecret s rid: 1"}"#.into()),
        None,
    );
    let app = configure(&server, &id, |c| {
        c.secret = wxtoken::Secret::new("s");
        c.name = format!("{id}-echo");
    });
    let err = wxtoken::get(&app).unwrap_err();
    assert_eq!(err.errmsg(), "invalid appsecret *** rid: 1");
}

// ---- 5. the secret file ----

/// The documented cap (README, `wxtoken --help`).
const SECRET_FILE_CAP: usize = 4096;

/// /dev/zero as a secret file: a prompt, bounded error (before: 4 GB of
/// memory in 4 s), from the flag and from WXTOKEN_SECRET_FILE; a file one
/// byte over the cap likewise, one at the cap is read.
#[test]
fn the_secret_file_is_read_up_to_4_kib() {
    let id = appid("secretfile");
    let server = mock_for(&id, 7200, 300);
    let dir = std::env::temp_dir().join(format!("wxtoken-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let over = dir.join("over");
    std::fs::write(&over, "x".repeat(SECRET_FILE_CAP + 1)).unwrap();
    let at_cap = dir.join("at-cap");
    std::fs::write(&at_cap, "y".repeat(SECRET_FILE_CAP)).unwrap();
    let base = [
        "token",
        "--appid",
        &id,
        "--store",
        "memory",
        "--api-base",
        &server.base_url(),
    ];
    for path in ["/dev/zero", over.to_str().unwrap()] {
        let out = cli(&[&base[..], &["--secret-file", path]].concat(), &[]);
        assert_eq!(out.status.code(), Some(2), "{path}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("larger than 4096 bytes"),
            "{}",
            stderr(&out)
        );
        let out = cli(&base, &[("WXTOKEN_SECRET_FILE", path)]);
        assert_eq!(out.status.code(), Some(2), "env {path}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("larger than 4096 bytes"),
            "{}",
            stderr(&out)
        );
    }
    // Read and sent: the simulator rejects it as the wrong secret.
    let out = cli(
        &[&base[..], &["--secret-file", at_cap.to_str().unwrap()]].concat(),
        &[],
    );
    assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
    let help = cli(&["--help"], &[]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("at most 4096 bytes"));
    std::fs::remove_dir_all(dir).unwrap();
}

// ---- 6. unknown arguments ----

#[test]
fn unknown_arguments_are_not_echoed() {
    let typed = "demo-secret-not-real";
    let cases: [&[&str]; 11] = [
        &["token", typed],
        &["token", "--store", "memory", typed],
        &[typed],
        &["status", "-x", typed],
        &["mock", typed],
        &["token", "--no-such-flag=demo-secret-not-real"],
        &["mock", "--bogus=demo-secret-not-real"],
        &["mock", "--secret", typed],
        &["mock", "--lifetime", typed],
        &["mock", "--listen", typed],
        &["mock", "--allow-ip", typed],
    ];
    for args in cases {
        let out = cli(
            args,
            &[("WXTOKEN_SECRET", SECRET), ("WXTOKEN_APPID", "wxinput")],
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains(typed), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty());
    }
    let out = cli(&["token", "--no-such-flag=x"], &[]);
    assert!(
        stderr(&out).contains("'--no-such-flag'"),
        "flag names are still shown"
    );
}

// ---- 11. a dribbled body is a timeout ----

#[test]
fn a_body_dribbled_past_timeout_ms_is_a_timeout() {
    let id = appid("dribble");
    let server = mock_for(&id, 7200, 300);
    server.set_fault(Fault::Dribble(Duration::from_millis(100)), None);
    let app = configure(&server, &id, |c| {
        c.timeout = Duration::from_millis(300);
        c.wait = Duration::from_secs(5);
    });
    let err = wxtoken::get(&app).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(server.token_calls(&id) >= 1);
    let out = cli(
        &[
            "token",
            "--appid",
            &id,
            "--store",
            "memory",
            "--api-base",
            &server.base_url(),
            "--timeout-ms",
            "300",
        ],
        &[("WXTOKEN_SECRET", SECRET)],
    );
    assert_eq!(out.status.code(), Some(15), "{}", stderr(&out));
    assert!(stderr(&out).contains("[timeout]"), "{}", stderr(&out));
}

// ---- 12. option ranges ----

/// Every numeric option refuses what is out of its documented range, in
/// every spelling, from JSON (C ABI), the environment and CLI flags; the
/// bounds themselves are accepted.
#[test]
fn numeric_options_are_bounded() {
    let id = appid("bounds");
    let ranges = [
        ("refresh_margin_s", 0u64, 7200u64),
        ("timeout_ms", 1, 60_000),
        ("wait_ms", 0, 600_000),
        ("daily_fetch_budget", 1, 2000),
    ];
    for (key, lo, hi) in ranges {
        for ok in [lo, hi] {
            let opts = format!(r#"{{"store":"memory","{key}":{ok}}}"#);
            Config::from_json(Some(&id), Some(SECRET), &opts)
                .unwrap_or_else(|e| panic!("{key}={ok}: {e}"));
        }
        let mut bad: Vec<String> = [hi + 1, 18_446_744_073_709_552, u64::MAX]
            .iter()
            .map(u64::to_string)
            .collect();
        bad.extend(["-1", "1.5", "1e3", "99999999999999999999", "true"].map(String::from));
        if lo > 0 {
            bad.push((lo - 1).to_string());
        }
        let range = format!("from {lo} to {hi}");
        for v in &bad {
            for opts in [
                format!(r#"{{"store":"memory","{key}":{v}}}"#),
                format!(r#"{{"store":"memory","{key}":"{v}"}}"#),
            ] {
                let (status, msg) = c_configure(&id, SECRET, &opts);
                assert_eq!(status, S::WXTOKEN_INVALID_ARGUMENT, "{opts}: {msg}");
                assert!(msg.contains(key) && msg.contains(&range), "{opts}: {msg}");
            }
            let env = format!("WXTOKEN_{}", key.to_uppercase());
            let out = cli(
                &["token", "--appid", &id, "--store", "memory"],
                &[("WXTOKEN_SECRET", SECRET), (&env, v)],
            );
            assert_eq!(out.status.code(), Some(2), "{env}={v}: {}", stderr(&out));
            assert!(stderr(&out).contains(&range), "{}", stderr(&out));
            let flag = format!("--{}", key.replace('_', "-"));
            let out = cli(
                &["token", "--appid", &id, "--store", "memory", &flag, v],
                &[("WXTOKEN_SECRET", SECRET)],
            );
            assert_eq!(out.status.code(), Some(2), "{flag} {v}: {}", stderr(&out));
        }
    }
    // Configs built by hand are held to the same ranges.
    for tweak in [
        (|c: &mut Config| c.wait = Duration::MAX) as fn(&mut Config),
        |c| c.wait = Duration::from_millis(600_001),
        |c| c.timeout = Duration::MAX,
        |c| c.timeout = Duration::ZERO,
        |c| c.refresh_margin = Duration::from_secs(18_446_744_073_709_552),
        |c| c.daily_fetch_budget = 0,
        |c| c.daily_fetch_budget = u64::MAX,
    ] {
        let mut cfg = Config::new(&id, SECRET);
        cfg.store = wxtoken::StoreSpec::Memory;
        tweak(&mut cfg);
        let err = wxtoken::configure(cfg).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    }
}

// ---- 13. control characters and duplicate keys ----

/// An upstream token with a NUL, a newline or any character a URL, header
/// or C string cannot carry is a bad response, never handed out.
#[test]
fn tokens_with_control_characters_are_refused() {
    let id = appid("ctrltok");
    let server = mock_for(&id, 7200, 300);
    let bad = [
        "AB\0CD",
        "AB\nCD",
        "AB\rCD",
        "AB\tCD",
        "AB\u{1b}[2JCD",
        "AB\u{7f}CD",
        "AB CD",
        "ABéCD",
        "AB\u{2028}CD",
    ];
    for (n, token) in bad.iter().enumerate() {
        let body = serde_json::json!({"access_token": token, "expires_in": 7200});
        server.set_fault(Fault::Body(body.to_string()), None);
        let name = format!("{id}-{n}");
        let app = configure(&server, &id, |c| c.name = name.clone());
        let err = wxtoken::get(&app).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadResponse, "{token:?}: {err}");
        assert_eq!(c_get(&app), S::WXTOKEN_BAD_RESPONSE, "C: {token:?}");
        let out = cli(
            &[
                "token",
                "--appid",
                &id,
                "--store",
                "memory",
                "--api-base",
                &server.base_url(),
            ],
            &[("WXTOKEN_SECRET", SECRET)],
        );
        assert_eq!(
            out.status.code(),
            Some(16),
            "CLI: {token:?}: {}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty());
    }
    // An endless life is not believed either.
    let body = r#"{"access_token":"ABCD","expires_in":18446744073709551615}"#;
    server.set_fault(Fault::Body(body.into()), None);
    let app = configure(&server, &id, |c| c.name = format!("{id}-endless"));
    assert_eq!(
        wxtoken::get(&app).unwrap_err().kind(),
        ErrorKind::BadResponse
    );
    server.set_fault(Fault::None, None);
    let app = configure(&server, &id, |c| c.name = format!("{id}-good"));
    let token = wxtoken::get(&app).expect("a good token afterwards");
    assert_eq!(check(&server, &token), 0);
}

/// Names (and every string option) with control characters are refused:
/// C and PHP could never pass a name with a NUL back.
#[test]
fn names_and_string_options_with_control_characters_are_refused() {
    let id = appid("ctrlname");
    for (key, value) in [
        ("name", "a\0b"),
        ("name", "a\nb"),
        ("name", "\u{1b}[31mred"),
        ("store", "file:/tmp/wx\0x"),
        ("api_base", "http://127.0.0.1:1/\0"),
        ("platform", "mp\0"),
    ] {
        let opts = format!(
            r#"{{"store":"memory",{}:{}}}"#,
            json_str(key),
            json_str(value)
        );
        let opts = opts.replacen(r#""store":"memory","store""#, r#""store""#, 1);
        let (status, msg) = c_configure(&id, SECRET, &opts);
        assert_eq!(status, S::WXTOKEN_INVALID_ARGUMENT, "{opts}: {msg}");
        assert!(msg.contains("control character"), "{opts}: {msg}");
    }
    let mut cfg = Config::new(&id, SECRET);
    cfg.name = "a\0b".into();
    assert_eq!(
        wxtoken::configure(cfg).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let out = cli(
        &["token", "--appid", &id, "--store", "memory"],
        &[("WXTOKEN_SECRET", SECRET), ("WXTOKEN_NAME", "a\nb")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("WXTOKEN_NAME must not hold control characters"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn duplicate_option_keys_are_refused() {
    let id = appid("dupkey");
    for opts in [
        r#"{"wait_ms":1,"wait_ms":2}"#,
        r#"{"store":"memory","store":"file"}"#,
        r#"{"name":"a","store":"memory","name":"b"}"#,
        r#"{"store":"memory","name":"x","name":"x"}"#,
    ] {
        let (status, msg) = c_configure(&id, SECRET, opts);
        assert_eq!(status, S::WXTOKEN_INVALID_ARGUMENT, "{opts}: {msg}");
        assert!(msg.contains("given twice"), "{opts}: {msg}");
        assert!(Config::from_json(Some(&id), Some(SECRET), opts).is_err());
    }
    let (status, msg) = c_configure(&id, SECRET, r#"{"store":"memory","name":"once"}"#);
    assert_eq!(status, S::WXTOKEN_OK, "{msg}");
}

/// The platform's errmsg is passed on as one bounded line: a newline in it
/// could forge a log line (`WXTOKEN_LOG`), and its length is the upstream's
/// choice.
#[test]
fn an_upstream_errmsg_cannot_forge_log_lines() {
    let id = appid("errmsg");
    let server = mock_for(&id, 7200, 300);
    let forged = "wxtoken[1]: fetched generation 99, expires in 7200 s";
    let body =
        serde_json::json!({"errcode": 40013, "errmsg": format!("invalid appid\n{forged}\r\n")});
    server.set_fault(Fault::Body(body.to_string()), None);
    let out = cli(
        &[
            "token",
            "--appid",
            &id,
            "--store",
            "memory",
            "--api-base",
            &server.base_url(),
        ],
        &[("WXTOKEN_SECRET", SECRET), ("WXTOKEN_LOG", "1")],
    );
    assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(forged),
        "the text is kept: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).lines().all(|l| !l.starts_with("wxtoken[1]")),
        "{}",
        stderr(&out)
    );
    let body = serde_json::json!({"errcode": 40013, "errmsg": "x".repeat(60_000)});
    server.set_fault(Fault::Body(body.to_string()), None);
    let app = configure(&server, &id, |_| {});
    let err = wxtoken::get(&app).unwrap_err();
    assert_eq!(err.errcode(), 40013);
    assert!(err.errmsg().len() <= 512, "{} chars", err.errmsg().len());
}
