//! The file store across real processes: one fetch for a host, a leader
//! killed mid-fetch hands over, another process's refresh is picked up
//! within the refresher's poll, corrupted records are replaced.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use wxtoken::StoreSpec;
use wxtoken_mock::{Fault, MockServer};

use crate::support::*;

fn store_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wxtoken-fs-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn cli(server: &MockServer, id: &str, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = wxtoken_cli(server, id, args);
    cmd.arg(format!("--store=file:{}", dir.display()));
    cmd
}

#[test]
fn twelve_processes_at_cold_start_share_one_fetch() {
    let id = appid("fs12");
    let dir = store_dir("twelve");
    let server = mock_for(&id, 7200, 0);
    let children: Vec<_> = (0..12)
        .map(|_| {
            cli(&server, &id, &dir, &["token"])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let tokens: Vec<String> = children
        .into_iter()
        .map(|c| printed_token(c.wait_with_output().unwrap()))
        .collect();
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "one token for the host"
    );
    assert_eq!(server.token_calls(&id), 1, "exactly one upstream fetch");
    assert_eq!(check(&server, &tokens[0]), 0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_leader_killed_mid_fetch_hands_the_refresh_over() {
    let id = appid("fskill");
    let dir = store_dir("kill");
    let server = mock_for(&id, 7200, 300);
    server.set_fault(Fault::Slow(Duration::from_secs(20)), Some(1));
    let mut leader = cli(&server, &id, &dir, &["token"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.token_calls(&id) == 0 {
        assert!(
            Instant::now() < deadline,
            "the leader never called upstream"
        );
        thread::sleep(Duration::from_millis(20));
    }
    leader.kill().unwrap(); // SIGKILL while it holds the lock, mid-fetch
    leader.wait().unwrap();
    let started = Instant::now();
    let token = printed_token(
        cli(&server, &id, &dir, &["token", "--wait-ms", "5000"])
            .output()
            .unwrap(),
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the next process was not blocked"
    );
    assert_eq!(check(&server, &token), 0);
    assert_eq!(
        server.token_calls(&id),
        2,
        "the dead leader's call and the new one"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// This process holds a token; another process invalidates it. The
/// background refresher's poll picks the new record up; the bound is
/// refresher::POLL_MS (500 ms), asserted with slack for a loaded machine.
#[test]
fn another_processes_refresh_is_used_within_the_poll_bound() {
    let id = appid("fsadopt");
    let dir = store_dir("adopt");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |c| {
        c.store = StoreSpec::File(Some(dir.clone()))
    });
    let old = wxtoken::get(&app).unwrap();
    let new = printed_token(
        cli(&server, &id, &dir, &["invalidate", "--token", &old])
            .output()
            .unwrap(),
    );
    assert_ne!(new, old.to_string());
    let started = Instant::now();
    while wxtoken::get(&app).unwrap() != new.as_str() {
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "not adopted after {:?}",
            started.elapsed()
        );
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        server.token_calls(&id),
        2,
        "this process adopted, it did not fetch"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_corrupted_record_is_replaced_and_no_file_holds_the_secret() {
    let id = appid("fscorrupt");
    let dir = store_dir("corrupt");
    let server = mock_for(&id, 7200, 300);
    let first = printed_token(cli(&server, &id, &dir, &["token"]).output().unwrap());
    let record = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a record file");
    assert_eq!(
        printed_token(cli(&server, &id, &dir, &["token"]).output().unwrap()),
        first,
        "served from the file"
    );
    std::fs::write(&record, b"{\"v\":1,\"token\":\"trunc").unwrap();
    let second = printed_token(cli(&server, &id, &dir, &["token"]).output().unwrap());
    assert_eq!(check(&server, &second), 0);
    assert_eq!(
        server.token_calls(&id),
        2,
        "the corrupted record was refetched once"
    );
    assert!(
        std::fs::read_to_string(&record).unwrap().contains(&second),
        "and replaced"
    );
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SECRET),
            "{path:?} holds the secret"
        );
        assert!(!path.to_string_lossy().contains(SECRET));
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The store is wiped (a tmp cleaner) while this process holds generation 3;
/// another process then fetches generation 1, which kills our token. Ours
/// must give way to the later fetch, not to the higher generation.
#[test]
fn a_wiped_store_with_a_later_fetch_wins_over_a_higher_generation() {
    let id = appid("fswipe");
    let dir = store_dir("wipe");
    let server = mock_for(&id, 7200, 0);
    let app = configure(&server, &id, |c| {
        c.store = StoreSpec::File(Some(dir.clone()))
    });
    let t1 = wxtoken::get(&app).unwrap();
    let t2 = wxtoken::invalidate(&app, &t1).unwrap();
    let t3 = wxtoken::invalidate(&app, &t2).unwrap();
    assert_eq!(wxtoken::status(&app).unwrap()["token"]["generation"], 3);
    std::fs::remove_dir_all(&dir).unwrap();
    let theirs = printed_token(cli(&server, &id, &dir, &["token"]).output().unwrap());
    assert_eq!(check(&server, &t3), 40001, "their fetch killed ours");
    let fresh = wxtoken::invalidate(&app, &t3).unwrap();
    assert_eq!(fresh, theirs.as_str(), "adopted the later fetch");
    assert_eq!(server.token_calls(&id), 4, "and fetched nothing more");
    std::fs::remove_dir_all(dir).unwrap();
}
