//! The `wxtoken` command as a shell script sees it: output, exit codes,
//! messages; and `wxtoken mock` as a separate process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use crate::support::*;

fn wxtoken(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wxtoken"));
    cmd.args(args)
        .env_remove("WXTOKEN_SECRET")
        .env_remove("WXTOKEN_APPID");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run wxtoken")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// `wxtoken mock` in its own process, killed on drop.
struct MockProcess {
    child: Child,
    url: String,
}

impl MockProcess {
    fn start(appid: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wxtoken"))
            .args(["mock", "--listen", "127.0.0.1:0"])
            .env("WXTOKEN_APPID", appid)
            .env("WXTOKEN_SECRET", SECRET)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start wxtoken mock");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .expect("announces its address")
            .to_string();
        MockProcess { child, url }
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn token_invalidate_and_status_against_the_mock_process() {
    let id = appid("cli");
    let mock = MockProcess::start(&id);
    let base = ["--appid", &id, "--store", "memory", "--api-base", &mock.url];
    let env = [("WXTOKEN_SECRET", SECRET)];

    let out = wxtoken(&[&["token"], &base[..]].concat(), &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out);
    assert!(token.len() >= 100, "a token: {token}");

    let out = wxtoken(
        &[&["invalidate", "--token", &token], &base[..]].concat(),
        &env,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(
        stdout(&out),
        token,
        "a fresh process holds no token: it fetched a new one"
    );

    let out = wxtoken(&[&["status"], &base[..]].concat(), &env);
    let status: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("status is JSON");
    assert_eq!(status["appid"], id.as_str());
    assert!(!stdout(&out).contains(SECRET));

    let stats = ureq::get(&format!("{}/mock/stats", mock.url))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["token_calls"][&id]["token"], 2);
}

#[test]
fn the_secret_file_is_read_and_the_secret_flag_refused() {
    let id = appid("clifile");
    let mock = MockProcess::start(&id);
    let file = std::env::temp_dir().join(format!("{id}.secret"));
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let base = ["--appid", &id, "--store", "memory", "--api-base", &mock.url];

    let out = wxtoken(
        &[
            &["token", "--secret-file", file.to_str().unwrap()],
            &base[..],
        ]
        .concat(),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let out = wxtoken(&[&["token", "--secret", SECRET], &base[..]].concat(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("WXTOKEN_SECRET"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(SECRET));
    std::fs::remove_file(file).unwrap();
}

#[test]
fn exit_codes_and_messages() {
    let id = appid("cliexit");
    let mock = MockProcess::start(&id);
    let base = ["--appid", &id, "--store", "memory", "--api-base", &mock.url];

    let out = wxtoken(
        &[&["token"], &base[..]].concat(),
        &[("WXTOKEN_SECRET", "wrong")],
    );
    assert_eq!(out.status.code(), Some(10), "credentials rejected");
    assert!(
        stderr(&out).contains("errcode 40125") && stderr(&out).contains("[credentials_rejected]")
    );

    let out = wxtoken(
        &["token", "--store", "memory"],
        &[("WXTOKEN_SECRET", SECRET)],
    );
    assert_eq!(out.status.code(), Some(2), "no appid: {}", stderr(&out));
    assert!(stderr(&out).contains("appid"));

    let out = wxtoken(
        &["token", "--appid", &id, "--api-base", "http://10.1.2.3"],
        &[("WXTOKEN_SECRET", SECRET)],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("https"), "{}", stderr(&out));

    let out = wxtoken(&["frobnicate"], &[]);
    assert_eq!(out.status.code(), Some(2));

    let out = wxtoken(
        &[&["token", "--timeout-ms", "soon"], &base[..]].concat(),
        &[("WXTOKEN_SECRET", SECRET)],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("timeout_ms"));
}

#[test]
fn help_texts() {
    let out = wxtoken(&["--help"], &[]);
    assert!(out.status.success() && stdout(&out).contains("EXIT CODES"));
    let out = wxtoken(&["mock", "--help"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("/mock/stats"),
        "mock help names the admin endpoints"
    );
}

/// `invalidate --token-file -` reads the refused token from stdin (a
/// command line is visible to every local user): the report is compared
/// like any other, one refresh for the current token, none for an old one.
#[test]
fn invalidate_reads_the_token_from_stdin_or_a_file() {
    use std::io::Write;
    let id = appid("clistdin");
    let mock = MockProcess::start(&id);
    let dir = std::env::temp_dir().join(format!("wxtoken-clistdin-{}", std::process::id()));
    let store = format!("file:{}", dir.display());
    let base = ["--appid", &id, "--store", &store, "--api-base", &mock.url];
    let invalidate_stdin = |token: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wxtoken"))
            .args([&["invalidate", "--token-file", "-"], &base[..]].concat())
            .env("WXTOKEN_SECRET", SECRET)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{token}").unwrap();
        child.wait_with_output().unwrap()
    };
    let env = [("WXTOKEN_SECRET", SECRET)];
    let first = stdout(&wxtoken(&[&["token"], &base[..]].concat(), &env));

    let out = invalidate_stdin(&first);
    assert!(out.status.success(), "{}", stderr(&out));
    let second = stdout(&out);
    assert_ne!(second, first, "the current token reported: refreshed");
    let out = invalidate_stdin(&first);
    assert_eq!(stdout(&out), second, "an old token reported: no refresh");

    let file = dir.join("refused.txt");
    std::fs::write(&file, &second).unwrap();
    let out = wxtoken(
        &[
            &["invalidate", "--token-file", file.to_str().unwrap()],
            &base[..],
        ]
        .concat(),
        &env,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(stdout(&out), second);

    let calls = |mock: &MockProcess| {
        let stats = ureq::get(&format!("{}/mock/stats", mock.url))
            .call()
            .unwrap();
        let stats: serde_json::Value = serde_json::from_str(&stats.into_string().unwrap()).unwrap();
        stats["token_calls"][&id]["token"].as_u64().unwrap()
    };
    assert_eq!(calls(&mock), 3);

    let missing = dir.join("missing");
    let out = wxtoken(
        &[
            &["invalidate", "--token-file", missing.to_str().unwrap()],
            &base[..],
        ]
        .concat(),
        &env,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read the token"),
        "{}",
        stderr(&out)
    );
    let out = wxtoken(
        &[
            &["invalidate", "--token", "x", "--token-file", "-"],
            &base[..],
        ]
        .concat(),
        &env,
    );
    assert_eq!(out.status.code(), Some(2), "one source only");
    let out = wxtoken(&[&["invalidate", "--help"], &base[..]].concat(), &env);
    assert!(
        stdout(&out).contains("ps"),
        "the help says why: {}",
        stdout(&out)
    );
    assert_eq!(calls(&mock), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `status` needs no secret to show what the store holds; with a secret it
/// shows this process's view, which starts from the store too.
#[test]
fn status_reads_the_store_without_a_secret() {
    let id = appid("clistatus");
    let mock = MockProcess::start(&id);
    let dir = std::env::temp_dir().join(format!("wxtoken-clistatus-{}", std::process::id()));
    let store = format!("file:{}", dir.display());
    let base = ["--appid", &id, "--store", &store, "--api-base", &mock.url];
    let token = stdout(&wxtoken(
        &[&["token"], &base[..]].concat(),
        &[("WXTOKEN_SECRET", SECRET)],
    ));

    let out = wxtoken(&["status", "--appid", &id, "--store", &store], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let apps: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let app = &apps.as_array().expect("an array")[0];
    assert_eq!(apps.as_array().unwrap().len(), 1, "{apps}");
    assert_eq!(
        (app["appid"].as_str(), app["mode"].as_str()),
        (Some(id.as_str()), Some("token"))
    );
    assert_eq!(app["token"]["present"], true);
    assert_eq!(app["token"]["generation"], 1);
    assert!(app["token"]["expires_in_ms"].as_u64().unwrap() > 7_000_000);
    assert_eq!(app["shared"]["fetches_today"], 1);
    assert!(
        app["shared"]["last_fetch"]["pid"].as_u64().is_some(),
        "{app}"
    );
    assert!(!stdout(&out).contains(&token) && !stdout(&out).contains(SECRET));

    let out = wxtoken(&["status", "--all", "--table", "--store", &store], &[]);
    let table = stdout(&out);
    assert!(table.starts_with("APPID"), "{table}");
    let row = table
        .lines()
        .find(|l| l.starts_with(&id))
        .expect("a row for the app");
    assert!(row.contains(" mp ") && row.contains(" token "), "{row}");

    // With the secret: this process's view, from the store, no fetch.
    let out = wxtoken(
        &[&["status"], &base[..]].concat(),
        &[("WXTOKEN_SECRET", SECRET)],
    );
    let st: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(st["token"]["present"], true, "{st}");
    assert_eq!(st["token"]["generation"], 1);

    let out = wxtoken(&["status", "--store", &store], &[]);
    assert_eq!(out.status.code(), Some(2), "no app named: {}", stderr(&out));
    assert!(stderr(&out).contains("--all"));
    let stats = ureq::get(&format!("{}/mock/stats", mock.url))
        .call()
        .unwrap();
    let stats: serde_json::Value = serde_json::from_str(&stats.into_string().unwrap()).unwrap();
    assert_eq!(
        stats["token_calls"][&id]["token"], 1,
        "status never fetched"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Tickets from the command line: 12 `wxtoken ticket` processes at a cold
/// start on one file store share one token fetch and one jsapi ticket
/// fetch; `wxtoken jssdk` prints the wx.config object signed with it.
#[test]
fn twelve_ticket_processes_share_one_token_and_one_ticket_fetch() {
    let id = appid("cliticket");
    let server = mock_for(&id, 7200, 300);
    let dir = std::env::temp_dir().join(format!("wxtoken-cli-ticket-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = format!("--store=file:{}", dir.display());
    let children: Vec<Child> = (0..12)
        .map(|_| {
            wxtoken_cli(&server, &id, &["ticket", "--kind", "jsapi", &store])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let tickets: Vec<String> = children
        .into_iter()
        .map(|c| printed_token(c.wait_with_output().unwrap()))
        .collect();
    assert!(!tickets[0].is_empty());
    assert!(
        tickets.iter().all(|t| *t == tickets[0]),
        "one ticket for the host"
    );
    assert_eq!(server.token_calls(&id), 1, "one token fetch");
    let calls = |kind: &str| server.stats()["ticket_calls"][&id][kind].as_u64();
    assert_eq!(calls("jsapi"), Some(1), "one jsapi ticket fetch");

    let url = "https://example.com/page?x=1";
    let out = printed_token(
        wxtoken_cli(
            &server,
            &id,
            &["jssdk", "--url", &format!("{url}#top"), &store],
        )
        .output()
        .unwrap(),
    );
    let config: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(config["appId"], id.as_str());
    let (nonce, ts) = (
        config["nonceStr"].as_str().unwrap(),
        config["timestamp"].as_u64().unwrap(),
    );
    assert_eq!(
        config["signature"],
        wxtoken::jssdk_signature(&tickets[0], nonce, ts, url).as_str()
    );
    assert_eq!(calls("jsapi"), Some(1), "jssdk took the shared ticket");

    // An unknown kind: a usage error (exit 2), nothing fetched.
    let out = wxtoken_cli(&server, &id, &["ticket", "--kind", "bogus", &store])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unknown ticket kind"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(dir);
}
