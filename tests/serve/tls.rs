//! TLS for direct exposure: rustls with the configured cert and key; a
//! client that trusts the certificate gets the token over https.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::harness::*;
use crate::support::{appid, check, mock_for};

#[test]
fn tokens_are_served_over_tls() {
    let dir = TempDir::new("tls");
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .current_dir(&dir.0)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    let mut curl = Command::new("curl")
        .args(["-fsS", "--max-time", "10", "--cacert"])
        .arg(dir.0.join("cert.pem"))
        .args(["-K", "-", &format!("{}/v1/apps/shop/token", serve.base)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("curl runs");
    writeln!(
        curl.stdin.take().unwrap(),
        "header = \"Authorization: Bearer {KEY_A}\""
    )
    .unwrap();
    let out = curl.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(check(&server, v["access_token"].as_str().unwrap()), 0);
    // Plain HTTP to the TLS port gets no token.
    let raw = serve.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(!raw.contains("200 OK"), "{raw}");
}
