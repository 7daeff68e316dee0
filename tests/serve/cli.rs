//! The command line under clap: every subcommand has its own help, and
//! serve's errors quote neither an argument's value nor the config's text.

use std::process::{Command, Output};

use crate::harness::*;

fn wxtoken(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wxtoken"))
        .args(args)
        .env_remove("WXTOKEN_SECRET")
        .output()
        .unwrap()
}

#[test]
fn every_subcommand_has_its_own_help() {
    for (cmd, expect) in [
        ("token", "--secret-file"),
        ("invalidate", "--token <T>"),
        ("status", "--appid"),
        ("serve", "--config <PATH>"),
        ("mock", "/mock/stats"),
    ] {
        let out = wxtoken(&[cmd, "--help"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{cmd} --help: {out:?}");
        assert!(text.contains(expect), "{cmd} --help lacks {expect}: {text}");
    }
}

#[test]
fn serve_refuses_bad_arguments_and_files_without_quoting_them() {
    let typed = "demo-secret-not-real";
    for args in [
        vec!["serve", "--config", "/nonexistent", typed],
        vec!["serve", "--bogus=demo-secret-not-real"],
        vec!["serve"],
    ] {
        let out = wxtoken(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains(typed) && !err.is_empty(), "{args:?}: {err}");
    }
    let dir = TempDir::new("clicheck");
    let config = dir.0.join("serve.toml");
    std::fs::write(
        &config,
        format!("[[apps]]\nappid = \"wx1\"\nsecret = \"{typed}\"\n"),
    )
    .unwrap();
    let out = wxtoken(&["serve", "--check", "--config", config.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("line 3") && err.contains("secret"), "{err}");
    assert!(!err.contains(typed), "{err}");
}

#[test]
fn a_non_loopback_address_needs_tls() {
    let dir = TempDir::new("clitls");
    let config = dir.0.join("serve.toml");
    std::fs::write(&config, "listen = \"0.0.0.0:0\"\n").unwrap();
    let out = wxtoken(&["serve", "--config", config.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("[tls]"), "{err}");
}

/// `--log-format json`: `serve --check`'s verdict and serve's fatal errors
/// are records too, so every stderr line parses; text stays plain lines.
#[test]
fn with_json_logs_the_check_and_the_failures_are_records() {
    let dir = TempDir::new("clijson");
    let good = dir.0.join("good.toml");
    std::fs::write(&good, app_toml(&dir, "shop", "wx1", "http://127.0.0.1:9")).unwrap();
    let bad = dir.0.join("bad.toml");
    std::fs::write(&bad, "listen = \"0.0.0.0:0\"\n").unwrap();
    let lines = |out: &Output| -> Vec<serde_json::Value> {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.is_empty(), "{out:?}");
        err.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
            .collect()
    };
    let json = ["--log-format", "json", "serve", "--config"];

    let out = wxtoken(&[&json[..], &[good.to_str().unwrap(), "--check"]].concat());
    assert!(out.status.success(), "{out:?}");
    let check = lines(&out);
    let valid = check
        .iter()
        .find(|l| l["event"] == "serve_config_valid")
        .unwrap_or_else(|| panic!("{check:?}"));
    assert_eq!(
        (valid["level"].as_str(), valid["apps"].as_u64()),
        (Some("info"), Some(1))
    );

    let out = wxtoken(&[&json[..], &[bad.to_str().unwrap()]].concat());
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let failed = lines(&out);
    let fatal = failed
        .iter()
        .find(|l| l["event"] == "serve_failed")
        .unwrap_or_else(|| panic!("{failed:?}"));
    assert_eq!(fatal["level"], "error");
    assert_eq!(fatal["exit_code"], 2);
    assert!(
        fatal["message"].as_str().unwrap().contains("[tls]"),
        "{fatal}"
    );

    // Text: the plain line, as before.
    let out = wxtoken(&["serve", "--check", "--config", good.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("wxtoken serve: ") && err.contains("is valid (1 apps"),
        "{err}"
    );
}
