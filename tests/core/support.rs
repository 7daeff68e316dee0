//! Shared fixtures: a simulator per test, unique app ids, the business check.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use wxtoken::{Config, StoreSpec};
use wxtoken_mock::{MockApp, MockConfig, MockServer};

pub const SECRET: &str = "s3cret-Only-The-Test-Knows";

/// An appid no other test in this process uses.
pub fn appid(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "wx{tag}{}x{}",
        NEXT.fetch_add(1, Ordering::SeqCst),
        std::process::id()
    )
}

/// A simulator serving one classic app with the given lifetimes.
pub fn mock_for(appid: &str, lifetime_s: u64, overlap_s: u64) -> MockServer {
    MockServer::start(MockConfig {
        apps: vec![MockApp::mp(appid, SECRET)],
        lifetime_s,
        overlap_s,
        ..MockConfig::default()
    })
    .expect("simulator starts")
}

/// A memory-store config pointed at `server`.
pub fn config(server: &MockServer, appid: &str) -> Config {
    let mut cfg = Config::new(appid, SECRET);
    cfg.api_base = server.base_url();
    cfg.store = StoreSpec::Memory;
    cfg
}

/// Configures with `tweak` applied; returns the app name.
pub fn configure(server: &MockServer, appid: &str, tweak: impl FnOnce(&mut Config)) -> String {
    let mut cfg = config(server, appid);
    tweak(&mut cfg);
    wxtoken::configure(cfg).expect("configure")
}

/// The platform's verdict on a token: 0 when accepted, else its errcode.
pub fn check(server: &MockServer, token: &str) -> i64 {
    let body = ureq::get(&format!("{}/cgi-bin/get_api_domain_ip", server.base_url()))
        .query("access_token", token)
        .timeout(Duration::from_secs(5))
        .call()
        .expect("business check answers")
        .into_string()
        .expect("body");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    if v.get("ip_list").is_some() {
        0
    } else {
        v["errcode"].as_i64().expect("errcode")
    }
}

/// The `wxtoken` command against `server` as app `appid`, secret from the
/// environment; add the subcommand and flags.
pub fn wxtoken_cli(server: &MockServer, appid: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wxtoken"));
    cmd.args(args)
        .args(["--appid", appid, "--api-base", &server.base_url()])
        .env("WXTOKEN_SECRET", SECRET);
    cmd
}

/// The token a successful `wxtoken` process printed.
pub fn printed_token(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// The child's exit status, or None if it had to be killed after `bound`.
#[allow(dead_code)] // for the fork storms of tests/adversarial
pub fn wait_for(pid: libc::pid_t, bound: Duration) -> Option<i32> {
    let deadline = std::time::Instant::now() + bound;
    let mut status = 0;
    while std::time::Instant::now() < deadline {
        // SAFETY: pid is our child; status is a valid out-pointer.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
            return Some(if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                100 + libc::WTERMSIG(status)
            });
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // SAFETY: killing and reaping our own hung child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, &mut status, 0);
    }
    None
}
