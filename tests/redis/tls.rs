//! rediss://: the server's certificate is checked, against a CA named by
//! redis_ca_file (here one the test makes with openssl) or the system's
//! roots; turning the check off is refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use wxtoken::{ErrorKind, StoreSpec};

use crate::server::RedisServer;
use crate::support::*;

/// A CA and a server certificate for 127.0.0.1 signed by it.
fn make_certs(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    let steps: [&[&str]; 3] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=wxtoken-test-ca",
        ],
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext",
        ],
    ];
    for args in steps {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

struct Certs(PathBuf);

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn rediss_checks_the_server_against_the_named_ca() {
    let certs = Certs(std::env::temp_dir().join(format!("wxtoken-tls-{}", std::process::id())));
    make_certs(&certs.0);
    let file = |name: &str| certs.0.join(name).display().to_string();
    let redis = RedisServer::start_tls(&[
        "--tls-cert-file",
        &file("server.pem"),
        "--tls-key-file",
        &file("server.key"),
        "--tls-ca-cert-file",
        &file("ca.pem"),
        "--tls-auth-clients",
        "no",
    ]);
    let url = format!("rediss://127.0.0.1:{}/0", redis.port);
    let id = appid("rtls");
    let server = mock_for(&id, 7200, 300);

    let app = configure(&server, &id, |c| {
        c.store = StoreSpec::Redis(url.clone());
        c.redis_ca_file = Some(certs.0.join("ca.pem"));
    });
    let token = wxtoken::get(&app).unwrap();
    assert_eq!(check(&server, &token), 0);
    let status = wxtoken::status(&app).unwrap();
    assert_eq!(
        status["store"],
        format!("rediss://127.0.0.1:{}/0", redis.port)
    );

    // The system's roots do not know the test's CA: refused, a store error.
    let unknown = configure(&server, &id, |c| {
        c.store = StoreSpec::Redis(url.clone());
        c.name = format!("{id}-system-roots");
        c.wait = std::time::Duration::from_millis(500);
    });
    let err = wxtoken::get(&unknown).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store, "{err}");
    assert!(err.to_string().contains("TLS handshake failed"), "{err}");

    // Another process through the same TLS store shares the token.
    let out = crate::fleet::cli(&server, &id, &url, &["token"])
        .env("WXTOKEN_REDIS_CA_FILE", certs.0.join("ca.pem"))
        .output()
        .unwrap();
    assert_eq!(printed_token(out), token.to_string());
    assert_eq!(server.token_calls(&id), 1);

    // Certificate checks cannot be turned off.
    let mut cfg = config(&server, &id);
    cfg.store = StoreSpec::Redis(format!("{url}#insecure"));
    cfg.name = format!("{id}-insecure");
    let err = wxtoken::configure(cfg).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
}
