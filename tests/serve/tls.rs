//! TLS for direct exposure: rustls with the configured cert and key; a
//! client that trusts the certificate gets the token over https, and a
//! renewed certificate is served after SIGHUP, without a restart.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::harness::*;
use crate::support::{appid, check, mock_for};

/// A self-signed certificate for 127.0.0.1: `{tag}.pem` and `{tag}.key`.
fn make_cert(dir: &Path, tag: &str) {
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args([
            "-keyout",
            &format!("{tag}.key"),
            "-out",
            &format!("{tag}.pem"),
        ])
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// curl trusting only `ca`: the token, or None if the connection failed.
fn token_over_tls(serve: &Serve, ca: &Path) -> Option<String> {
    let mut curl = Command::new("curl")
        .args(["-fsS", "--max-time", "10", "--cacert"])
        .arg(ca)
        .args(["-K", "-", &format!("{}/v1/apps/shop/token", serve.base)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("curl runs");
    writeln!(
        curl.stdin.take().unwrap(),
        "header = \"Authorization: Bearer {KEY_A}\""
    )
    .unwrap();
    let out = curl.wait_with_output().unwrap();
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    Some(v["access_token"].as_str().unwrap().to_string())
}

#[test]
fn tokens_are_served_over_tls_and_a_renewed_certificate_after_sighup() {
    let dir = TempDir::new("tls");
    make_cert(&dir.0, "old");
    make_cert(&dir.0, "new");
    std::fs::copy(dir.0.join("old.pem"), dir.0.join("cert.pem")).unwrap();
    std::fs::copy(dir.0.join("old.key"), dir.0.join("key.pem")).unwrap();
    let id = appid("tls");
    let server = mock_for(&id, 7200, 300);
    let toml = format!(
        "listen = \"127.0.0.1:0\"\nstore = \"memory\"\n[tls]\ncert_file = \"{0}/cert.pem\"\nkey_file = \"{0}/key.pem\"\n{1}{2}",
        dir.0.display(),
        app_toml(&dir, "shop", &id, &server.base_url()),
        client_toml("billing", KEY_A, &["shop"]),
    );
    let serve = Serve::start(&dir, &toml);
    assert!(
        serve.base.starts_with("https://127.0.0.1:"),
        "{}",
        serve.base
    );
    let token = token_over_tls(&serve, &dir.0.join("old.pem")).expect("the old certificate");
    assert_eq!(check(&server, &token), 0);
    assert_eq!(
        token_over_tls(&serve, &dir.0.join("new.pem")),
        None,
        "not yet"
    );
    // Plain HTTP to the TLS port gets no token.
    let raw = serve.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(!raw.contains("200 OK"), "{raw}");

    // Renewed in place, then SIGHUP.
    std::fs::copy(dir.0.join("new.pem"), dir.0.join("cert.pem")).unwrap();
    std::fs::copy(dir.0.join("new.key"), dir.0.join("key.pem")).unwrap();
    serve.reload(&toml);
    assert_eq!(
        token_over_tls(&serve, &dir.0.join("new.pem")),
        Some(token.clone())
    );
    assert_eq!(token_over_tls(&serve, &dir.0.join("old.pem")), None);
    assert_eq!(server.token_calls(&id), 1);
}
