//! `wxtoken mock`: the simulator as a process, for tests in other languages and for offline
//! development. Secrets come from the environment or a file, never from argv (`ps` shows it).

use super::config::{MockApp, MockConfig, MockPlatform};
use super::server::MockServer;
use serde_json::Value;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

const HELP: &str = "\
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
one WeCom token per (corpid, secret), and the platform's error codes.

USAGE:
  wxtoken mock [OPTIONS]

OPTIONS:
  --listen ADDR       address to listen on (default 127.0.0.1:0 = a free port; a bare
                      port number means 127.0.0.1:PORT)
  --lifetime S        expires_in of issued tokens, in seconds (default 7200)
  --overlap S         classic: how long a superseded token still works; stable: the final
                      window in which a normal call renews (default 300)
  --quota N           classic token fetches per app per day (default 2000)
  --token-len N       length of issued tokens (default 136, 24..=16384)
  --allow-ip IP       caller IP allow-list, repeatable (others get 40164 / 60020)
  --apps-file FILE    JSON array of apps: [{\"appid\":\"..\",\"secret\":\"..\",\"platform\":\"mp|wecom\"}]
  --port-file FILE    write the base URL there once listening (atomically, via rename)
  -h, --help          this text

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
  curl \"$URL/mock/stats\"
";

/// What the command line asked for.
#[derive(Debug)]
enum Action {
    Help,
    Serve(MockConfig, Option<PathBuf>),
}

/// Runs `wxtoken mock ARGS`; returns only on failure (2: bad usage, 1: cannot serve).
pub fn run_cli(args: &[String]) -> i32 {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match parse(args, &env) {
        Ok(Action::Help) => {
            print!("{HELP}");
            0
        }
        Ok(Action::Serve(cfg, port_file)) => serve(cfg, port_file.as_deref()),
        Err(msg) => {
            eprintln!("wxtoken mock: {msg}\nTry 'wxtoken mock --help'.");
            2
        }
    }
}

fn serve(cfg: MockConfig, port_file: Option<&Path>) -> i32 {
    let server = match MockServer::start(cfg.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wxtoken mock: cannot listen on {}: {e}", cfg.listen);
            return 1;
        }
    };
    let url = server.base_url();
    if let Some(path) = port_file {
        if let Err(e) = write_atomically(path, &url) {
            eprintln!("wxtoken mock: cannot write {}: {e}", path.display());
            return 1;
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

/// Writes beside the target, then renames, so a reader never sees a partial file.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Parses the arguments; `env` reads the environment (injected for tests).
fn parse(args: &[String], env: &dyn Fn(&str) -> Option<String>) -> Result<Action, String> {
    let mut cfg = MockConfig {
        apps: Vec::new(),
        ..MockConfig::default()
    };
    let mut port_file = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if !arg.starts_with('-') {
            // Not echoed: a stray positional argument might be a pasted secret.
            return Err("unexpected positional argument".into());
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (arg.as_str(), None),
        };
        if flag == "-h" || flag == "--help" {
            return Ok(Action::Help);
        }
        if flag.to_ascii_lowercase().contains("secret") {
            return Err(format!(
                "{flag}: secrets are never taken from the command line (ps shows them); \
                 use WXTOKEN_SECRET or --apps-file"
            ));
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--listen" => cfg.listen = parse_listen(&value()?)?,
            "--lifetime" => cfg.lifetime_s = number(flag, &value()?, 1)?,
            "--overlap" => cfg.overlap_s = number(flag, &value()?, 0)?,
            "--quota" => cfg.daily_quota = number(flag, &value()?, 0)?,
            "--token-len" => cfg.token_len = token_len(&value()?)?,
            "--allow-ip" => {
                let v = value()?;
                let ip: IpAddr = v.parse().map_err(|_| format!("--allow-ip: bad IP {v:?}"))?;
                cfg.allow_ips.get_or_insert_with(Vec::new).push(ip);
            }
            "--apps-file" => cfg.apps.extend(read_apps_file(Path::new(&value()?))?),
            "--port-file" => port_file = Some(PathBuf::from(value()?)),
            // The flag's name only, never its =value or a -x spelling: a secret may be pasted there.
            _ if flag.starts_with("--") => return Err(format!("unknown option {flag:?}")),
            _ => return Err("unexpected argument (its value is not shown)".into()),
        }
    }
    cfg.apps.extend(env_app(env)?);
    if cfg.apps.is_empty() {
        cfg.apps.push(MockApp::demo());
    }
    Ok(Action::Serve(cfg, port_file))
}

fn parse_listen(v: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = v.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    v.parse()
        .map_err(|_| format!("--listen: expected IP:PORT or PORT, got {v:?}"))
}

fn number(flag: &str, v: &str, min: u64) -> Result<u64, String> {
    match v.parse::<u64>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!("{flag}: expected an integer >= {min}, got {v:?}")),
    }
}

fn token_len(v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if (24..=16_384).contains(&n) => Ok(n),
        _ => Err(format!("--token-len: expected 24..=16384, got {v:?}")),
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

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn serve_cfg(list: &[&str], env: &dyn Fn(&str) -> Option<String>) -> MockConfig {
        match parse(&args(list), env).unwrap() {
            Action::Serve(cfg, _) => cfg,
            Action::Help => panic!("help"),
        }
    }

    #[test]
    fn flags_and_defaults() {
        let cfg = serve_cfg(
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
        assert_eq!(cfg.listen.to_string(), "127.0.0.1:8099");
        assert_eq!((cfg.lifetime_s, cfg.overlap_s, cfg.daily_quota), (10, 3, 5));
        assert_eq!(cfg.apps, vec![MockApp::demo()]);
        let cfg = serve_cfg(&["--allow-ip", "10.0.0.1", "--allow-ip", "::1"], &no_env);
        assert_eq!(cfg.allow_ips.unwrap().len(), 2);
        assert!(matches!(parse(&args(&["-h"]), &no_env), Ok(Action::Help)));
    }

    #[test]
    fn bad_flags_and_secrets_on_argv_are_refused() {
        for bad in [
            &["--secret", "x"][..],
            &["--app-secret=x"],
            &["--bogus"],
            &["--lifetime", "0"],
            &["--token-len", "5"],
            &["--listen", "nowhere"],
            &["--quota"],
            &["--allow-ip", "1.2.3"],
        ] {
            let err = parse(&args(bad), &no_env).unwrap_err();
            assert!(!err.contains("x\""), "{err}");
        }
    }

    #[test]
    fn apps_from_env_and_json() {
        let env = |k: &str| match k {
            "WXTOKEN_APPID" => Some("corp1".to_owned()),
            "WXTOKEN_SECRET" => Some("s".to_owned()),
            "WXTOKEN_PLATFORM" => Some("wecom".to_owned()),
            _ => None,
        };
        assert_eq!(
            serve_cfg(&[], &env).apps,
            vec![MockApp::wecom("corp1", "s")]
        );
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

    #[test]
    fn port_file_is_written_whole() {
        let dir = std::env::temp_dir().join(format!("wxtoken-mock-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("url");
        write_atomically(&path, "http://127.0.0.1:1").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "http://127.0.0.1:1"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
