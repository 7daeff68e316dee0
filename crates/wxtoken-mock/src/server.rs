//! The listening side: one thread per connection, a clean shutdown that also ends hanging
//! and slow requests, and the `MockServer` handle tests hold.

use super::config::MockConfig;
use super::fault::{Fault, FaultSlot};
use super::http::{self, ReadError};
use super::routes::{self, Route};
use super::state::State;
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{self, ErrorKind, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// A silent client cannot pin a thread longer than this.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How often waiting faults look at the shutdown flag and the client.
const SLICE: Duration = Duration::from_millis(20);

/// Open connections, so shutdown can unblock their reads and wait for their threads.
#[derive(Default)]
struct Conns {
    next_id: u64,
    open: HashMap<u64, TcpStream>,
    threads: Vec<JoinHandle<()>>,
}

/// What every connection thread shares.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) fault: Mutex<FaultSlot>,
    requests: AtomicU64,
    stop: AtomicBool,
    epoch: Instant,
    conns: Mutex<Conns>,
}

impl Shared {
    fn new(cfg: &MockConfig) -> Shared {
        Shared {
            state: Mutex::new(State::new(cfg)),
            fault: Mutex::new(FaultSlot::default()),
            requests: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            epoch: Instant::now(),
            conns: Mutex::new(Conns::default()),
        }
    }

    /// The simulator's clock: milliseconds since start.
    pub(crate) fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
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

