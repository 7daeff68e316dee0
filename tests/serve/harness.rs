//! A `wxtoken serve` process against a simulator, and a small HTTP client.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::SECRET;

pub const KEY_A: &str = "client-key-A-7f3e9b1c2d4a";
pub const KEY_B: &str = "client-key-B-0a8d6c5e4f21";

pub fn sha256_hex(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A private directory for one test's files, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "wxtoken-serve-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One app section for serve.toml: the test's secret in a file.
pub fn app_toml(dir: &TempDir, name: &str, appid: &str, api_base: &str) -> String {
    let secret = dir.0.join(format!("{name}.secret"));
    std::fs::write(&secret, SECRET).unwrap();
    format!(
        "[[apps]]\nname = \"{name}\"\nappid = \"{appid}\"\nsecret_file = \"{}\"\napi_base = \"{api_base}\"\n",
        secret.display()
    )
}

pub fn client_toml(name: &str, key: &str, apps: &[&str]) -> String {
    let apps: Vec<String> = apps.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "[[clients]]\nname = \"{name}\"\nkey_sha256 = \"{}\"\napps = [{}]\n",
        sha256_hex(key),
        apps.join(", ")
    )
}

pub struct Serve {
    child: Child,
    pub base: String,
    pub config: PathBuf,
    log: PathBuf,
}

impl Serve {
    /// Starts `wxtoken serve` on `toml` (top-level keys first), waits until it listens.
    pub fn start(dir: &TempDir, toml: &str) -> Serve {
        let config = dir.0.join("serve.toml");
        std::fs::write(&config, toml).unwrap();
        let addr = dir.0.join("addr");
        let log = dir.0.join("serve.log");
        let child = Command::new(env!("CARGO_BIN_EXE_wxtoken"))
            .args(["serve", "--config"])
            .arg(&config)
            .arg("--addr-file")
            .arg(&addr)
            .env_remove("WXTOKEN_SECRET")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("wxtoken serve starts");
        let mut serve = Serve {
            child,
            base: String::new(),
            config,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(text) = std::fs::read_to_string(&addr) {
                serve.base = text.trim().to_string();
                return serve;
            }
            if let Ok(Some(status)) = serve.child.try_wait() {
                panic!("wxtoken serve exited with {status}: {}", serve.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("wxtoken serve did not listen within 10 s: {}", serve.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Rewrites the config and sends SIGHUP; waits for the reload line.
    pub fn reload(&self, toml: &str) {
        let before = self.log().matches("reload").count();
        std::fs::write(&self.config, toml).unwrap();
        unsafe { libc::kill(self.pid(), libc::SIGHUP) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.log().matches("reload").count() == before {
            assert!(Instant::now() < deadline, "no reload: {}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM; the exit status, waited for at most 10 s.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit after SIGTERM: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn get(&self, path: &str, key: Option<&str>) -> (u16, Value) {
        let mut req = ureq::get(&format!("{}{path}", self.base)).timeout(Duration::from_secs(15));
        if let Some(k) = key {
            req = req.set("Authorization", &format!("Bearer {k}"));
        }
        answer(req.call())
    }

    pub fn text(&self, path: &str, key: &str) -> (u16, String) {
        let resp = ureq::get(&format!("{}{path}", self.base))
            .timeout(Duration::from_secs(15))
            .set("Authorization", &format!("Bearer {key}"))
            .call();
        match resp {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
            Err(e) => panic!("{e}"),
        }
    }

    pub fn post(&self, path: &str, key: &str, body: &str) -> (u16, Value) {
        answer(
            ureq::post(&format!("{}{path}", self.base))
                .timeout(Duration::from_secs(15))
                .set("Authorization", &format!("Bearer {key}"))
                .set("Content-Type", "application/json")
                .send_string(body),
        )
    }

    pub fn token(&self, app: &str, key: &str) -> String {
        let (code, v) = self.get(&format!("/v1/apps/{app}/token"), Some(key));
        assert_eq!(code, 200, "{v}");
        v["access_token"].as_str().unwrap().to_string()
    }

    /// host:port of a TCP server.
    pub fn host_port(&self) -> String {
        url::Url::parse(&self.base)
            .ok()
            .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port()?)))
            .unwrap()
    }

    /// A raw request on a new connection; the whole answer as text.
    pub fn raw(&self, request: &[u8]) -> String {
        let mut s = std::net::TcpStream::connect(self.host_port()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        s.write_all(request).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

fn answer(r: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    let (code, resp) = match r {
        Ok(r) => (r.status(), r),
        Err(ureq::Error::Status(code, r)) => (code, r),
        Err(e) => panic!("transport error: {e}"),
    };
    let text = resp.into_string().unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (code, v)
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
