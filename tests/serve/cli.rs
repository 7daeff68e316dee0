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
