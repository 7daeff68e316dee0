//! An ACL user with a password and the least rights the store needs: it
//! works, and the password (and the app secret) appear in
//! no error, status, log line or Debug output, and in no key or value that
//! the store writes to Redis.

use std::time::Duration;

use wxtoken::{ErrorKind, StoreSpec};

use crate::fleet::cli;
use crate::server::RedisServer;
use crate::support::*;

const PW: &str = "Redis-Pw-Never-Shown-42";
const WRONG_PW: &str = "Wrong-Redis-Pw-Never-Shown";

/// The store's user has only what README's "Several hosts" lists: its own
/// keys, the script commands, and the commands the scripts call.
const STORE_ACL: &str = "~wxtoken:* resetchannels -@all +evalsha +script|load \
    +set +incr +get +del +type +hget +hmget +hset +pexpire +time +scan";

fn acl_server() -> RedisServer {
    let pw_rule = format!(">{PW}");
    let mut args = vec![
        "--user", "default", "off", "--user", "wxapp", "on", &pw_rule,
    ];
    args.extend(STORE_ACL.split_whitespace());
    args.extend(["--user", "admin", "on", ">admin-pw", "~*", "+@all"]);
    RedisServer::start(&args)
}

fn assert_clean(text: &str) {
    for s in [PW, WRONG_PW, SECRET] {
        assert!(!text.contains(s), "leaked {s}: {text}");
    }
}

#[test]
fn the_password_never_shows_and_never_reaches_redis() {
    let redis = acl_server();
    let url = format!("redis://wxapp:{PW}@127.0.0.1:{}/0", redis.port);
    let wrong = format!("redis://wxapp:{WRONG_PW}@127.0.0.1:{}/0", redis.port);
    let id = appid("racl");
    let server = mock_for(&id, 7200, 300);
    let mut seen = Vec::new();

    // Processes: the right password works; logs and status are clean.
    let out = cli(&server, &id, &url, &["token"])
        .env("WXTOKEN_LOG", "1")
        .output()
        .unwrap();
    seen.push(String::from_utf8_lossy(&out.stderr).to_string());
    let token = printed_token(out);
    let out = cli(&server, &id, &url, &["status"]).output().unwrap();
    let status = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        status.contains(&format!("redis://wxapp@127.0.0.1:{}/0", redis.port)),
        "{status}"
    );
    seen.push(status);
    // Without the secret: what the store holds, every app (SCAN).
    let out = cli(&server, &id, &url, &["status", "--all"])
        .env_remove("WXTOKEN_SECRET")
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    let apps: serde_json::Value = serde_json::from_str(&listed)
        .unwrap_or_else(|e| panic!("{e}: {listed} {}", String::from_utf8_lossy(&out.stderr)));
    let mine = apps
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["appid"] == id.as_str());
    assert_eq!(
        mine.expect("the app is listed")["token"]["generation"],
        1,
        "{apps}"
    );
    assert!(!listed.contains(&token));
    seen.push(listed);
    let out = cli(&server, &id, &wrong, &["token"])
        .env("WXTOKEN_LOG", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(17));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(stderr.contains("authentication failed"), "{stderr}");
    seen.push(stderr);

    // A password on the command line (visible in ps) is refused, unechoed.
    let out = wxtoken_cli(&server, &id, &["token", "--store", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(stderr.contains("WXTOKEN_STORE"), "{stderr}");
    seen.push(stderr);

    // In process: errors, Debug, status.
    let app = configure(&server, &id, |c| {
        c.store = StoreSpec::Redis(wrong.clone());
        c.name = format!("{id}-wrong");
        c.wait = Duration::from_millis(500);
    });
    let err = wxtoken::get(&app).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store);
    seen.push(format!("{err} {err:?}"));
    seen.push(wxtoken::status(&app).unwrap().to_string());
    let mut cfg = config(&server, &id);
    cfg.store = StoreSpec::Redis(wrong.clone());
    seen.push(format!("{cfg:?} {}", cfg.store));
    for text in &seen {
        assert_clean(text);
    }

    // What Redis holds: key names and every value's serialized form.
    let mut admin = redis.admin(&format!(
        "redis://admin:admin-pw@127.0.0.1:{}/0",
        redis.port
    ));
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut admin).unwrap();
    assert!(keys.len() >= 2, "record and fence: {keys:?}");
    let mut token_seen = false;
    for key in &keys {
        assert_clean(key);
        let dump: Vec<u8> = redis::cmd("DUMP").arg(key).query(&mut admin).unwrap();
        let text = String::from_utf8_lossy(&dump);
        assert_clean(&text);
        token_seen |= text.contains(&token);
    }
    assert!(token_seen, "the scan looked at the record: {keys:?}");
}
