//! Transport limits: slow headers and idle connections are closed, many idle
//! connections do not starve an active client, and the unix socket's mode.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::support::{appid, mock_for};

fn served(tag: &str, listen: &str, extra: &str) -> (TempDir, wxtoken_mock::MockServer, Serve) {
    let dir = TempDir::new(tag);
    let id = appid(tag);
    let server = mock_for(&id, 7200, 300);
    let listen = listen.replace("DIR", &dir.0.display().to_string());
    let toml = format!(
        "listen = \"{listen}\"\nstore = \"memory\"\n{extra}\n{}{}",
        app_toml(&dir, "shop", &id, &server.base_url()),
        client_toml("billing", KEY_A, &["shop"]),
    );
    let serve = Serve::start(&dir, &toml);
    (dir, server, serve)
}

/// Seconds until the server closes `s` (reads until EOF), at most 15.
fn closed_after(mut s: TcpStream) -> Duration {
    let start = Instant::now();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return start.elapsed(),
            Ok(_) => {}
        }
    }
}

#[test]
fn slow_headers_and_idle_keep_alive_connections_are_closed() {
    let (_dir, _server, serve) = served(
        "slowloris",
        "127.0.0.1:0",
        "[limits]\nheader_timeout_ms = 500",
    );
    let mut slow = TcpStream::connect(serve.host_port()).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    assert!(closed_after(slow) < Duration::from_secs(5));

    let silent = TcpStream::connect(serve.host_port()).unwrap();
    assert!(closed_after(silent) < Duration::from_secs(5));

    let mut dribble = TcpStream::connect(serve.host_port()).unwrap();
    write!(
        dribble,
        "POST /v1/apps/shop/invalidate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY_A}\r\n\
         Content-Length: 40\r\n\r\n{{\"bad_token\""
    )
    .unwrap();
    let start = Instant::now();
    let mut answer = String::new();
    dribble
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let _ = dribble.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(start.elapsed() < Duration::from_secs(5));

    let mut idle = TcpStream::connect(serve.host_port()).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(
        closed_after(idle) < Duration::from_secs(5),
        "idle after one request"
    );
}

#[test]
fn many_idle_connections_do_not_starve_an_active_client() {
    // Timeouts far beyond the test's bound: only closing idle connections
    // for a new one can serve the active client in time.
    let (_dir, _server, serve) = served(
        "idle",
        "127.0.0.1:0",
        "[limits]\nmax_connections = 16\nheader_timeout_ms = 60000",
    );
    let mut idle: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(serve.host_port()).unwrap())
        .collect();
    // Some idle after a request, too.
    for s in idle.iter_mut().take(8) {
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
    }
    let start = Instant::now();
    for _ in 0..3 {
        assert!(!serve.token("shop", KEY_A).is_empty());
    }
    assert!(start.elapsed() < Duration::from_secs(10));
    drop(idle);
}

#[test]
fn a_unix_socket_gets_the_configured_mode() {
    let (dir, _server, serve) = served("unix", "unix:DIR/serve.sock", "socket_mode = \"0660\"");
    let path = dir.0.join("serve.sock");
    assert_eq!(serve.base, format!("unix:{}", path.display()));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let mut s = std::os::unix::net::UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    write!(
        s,
        "GET /v1/apps/shop/token HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY_A}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("\"access_token\""), "{out}");
}