    /// Waits up to `d` (forever for `Duration::MAX`) while watching the client: returns
    /// false if the server is stopping or the client has gone, so a fault never outlives them.
    fn wait(&self, stream: &mut TcpStream, d: Duration) -> bool {
        let deadline = Instant::now().checked_add(d);
        let mut scratch = [0u8; 512];
        loop {
            if self.stopping() {
                return false;
            }
            let left = deadline.map_or(SLICE, |t| t.saturating_duration_since(Instant::now()));
            if left.is_zero() {
                return true;
            }
            let _ = stream.set_read_timeout(Some(left.min(SLICE)));
            match stream.read(&mut scratch) {
                Ok(0) => return false,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }
}

/// A running simulator. Dropping it shuts it down.
pub struct MockServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl MockServer {
    /// Binds `cfg.listen` and starts serving in background threads.
    pub fn start(cfg: MockConfig) -> io::Result<MockServer> {
        let listener = TcpListener::bind(cfg.listen)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(&cfg));
        let for_thread = shared.clone();
        let accept = thread::Builder::new()
            .name("wxtoken-mock-accept".into())
            .spawn(move || accept_loop(&for_thread, listener))?;
        Ok(MockServer {
            shared,
            addr,
            accept: Some(accept),
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

    /// Stops accepting, ends every open connection and waits for all threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.shared.stop.store(true, Ordering::SeqCst);
        // accept() has no timeout: a connection of our own wakes it to see the flag.
        if TcpStream::connect_timeout(&reachable(self.addr), Duration::from_secs(1)).is_ok() {
            let _ = accept.join();
        }
        let (open, threads) = {
            let mut conns = self.shared.conns.lock();
            let open: Vec<TcpStream> = conns.open.drain().map(|(_, s)| s).collect();
            (open, std::mem::take(&mut conns.threads))
        };
        for stream in open {
            let _ = stream.shutdown(Shutdown::Both);
        }
        for t in threads {
            let _ = t.join();
        }
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

fn accept_loop(shared: &Arc<Shared>, listener: TcpListener) {
    for conn in listener.incoming() {
        if shared.stopping() {
            return;
        }
        match conn {
            Ok(stream) => spawn_conn(shared, stream),
            // Out of descriptors and the like: back off instead of spinning.
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn spawn_conn(shared: &Arc<Shared>, stream: TcpStream) {
    let Ok(peer) = stream.peer_addr() else {
        return;
    };
    let mut conns = shared.conns.lock();
    let id = conns.next_id;
    conns.next_id += 1;
    if let Ok(clone) = stream.try_clone() {
        conns.open.insert(id, clone);
    }
    let for_thread = shared.clone();
    let spawned = thread::Builder::new()
        .name("wxtoken-mock-conn".into())
        .spawn(move || {
            serve(&for_thread, stream, peer.ip());
            for_thread.conns.lock().open.remove(&id);
        });
    match spawned {
        Ok(handle) => {
            conns.threads.retain(|t| !t.is_finished());
            conns.threads.push(handle);
        }
        Err(_) => {
            conns.open.remove(&id);
        }
    }
}

/// Serves one request on one connection, then closes it.
fn serve(shared: &Shared, mut stream: TcpStream, peer: IpAddr) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let req = match http::read_request(&mut stream, peer) {
        Ok(req) => req,
        Err(ReadError::Closed) => return,
        Err(e) => return finish(stream, &routes::bad_request(&e)),
    };
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let route = Route::of(&req.path);
    let mut fault = Fault::None;
    if let Some(ep) = route.endpoint() {
        routes::count_token_call(shared, &req, ep);
        fault = shared.take_fault();
    }
    match fault {
        Fault::Drop => return,
        Fault::Hang => {
            shared.wait(&mut stream, Duration::MAX);
            return;
        }
        Fault::Slow(d) if !shared.wait(&mut stream, d) => return,
        _ => {}
    }
    if let Some(canned) = fault.canned() {
        return finish(stream, &canned);
    }
    let resp = routes::handle(shared, &req, route);
    if let Fault::Dribble(gap) = fault {
        return dribble(shared, stream, &resp, gap);
    }
    finish(stream, &resp);
}

/// Sends the head at once, then the body one byte per `gap`, for as long as
/// the client stays and the server runs.
fn dribble(shared: &Shared, mut stream: TcpStream, resp: &http::Response, gap: Duration) {
    use std::io::Write;
    if stream.write_all(resp.head().as_bytes()).is_err() {
        return;
    }
    for byte in &resp.body {
        if !shared.wait(&mut stream, gap) || stream.write_all(&[*byte]).is_err() {
            return;
        }
    }
    let _ = stream.shutdown(Shutdown::Write);
}

/// Writes the answer and closes our side, so the client sees the end of the body at once.
fn finish(mut stream: TcpStream, resp: &http::Response) {
    let _ = resp.write_to(&mut stream);
    let _ = stream.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MockApp;
    use serde_json::json;
    use std::io::Write;

    fn server() -> MockServer {
        let cfg = MockConfig {
            apps: vec![MockApp::mp("wxa", "sa"), MockApp::wecom("corp", "cs")],
            token_len: 600,
            ..MockConfig::default()
        };
        MockServer::start(cfg).unwrap()
    }

    /// Sends a raw request; returns (status, body), or None if the server closed silently.
    fn raw(srv: &MockServer, request: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(srv.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        let (head, body) = out.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some((status, body.to_owned()))
    }

    fn get(srv: &MockServer, path: &str) -> Option<(u16, String)> {
        raw(srv, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"))
    }

    fn post(srv: &MockServer, path: &str, body: &str) -> Option<(u16, String)> {
        let len = body.len();
        raw(
            srv,
            &format!("POST {path} HTTP/1.1\r\nContent-Length: {len}\r\n\r\n{body}"),
        )
    }

    fn json_of(reply: Option<(u16, String)>) -> Value {
        let (status, body) = reply.expect("an answer");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    const TOKEN: &str = "/cgi-bin/token?grant_type=client_credential&appid=wxa&secret=sa";

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
        let stable = r#"{"grant_type":"client_credential","appid":"wxa","secret":"sa"}"#;
        let s = json_of(post(&srv, "/cgi-bin/stable_token", stable));
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
    fn slow_fault_delays() {
        let srv = server();
        srv.set_fault(Fault::Slow(Duration::from_millis(200)), None);
        let t0 = Instant::now();
        assert!(json_of(get(&srv, TOKEN))["access_token"].is_string());
        assert!(t0.elapsed() >= Duration::from_millis(200));
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
    fn shutdown_ends_a_hanging_request() {
        let srv = server();
        srv.set_fault(Fault::Hang, None);
        let addr = srv.addr();
        let client = thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(format!("GET {TOKEN} HTTP/1.1\r\n\r\n").as_bytes())
                .unwrap();
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            out.len()
        });
        thread::sleep(Duration::from_millis(200));
        let t0 = Instant::now();
        srv.shutdown();
        assert!(t0.elapsed() < Duration::from_secs(3));
        assert_eq!(client.join().unwrap(), 0, "no answer, just a close");
    }

    #[test]
    fn garbage_requests_get_400_or_413() {
        let srv = server();
        assert_eq!(raw(&srv, "NONSENSE\r\n\r\n").unwrap().0, 400);
        let huge = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(70_000));
        let mut s = TcpStream::connect(srv.addr()).unwrap();
        let _ = s.write_all(huge.as_bytes());
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        assert!(
            out.is_empty() || out.starts_with("HTTP/1.1 413"),
            "{out:.40}"
        );
        drop(s);
        // A silent client does not stop the server from answering others.
        let _idle = TcpStream::connect(srv.addr()).unwrap();
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
        json_of(post(&srv, "/mock/reset_stats", ""));
        assert_eq!(srv.stats()["token_calls"], json!({}));
    }
}
