//! `wxtoken mock`: the simulator (crate wxtoken-mock) as a process, for tests
//! in other languages and for offline development. Secrets come from the
//! environment or a file, never from argv (`ps` shows it).

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ArgAction;
use serde_json::Value;
use wxtoken_mock::{MockApp, MockConfig, MockPlatform, MockServer};

/// The head of `wxtoken mock --help`; the one-line about, for `wxtoken
/// --help`, is on the subcommand in main.rs.
pub const LONG_ABOUT: &str = "\
wxtoken mock: an offline simulator of the WeChat access_token APIs

Serves, over plain HTTP (loopback by default), what api.weixin.qq.com and qyapi.weixin.qq.com do:
  GET  /cgi-bin/token?grant_type=client_credential&appid=..&secret=..   classic token
  POST /cgi-bin/stable_token  {\"grant_type\",\"appid\",\"secret\",\"force_refresh\"}
  GET  /cgi-bin/gettoken?corpid=..&corpsecret=..                         WeCom token
  GET  /cgi-bin/get_api_domain_ip?access_token=..  (or /cgi-bin/getcallbackip)
  POST /cgi-bin/clear_quota?access_token=..  and  POST /cgi-bin/clear_quota/v2
with the platform's rules: each classic fetch supersedes the previous token after an
overlap (then 40001), expired tokens get 42001, unknown ones 40014, a daily quota (45009),
stable tokens reused until their last overlap window, force refresh spacing and limits,
one WeCom token per (corpid, secret), and the platform's error codes.";

/// The end of `wxtoken mock --help`.
const AFTER_HELP: &str = "\
APPS: from --apps-file, plus WXTOKEN_APPID + WXTOKEN_SECRET (+ WXTOKEN_PLATFORM) from the
environment; with neither, the demo app appid wx0000000000demo, secret demo-secret-not-real.
Secrets are never taken from the command line.

On start one line `listening on http://127.0.0.1:PORT` is printed to stdout; the simulator
then serves until it is killed.

ADMIN ENDPOINTS (never faulted):
  GET  /mock/stats          counters: token_calls per app and endpoint, tokens_issued,
                            checks by outcome, faults_served, current config and fault
  POST /mock/reset_stats    zero the counters
  POST /mock/fault          {\"mode\":\"none|busy|http500|garbage|hang|drop|slow|dribble|body\",
                             \"count\":N (optional: next N token calls),
                             \"delay_ms\":N (slow: before answering; dribble: between bytes),
                             \"body\":\"..\" (body: answered as is, HTTP 200)}
  POST /mock/supersede      {\"appid\":\"..\"}: someone else fetched; current tokens die now
  POST /mock/config         {\"lifetime_s\",\"overlap_s\",\"daily_quota\",\"token_len\",
                             \"stable_force_spacing_s\",\"stable_force_daily\"}
  POST /mock/new_day        classic quotas and stable force budgets start over

EXAMPLES:
  wxtoken mock --port-file /tmp/wx.url --lifetime 10 --overlap 3 &
  URL=$(cat /tmp/wx.url)
  curl \"$URL/cgi-bin/token?grant_type=client_credential&appid=wx0000000000demo&secret=demo-secret-not-real\"
  curl -X POST \"$URL/cgi-bin/stable_token\" -d '{\"grant_type\":\"client_credential\",\"appid\":\"wx0000000000demo\",\"secret\":\"demo-secret-not-real\"}'
  curl \"$URL/cgi-bin/getcallbackip?access_token=TOKEN\"
  curl -X POST \"$URL/mock/fault\" -d '{\"mode\":\"busy\",\"count\":2}'
  curl \"$URL/mock/stats\"";

/// The simulator's options. Values are checked by parsers whose messages
/// name the flag and what it takes, never the value given.
#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP, disable_help_flag = true)]
pub struct MockArgs {
    /// Address to listen on (default 127.0.0.1:0 = a free port; a bare port
    /// number means 127.0.0.1:PORT)
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    listen: Option<SocketAddr>,
    /// expires_in of issued tokens, in seconds (default 7200)
    #[arg(long, value_name = "S", value_parser = |v: &str| at_least(v, 1))]
    lifetime: Option<u64>,
    /// Classic: how long a superseded token still works; stable: the final
    /// window in which a normal call renews (default 300)
    #[arg(long, value_name = "S", value_parser = |v: &str| at_least(v, 0))]
    overlap: Option<u64>,
    /// Classic token fetches per app per day (default 2000)
    #[arg(long, value_name = "N", value_parser = |v: &str| at_least(v, 0))]
    quota: Option<u64>,
    /// Length of issued tokens (default 136, 24..=16384)
    #[arg(long, value_name = "N", value_parser = token_len)]
    token_len: Option<usize>,
    /// Caller IP allow-list, repeatable (others get 40164 / 60020)
    #[arg(long, value_name = "IP", value_parser = parse_ip)]
    allow_ip: Vec<IpAddr>,
    /// JSON array of apps: [{"appid":"..","secret":"..","platform":"mp|wecom"}]
    #[arg(long, value_name = "FILE")]
    apps_file: Vec<PathBuf>,
    /// Write the base URL there once listening (atomically, via rename)
    #[arg(long, value_name = "FILE")]
    port_file: Option<PathBuf>,
    /// This text
    #[arg(short, long, action = ArgAction::HelpLong)]
    help: Option<bool>,
    /// Refused: a secret on the command line is visible in ps.
    #[arg(long, hide = true, num_args = 0..=1, value_name = "SECRET")]
    secret: Option<Option<String>>,
}

/// Runs `wxtoken mock`; returns only on failure (2: bad usage, 1: cannot serve).
pub fn run(args: &MockArgs) -> ExitCode {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let cfg = match config(args, &env) {
        Ok(cfg) => cfg,
        Err(msg) => {
            eprintln!("wxtoken mock: {msg}\nTry 'wxtoken mock --help'.");
            return ExitCode::from(2);
        }
    };
    let msg = serve(cfg, args.port_file.as_deref());
    eprintln!("wxtoken mock: {msg}");
    ExitCode::from(1)
}

/// Serves until killed; returns why it cannot.
fn serve(cfg: MockConfig, port_file: Option<&Path>) -> String {
    let server = match MockServer::start(cfg.clone()) {
        Ok(s) => s,
        Err(e) => return format!("cannot listen on {}: {e}", cfg.listen),
    };
    let url = server.base_url();
    if let Some(path) = port_file {
        if let Err(e) = crate::write_atomically(path, &url) {
            return format!("cannot write {}: {e}", path.display());
        }
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {url}");
    let _ = out.flush();
    drop(out);
    for app in &cfg.apps {
        eprintln!(
            "wxtoken mock: serving {} ({})",
            app.appid,
            app.platform.as_str()
        );
    }
    loop {
        std::thread::park();
    }
}

/// The simulator's configuration from the flags, the apps files and the
/// environment (`env`, injected for tests).
fn config(args: &MockArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<MockConfig, String> {
    if args.secret.is_some() {
        return Err(
            "--secret: secrets are never taken from the command line (ps shows them); \
             use WXTOKEN_SECRET or --apps-file"
                .into(),
        );
    }
    let defaults = MockConfig::default();
    let mut apps = Vec::new();
    for path in &args.apps_file {
        apps.extend(read_apps_file(path)?);
    }
    apps.extend(env_app(env)?);
    if apps.is_empty() {
        apps.push(MockApp::demo());
    }
    Ok(MockConfig {
        listen: args.listen.unwrap_or(defaults.listen),
        apps,
        lifetime_s: args.lifetime.unwrap_or(defaults.lifetime_s),
        overlap_s: args.overlap.unwrap_or(defaults.overlap_s),
        daily_quota: args.quota.unwrap_or(defaults.daily_quota),
        token_len: args.token_len.unwrap_or(defaults.token_len),
        allow_ips: (!args.allow_ip.is_empty()).then(|| args.allow_ip.clone()),
        ..defaults
    })
}

fn parse_listen(v: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = v.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    v.parse()
        .map_err(|_| "expected IP:PORT or PORT".to_string())
}

fn parse_ip(v: &str) -> Result<IpAddr, String> {
    v.parse().map_err(|_| "expected an IP address".to_string())
}

fn at_least(v: &str, min: u64) -> Result<u64, String> {
    match v.parse::<u64>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!("expected an integer >= {min}")),
    }
}

fn token_len(v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if (24..=16_384).contains(&n) => Ok(n),
        _ => Err("expected 24..=16384".to_string()),
    }
}

/// The app named by WXTOKEN_APPID + WXTOKEN_SECRET, if both are set.
fn env_app(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<MockApp>, String> {
    let (appid, secret) = match (env("WXTOKEN_APPID"), env("WXTOKEN_SECRET")) {
        (Some(a), Some(s)) => (a, s),
        (None, None) => return Ok(None),
        _ => {
            eprintln!("wxtoken mock: WXTOKEN_APPID and WXTOKEN_SECRET must both be set; ignored");
            return Ok(None);
        }
    };
    let platform = match env("WXTOKEN_PLATFORM") {
        None => MockPlatform::Mp,
        Some(p) => MockPlatform::parse(&p)
            .ok_or_else(|| format!("WXTOKEN_PLATFORM: expected mp or wecom, got {p:?}"))?,
    };
    Ok(Some(MockApp {
        appid,
        secret,
        platform,
    }))
}

fn read_apps_file(path: &Path) -> Result<Vec<MockApp>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("--apps-file {shown}: {e}"))?;
    parse_apps(&text).map_err(|e| format!("--apps-file {shown}: {e}"))
}

/// `[{"appid":"..","secret":"..","platform":"mp|wecom"}]`; platform defaults to mp.
/// Errors name the entry, never its secret.
fn parse_apps(text: &str) -> Result<Vec<MockApp>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let list = v.as_array().ok_or("expected a JSON array of apps")?;
    list.iter()
        .enumerate()
        .map(|(i, entry)| parse_app(entry).map_err(|e| format!("entry {i}: {e}")))
        .collect()
}

fn parse_app(entry: &Value) -> Result<MockApp, String> {
    let field = |k: &str| {
        entry
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let appid = field("appid").ok_or("\"appid\" must be a non-empty string")?;
    let secret = field("secret").ok_or("\"secret\" must be a non-empty string")?;
    let platform = match field("platform") {
        None => MockPlatform::Mp,
        Some(p) => MockPlatform::parse(&p).ok_or("\"platform\" must be mp or wecom")?,
    };
    Ok(MockApp {
        appid,
        secret,
        platform,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        mock: MockArgs,
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(list: &[&str]) -> Result<MockArgs, clap::Error> {
        let argv = std::iter::once("mock").chain(list.iter().copied());
        Cli::try_parse_from(argv).map(|cli| cli.mock)
    }

    fn cfg(list: &[&str], env: &dyn Fn(&str) -> Option<String>) -> MockConfig {
        config(&parse(list).unwrap(), env).unwrap()
    }

    #[test]
    fn flags_and_defaults() {
        let c = cfg(
            &[
                "--listen",
                "8099",
                "--lifetime=10",
                "--overlap",
                "3",
                "--quota",
                "5",
            ],
            &no_env,
        );
        assert_eq!(c.listen.to_string(), "127.0.0.1:8099");
        assert_eq!((c.lifetime_s, c.overlap_s, c.daily_quota), (10, 3, 5));
        assert_eq!(c.apps, vec![MockApp::demo()]);
        let d = MockConfig::default();
        let c = cfg(&[], &no_env);
        assert_eq!(
            (c.listen, c.lifetime_s, c.token_len),
            (d.listen, d.lifetime_s, d.token_len)
        );
        assert_eq!(c.allow_ips, None);
        let c = cfg(&["--allow-ip", "10.0.0.1", "--allow-ip", "::1"], &no_env);
        assert_eq!(c.allow_ips.unwrap().len(), 2);
        let help = parse(&["-h"]).err().unwrap();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
        assert!(
            help.to_string().contains("/mock/stats"),
            "-h is the long help"
        );
    }

    #[test]
    fn bad_flags_and_secrets_on_argv_are_refused() {
        for bad in [
            &["--app-secret=x\""][..],
            &["--bogus"],
            &["--lifetime", "0"],
            &["--token-len", "5"],
            &["--listen", "nowhere"],
            &["--quota"],
            &["--allow-ip", "1.2.3"],
            &["x\""],
        ] {
            let err = parse(bad).err().unwrap();
            let kind = err.kind();
            let source = std::error::Error::source(&err).map(ToString::to_string);
            assert!(!source.unwrap_or_default().contains("x\""), "{kind:?}");
        }
        let err = config(&parse(&["--secret", "TYPED"]).unwrap(), &no_env).unwrap_err();
        assert!(err.contains("never taken from the command line") && !err.contains("TYPED"));
        assert!(config(&parse(&["--secret"]).unwrap(), &no_env).is_err());
    }

    #[test]
    fn apps_from_env_and_json() {
        let env = |k: &str| match k {
            "WXTOKEN_APPID" => Some("corp1".to_owned()),
            "WXTOKEN_SECRET" => Some("s".to_owned()),
            "WXTOKEN_PLATFORM" => Some("wecom".to_owned()),
            _ => None,
        };
        assert_eq!(cfg(&[], &env).apps, vec![MockApp::wecom("corp1", "s")]);
        let apps = parse_apps(
            r#"[{"appid":"a","secret":"b"},{"appid":"c","secret":"d","platform":"wecom"}]"#,
        )
        .unwrap();
        assert_eq!(apps, vec![MockApp::mp("a", "b"), MockApp::wecom("c", "d")]);
        let err = parse_apps(r#"[{"appid":"a","secret":"TOPSECRET","platform":"x"}]"#).unwrap_err();
        assert!(
            err.contains("entry 0") && !err.contains("TOPSECRET"),
            "{err}"
        );
        assert!(parse_apps("{}").is_err());
    }
}
