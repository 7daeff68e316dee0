//! A real redis-server for one test: a free loopback port, its own temp dir,
//! no persistence (a restart comes back empty), stopped on drop.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub struct RedisServer {
    pub port: u16,
    dir: PathBuf,
    args: Vec<String>,
    tls: bool,
    /// A sentinel: its config file (sentinel rewrites it, so it is ours).
    sentinel_conf: Option<PathBuf>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts redis-server with extra `args` (ACL users, TLS settings).
    /// Panics, loudly, when redis-server is not installed.
    pub fn start(args: &[&str]) -> RedisServer {
        Self::start_with(args, false)
    }

    /// TLS only (no plain port), with `args` naming cert, key and CA.
    pub fn start_tls(args: &[&str]) -> RedisServer {
        Self::start_with(args, true)
    }

    fn start_with(args: &[&str], tls: bool) -> RedisServer {
        Self::start_full(args, tls, None)
    }

    fn start_full(args: &[&str], tls: bool, sentinel: Option<String>) -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let dir = std::env::temp_dir().join(format!("wxtoken-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sentinel_conf = sentinel.map(|text| {
            let conf = dir.join("sentinel.conf");
            std::fs::write(&conf, text).unwrap();
            conf
        });
        let mut server = RedisServer {
            port,
            dir,
            args: args.iter().map(|s| s.to_string()).collect(),
            tls,
            sentinel_conf,
            child: None,
        };
        server.restart();
        server
    }

    /// A sentinel monitoring the primary on `primary_port` as `service`,
    /// quick to declare it down and to fail over.
    pub fn start_sentinel(service: &str, primary_port: u16) -> RedisServer {
        let conf = format!(
            "sentinel monitor {service} 127.0.0.1 {primary_port} 1\n\
             sentinel down-after-milliseconds {service} 1000\n\
             sentinel failover-timeout {service} 5000\n"
        );
        Self::start_full(&[], false, Some(conf))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts it (again) on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        let mut cmd = Command::new("redis-server");
        if let Some(conf) = &self.sentinel_conf {
            cmd.arg(conf).arg("--sentinel");
        }
        cmd.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir);
        if self.tls {
            cmd.args(["--port", "0", "--tls-port", &self.port.to_string()]);
        } else {
            cmd.args(["--port", &self.port.to_string()]);
        }
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot start redis-server ({e}): install it (apt-get install redis-server)")
        });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {}",
                self.port
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A direct connection (as the admin) for looking at what the store wrote.
    pub fn admin(&self, url: &str) -> redis::Connection {
        redis::Client::open(url)
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("admin connection")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
