//! The listening side: hyper's HTTP/1.1 on a tokio runtime of the server's
//! own thread, and the `MockServer` handle tests hold. Shutting down drops
//! the runtime and with it every connection, hanging and slow ones too.

use super::config::MockConfig;
use super::fault::{Fault, FaultSlot};
use super::http::{self, HttpResponse, MAX_REQUEST};
use super::routes::{self, Route};
use super::state::State;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use serde_json::Value;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A client must send a request's head within this long, and an idle
/// keep-alive connection is closed after it.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// What every connection shares.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) fault: Mutex<FaultSlot>,
    requests: AtomicU64,
    epoch: Instant,
}

impl Shared {
    fn new(cfg: &MockConfig) -> Shared {
        Shared {
            state: Mutex::new(State::new(cfg)),
            fault: Mutex::new(FaultSlot::default()),
            requests: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// The simulator's clock: milliseconds since start.
    pub(crate) fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Takes the fault for one token request, counting it when one is served.
    fn take_fault(&self) -> Fault {
        let fault = self.fault.lock().take();
        if fault != Fault::None {
            self.state.lock().note_fault();
        }
        fault
    }

    pub(crate) fn stats(&self) -> Value {
        let mut v = self.state.lock().stats_json();
        v["requests"] = self.requests.load(Ordering::Relaxed).into();
        v["fault"] = self.fault.lock().to_json();
        v
    }

    pub(crate) fn reset_stats(&self) {
        self.state.lock().reset_stats();
        self.requests.store(0, Ordering::Relaxed);
    }
}

/// A running simulator. Dropping it shuts it down.
pub struct MockServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MockServer {
    /// Binds `cfg.listen` and starts serving on a thread of its own; returns
    /// once the socket listens.
    pub fn start(cfg: MockConfig) -> io::Result<MockServer> {
        let listener = std::net::TcpListener::bind(cfg.listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        // One thread is plenty for a simulator, and a test process may run many.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let listener = {
            let _context = runtime.enter();
            TcpListener::from_std(listener)?
        };
        let shared = Arc::new(Shared::new(&cfg));
        let (stop, stopped) = oneshot::channel::<()>();
        let for_thread = shared.clone();
        let thread = thread::Builder::new()
            .name("wxtoken-mock".into())
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::select! {
                        () = accept_loop(listener, for_thread) => {}
                        _ = stopped => {}
                    }
                });
                // Every connection's task is dropped with the runtime: each
                // connection closes, whatever it was waiting for.
                drop(runtime);
            })?;
        Ok(MockServer {
            shared,
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`, with a loopback host when listening on all interfaces.
    pub fn base_url(&self) -> String {
        format!("http://{}", reachable(self.addr))
    }

    /// Arms `fault` for the next `count` token-endpoint requests (`None` = until changed).
    pub fn set_fault(&self, fault: Fault, count: Option<u64>) {
        self.shared.fault.lock().set(fault, count);
    }

    /// Simulates another party fetching: new current tokens, the old ones invalid at once.
    pub fn supersede(&self, appid: &str) {
        let now = self.shared.now_ms();
        self.shared.state.lock().supersede(now, appid);
    }

    pub fn stats(&self) -> Value {
        self.shared.stats()
    }

    /// All token-endpoint calls (classic, stable, WeCom; failed and faulted ones too).
    pub fn token_calls(&self, appid: &str) -> u64 {
        self.shared.state.lock().token_calls(appid)
    }

    pub fn reset_stats(&self) {
        self.shared.reset_stats();
    }

    /// Starts a new simulated day: classic quotas and stable force budgets start over.
    pub fn new_day(&self) {
        self.shared.state.lock().new_day();
    }

    /// Stops listening, closes every open connection and waits for the server's thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = thread.join();
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The address a client should dial: loopback instead of an unspecified address.
fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(connection(stream, peer.ip(), shared.clone()));
            }
            // Out of descriptors and the like: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Serves one connection, keep-alive, until the client closes it, a head
/// takes too long, or the server stops.
async fn connection(stream: TcpStream, peer: IpAddr, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |req| answer(shared.clone(), peer, req));
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .keep_alive(true)
        // A head past MAX_REQUEST gets 431; the buffer has room to see it.
        .max_header_size(MAX_REQUEST)
        .max_buf_size(2 * MAX_REQUEST)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// The service's error: hyper closes the connection without an answer.
#[derive(Debug)]
struct Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by the drop fault")
    }
}

impl std::error::Error for Dropped {}

/// Answers one request, or applies the armed fault to it. While a fault
/// waits, hyper watches the connection: when the client leaves, this future
/// is dropped, so a fault never outlives its client.
///
/// A token endpoint's answer closes its connection, so that every token
/// call comes on a connection of its own, as it did before hyper: an HTTP
/// client that sends a request on a reused connection and sees it dropped
/// retries at once, silently (ureq does, for a GET), which would turn one
/// attempt into two calls and change what `drop` with a count means.
/// Other routes (checks, admin) keep the connection alive.
async fn answer(
    shared: Arc<Shared>,
    peer: IpAddr,
    req: hyper::Request<Incoming>,
) -> Result<HttpResponse, Dropped> {
    let req = match http::read_request(req, peer).await {
        Ok(req) => req,
        Err(e) => return Ok(routes::bad_request(&e).into_http()),
    };
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let route = Route::of(&req.path);
    if let Some(ep) = route.endpoint() {
        routes::count_token_call(&shared, &req, ep);
    }
    if let Route::Ticket { typed } = route {
        routes::count_ticket_call(&shared, &req, typed);
    }
    let fault = if route.faultable() {
        shared.take_fault()
    } else {
        Fault::None
    };
    match fault {
        Fault::Drop => return Err(Dropped),
        Fault::Hang => return std::future::pending().await,
        Fault::Slow(d) => tokio::time::sleep(d).await,
        _ => {}
    }
    let mut resp = match (fault.canned(), fault) {
        (Some(canned), _) => canned.into_http(),
        (None, Fault::Dribble(gap)) => routes::handle(&shared, &req, route).dribbled(gap),
        (None, _) => routes::handle(&shared, &req, route).into_http(),
    };
    if route.endpoint().is_some() {
        let close = HeaderValue::from_static("close");
        resp.headers_mut().insert(CONNECTION, close);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MockApp;
    use serde_json::json;
    use std::io::{Read, Write};
    use std::net::TcpStream as StdStream;

    fn server() -> MockServer {
        let cfg = MockConfig {
            apps: vec![MockApp::mp("wxa", "sa"), MockApp::wecom("corp", "cs")],
            token_len: 600,
            ..MockConfig::default()
        };
        MockServer::start(cfg).unwrap()
    }

    fn connect(srv: &MockServer) -> StdStream {
        let s = StdStream::connect(srv.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// Sends a raw request and reads until the server closes; returns
    /// (status, body), or None if it closed without an answer.
    fn raw(srv: &MockServer, request: &str) -> Option<(u16, String)> {
        let mut s = connect(srv);
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        let (head, body) = out.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some((status, body.to_owned()))
    }

    fn get(srv: &MockServer, path: &str) -> Option<(u16, String)> {
        raw(
            srv,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
    }

    fn post(srv: &MockServer, path: &str, body: &str) -> Option<(u16, String)> {
        let len = body.len();
        raw(
            srv,
            &format!(
                "POST {path} HTTP/1.1\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n{body}"
            ),
        )
    }

    /// Sends a token request on a connection that stays open.
    fn ask_token(s: &mut StdStream) {
        s.write_all(format!("GET {TOKEN} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
    }

    /// A new connection with a token request sent on it.
    fn asking(srv: &MockServer) -> StdStream {
        let mut s = connect(srv);
        ask_token(&mut s);
        s
    }

    /// Reads one answer off a connection that stays open: the head, then
    /// Content-Length bytes of body.
    fn read_one(s: &mut StdStream) -> (String, String) {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            assert_eq!(s.read(&mut byte).unwrap(), 1, "closed mid-head");
            buf.push(byte[0]);
        }
        let head = String::from_utf8(buf).unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap())
            })
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).unwrap();
        (head, String::from_utf8(body).unwrap())
    }

    fn json_of(reply: Option<(u16, String)>) -> Value {
        let (status, body) = reply.expect("an answer");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    const TOKEN: &str = "/cgi-bin/token?grant_type=client_credential&appid=wxa&secret=sa";
    const STABLE: &str = r#"{"grant_type":"client_credential","appid":"wxa","secret":"sa"}"#;

    #[test]
    fn token_then_check_over_http() {
        let srv = server();
        assert!(srv.base_url().starts_with("http://127.0.0.1:"));
        let v = json_of(get(&srv, TOKEN));
        let token = v["access_token"].as_str().unwrap().to_owned();
        assert_eq!((token.len(), v["expires_in"].as_u64()), (600, Some(7200)));
        let ok = json_of(get(
            &srv,
            &format!("/cgi-bin/getcallbackip?access_token={token}"),
        ));
        assert_eq!(ok["ip_list"][0], "127.0.0.1");
        let bad = json_of(get(&srv, "/cgi-bin/get_api_domain_ip?access_token=zzz"));
        assert_eq!(bad["errcode"], 40014);
        assert!(bad["errmsg"].as_str().unwrap().contains(" rid: "));
        let s = json_of(post(&srv, "/cgi-bin/stable_token", STABLE));
        assert_eq!(s["expires_in"], 7200);
        let wrong = json_of(get(&srv, "/cgi-bin/stable_token?appid=wxa"));
        assert_eq!(wrong["errcode"], 43002);
        let w = json_of(get(&srv, "/cgi-bin/gettoken?corpid=corp&corpsecret=cs"));
        assert_eq!(
            (w["errcode"].as_i64(), w["errmsg"].as_str()),
            (Some(0), Some("ok"))
        );
        srv.supersede("wxa");
        let gone = json_of(get(
            &srv,
            &format!("/cgi-bin/getcallbackip?access_token={token}"),
        ));
        assert_eq!(gone["errcode"], 40001);
        let stats = srv.stats();
        assert_eq!(stats["token_calls"]["wxa"]["token"], 1);
        assert_eq!(stats["checks"]["ok"], 1);
        assert_eq!(srv.token_calls("wxa"), 3);
        let (status, _) = get(&srv, "/nope").unwrap();
        assert_eq!(status, 404);
    }

    /// A chunked body: `text` in two chunks.
    fn chunked(text: &str) -> String {
        let (a, b) = text.split_at(text.len() / 2);
        format!(
            "Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
            a.len(),
            b.len()
        )
    }

    #[test]
    fn keep_alive_chunked_bodies_and_expect_continue() {
        let srv = server();
        let mut s = connect(&srv);
        for _ in 0..3 {
            s.write_all(b"GET /mock/stats HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let (head, body) = read_one(&mut s);
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            assert!(!head.to_ascii_lowercase().contains("connection: close"));
            assert!(serde_json::from_str::<Value>(&body).unwrap()["token_calls"].is_object());
        }
        let config = chunked(r#"{"lifetime_s":60}"#);
        s.write_all(format!("POST /mock/config HTTP/1.1\r\n{config}").as_bytes())
            .unwrap();
        let (_, body) = read_one(&mut s);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["config"]["lifetime_s"], 60, "{body}");
        let supersede = r#"{"appid":"wxa"}"#;
        let len = supersede.len();
        let head = format!(
            "POST /mock/supersede HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: {len}\r\n\r\n"
        );
        s.write_all(head.as_bytes()).unwrap();
        let mut interim = [0u8; 25];
        s.read_exact(&mut interim).unwrap();
        assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        s.write_all(supersede.as_bytes()).unwrap();
        let (_, body) = read_one(&mut s);
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["errcode"], 0);
        // A token call is answered, then its connection closes.
        let stable = chunked(STABLE);
        s.write_all(format!("POST /cgi-bin/stable_token HTTP/1.1\r\n{stable}").as_bytes())
            .unwrap();
        let (head, body) = read_one(&mut s);
        assert!(
            head.to_ascii_lowercase().contains("connection: close"),
            "{head}"
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["expires_in"], 60, "{body}");
        assert_eq!(s.read(&mut [0u8; 1]).unwrap(), 0, "closed");
        assert_eq!(srv.stats()["requests"], 6, "one connection, six requests");
    }

    #[test]
    fn faults_drop_500_garbage_busy() {
        let srv = server();
        srv.set_fault(Fault::Drop, Some(1));
        assert_eq!(get(&srv, TOKEN), None);
        srv.set_fault(Fault::Http500, Some(1));
        assert_eq!(get(&srv, TOKEN).unwrap().0, 500);
        srv.set_fault(Fault::Garbage, Some(1));
        let (status, body) = get(&srv, TOKEN).unwrap();
        assert_eq!(status, 200);
        assert!(serde_json::from_str::<Value>(&body).is_err());
        let fault = r#"{"mode":"busy","count":1}"#;
        assert_eq!(json_of(post(&srv, "/mock/fault", fault))["errcode"], 0);
        assert_eq!(json_of(get(&srv, TOKEN))["errcode"], -1);
        assert!(json_of(get(&srv, TOKEN))["access_token"].is_string());
        let stats = json_of(get(&srv, "/mock/stats"));
        assert_eq!(stats["faults_served"], 4);
        assert_eq!(stats["token_calls"]["wxa"]["token"], 5);
        assert_eq!(stats["tokens_issued"], 1);
    }

    #[test]
    fn drop_closes_a_keep_alive_connection_without_an_answer() {
        let srv = server();
        let mut s = connect(&srv);
        s.write_all(b"GET /mock/stats HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let (head, _) = read_one(&mut s);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        srv.set_fault(Fault::Drop, Some(1));
        let t0 = Instant::now();
        ask_token(&mut s);
        let mut out = Vec::new();
        let n = s
            .read_to_end(&mut out)
            .expect("a clean close, not a timeout");
        assert_eq!(
            n,
            0,
            "not a byte of an answer: {:?}",
            String::from_utf8_lossy(&out)
        );
        assert!(t0.elapsed() < Duration::from_secs(2));
        assert!(json_of(get(&srv, TOKEN))["access_token"].is_string());
        assert_eq!(srv.stats()["faults_served"], 1);
    }

    #[test]
    fn slow_fault_delays() {
        let srv = server();
        srv.set_fault(Fault::Slow(Duration::from_millis(200)), None);
        let t0 = Instant::now();
        assert!(json_of(get(&srv, TOKEN))["access_token"].is_string());
        assert!(t0.elapsed() >= Duration::from_millis(200));
    }

    #[test]
    fn a_fault_ends_when_its_client_leaves() {
        let srv = server();
        srv.set_fault(Fault::Slow(Duration::from_millis(400)), Some(1));
        let s = asking(&srv);
        thread::sleep(Duration::from_millis(100));
        drop(s);
        thread::sleep(Duration::from_millis(700));
        let stats = srv.stats();
        assert_eq!(stats["faults_served"], 1);
        assert_eq!(stats["tokens_issued"], 0, "nobody to answer: no token made");
    }

    #[test]
    fn dribble_and_body_faults() {
        let srv = server();
        srv.set_fault(Fault::Dribble(Duration::from_millis(5)), Some(1));
        let t0 = Instant::now();
        let v = json_of(get(&srv, TOKEN));
        assert!(v["access_token"].is_string());
        let len = v.to_string().len() as u32;
        assert!(
            t0.elapsed() >= Duration::from_millis(5) * len,
            "one byte per gap"
        );
        srv.set_fault(
            Fault::Body(r#"{"access_token":"A\u0000B"}"#.into()),
            Some(1),
        );
        assert_eq!(json_of(get(&srv, TOKEN))["access_token"], "A\0B");
    }

    #[test]
    fn dribble_sends_the_head_at_once() {
        let srv = server();
        srv.set_fault(Fault::Dribble(Duration::from_millis(300)), Some(1));
        let mut s = asking(&srv);
        let t0 = Instant::now();
        let mut first = [0u8; 12];
        s.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");
        assert!(
            t0.elapsed() < Duration::from_millis(250),
            "{:?}",
            t0.elapsed()
        );
    }

    #[test]
    fn shutdown_ends_a_hanging_request() {
        let srv = server();
        srv.set_fault(Fault::Hang, None);
        let addr = srv.addr();
        let client = thread::spawn(move || {
            let mut s = StdStream::connect(addr).unwrap();
            ask_token(&mut s);
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            out.len()
        });
        // An idle keep-alive connection is closed too.
        let mut idle = connect(&srv);
        thread::sleep(Duration::from_millis(200));
        let t0 = Instant::now();
        srv.shutdown();
        assert!(t0.elapsed() < Duration::from_secs(3));
        assert_eq!(client.join().unwrap(), 0, "no answer, just a close");
        assert_eq!(idle.read(&mut [0u8; 1]).unwrap(), 0);
    }

    #[test]
    fn bad_and_oversized_requests() {
        let srv = server();
        assert_eq!(raw(&srv, "NONSENSE\r\n\r\n").unwrap().0, 400);
        // hyper answers a head past the cap: 414 for a long target, 431 for
        // the headers (or it just closes).
        let long_target = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_REQUEST));
        let long_header = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_REQUEST));
        for (huge, statuses) in [(long_target, ["414", "431"]), (long_header, ["431"; 2])] {
            let mut s = connect(&srv);
            let _ = s.write_all(huge.as_bytes());
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            let status = out.get(9..12).unwrap_or("");
            assert!(out.is_empty() || statuses.contains(&status), "{out:.40}");
        }
        let declared =
            "POST /mock/fault HTTP/1.1\r\nContent-Length: 99999999\r\nConnection: close\r\n\r\n";
        let (status, body) = raw(&srv, declared).unwrap();
        assert_eq!(status, 413);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["errcode"],
            40097
        );
        let big = "a".repeat(MAX_REQUEST + 1);
        let chunked = format!(
            "POST /mock/fault HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
             {:x}\r\n{big}\r\n0\r\n\r\n",
            big.len()
        );
        assert_eq!(raw(&srv, &chunked).unwrap().0, 413);
        let bad_chunk = "POST /mock/fault HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert!(raw(&srv, bad_chunk).is_none_or(|(status, _)| status == 400));
        // A silent client does not stop the server from answering others.
        let _idle = connect(&srv);
        assert_eq!(json_of(get(&srv, "/mock/stats"))["requests"], 1);
    }

    #[test]
    fn admin_config_and_reset() {
        let srv = server();
        let cfg = json_of(post(
            &srv,
            "/mock/config",
            r#"{"lifetime_s":2,"token_len":30}"#,
        ));
        assert_eq!(cfg["config"]["lifetime_s"], 2);
        let (status, _) = post(&srv, "/mock/config", r#"{"lifetime":2}"#).unwrap();
        assert_eq!(status, 400);
        let v = json_of(get(&srv, TOKEN));
        assert_eq!(
            (
                v["expires_in"].as_u64(),
                v["access_token"].as_str().map(str::len)
            ),
            (Some(2), Some(30))
        );
        assert_eq!(
            json_of(post(&srv, "/mock/supersede", r#"{"appid":"wxa"}"#))["errcode"],
            0
        );
        assert_eq!(
            json_of(post(&srv, "/mock/supersede", r#"{"appid":"no"}"#))["errcode"],
            40013
        );
        json_of(post(&srv, "/mock/new_day", ""));
        json_of(post(&srv, "/mock/reset_stats", ""));
        assert_eq!(srv.stats()["token_calls"], json!({}));
    }
}
