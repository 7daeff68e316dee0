//! redis+sentinel://: the store reaches the primary the sentinels name, and
//! after a failover it finds the new one (the old primary, now a replica,
//! answers writes with READONLY) with no extra upstream fetch.

use std::thread;
use std::time::{Duration, Instant};

use wxtoken::StoreSpec;

use crate::fleet::cli;
use crate::server::RedisServer;
use crate::support::*;

fn primary_port(sentinel: &RedisServer) -> u16 {
    let mut conn = sentinel.admin(&sentinel.url());
    let (_, port): (String, u16) = redis::cmd("SENTINEL")
        .arg("GET-MASTER-ADDR-BY-NAME")
        .arg("wxprimary")
        .query(&mut conn)
        .unwrap();
    port
}

#[test]
fn the_store_follows_a_sentinel_failover() {
    let primary = RedisServer::start(&[]);
    let replica_of = primary.port.to_string();
    let replica = RedisServer::start(&["--replicaof", "127.0.0.1", &replica_of]);
    let sentinel = RedisServer::start_sentinel("wxprimary", primary.port);
    let url = format!(
        "redis+sentinel://127.0.0.1:{}/wxprimary/0?sentinel=127.0.0.1:1",
        sentinel.port
    );
    let id = appid("rsent");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |c| {
        c.store = StoreSpec::Redis(url.clone());
        c.wait = Duration::from_millis(3000);
    });
    let token = wxtoken::get(&app).unwrap();
    let status = wxtoken::status(&app).unwrap();
    assert_eq!(
        status["store"],
        format!(
            "redis+sentinel://127.0.0.1:{},127.0.0.1:1/wxprimary/0",
            sentinel.port
        )
    );
    let shared = printed_token(cli(&server, &id, &url, &["token"]).output().unwrap());
    assert_eq!(
        shared,
        token.to_string(),
        "another process, through the sentinel"
    );

    // Fail over: the sentinel promotes the replica once it has seen it.
    let mut admin = sentinel.admin(&sentinel.url());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer: redis::RedisResult<String> = redis::cmd("SENTINEL")
            .arg("FAILOVER")
            .arg("wxprimary")
            .query(&mut admin);
        if answer.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "no failover: {answer:?}");
        thread::sleep(Duration::from_millis(250));
    }
    while primary_port(&sentinel) != replica.port {
        assert!(
            Instant::now() < deadline,
            "the sentinel never named the replica"
        );
        thread::sleep(Duration::from_millis(100));
    }

    // Writes acknowledged by the old primary until the sentinel demotes it
    // are lost (Redis replicates asynchronously): wait for the demotion.
    loop {
        // A fresh connection each time: the demotion closes clients.
        let role: redis::RedisResult<Vec<redis::Value>> =
            redis::cmd("ROLE").query(&mut primary.admin(&primary.url()));
        if matches!(role.as_deref(), Ok([redis::Value::BulkString(r), ..]) if r == b"slave") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the old primary was never demoted"
        );
        thread::sleep(Duration::from_millis(100));
    }

    // A bad-token report after the failover: one refresh, written to the
    // new primary (the first try may meet the old one's READONLY).
    let fresh = loop {
        match wxtoken::invalidate(&app, &token) {
            Ok(t) => break t,
            Err(e) => {
                assert!(Instant::now() < deadline, "no refresh after failover: {e}");
                thread::sleep(Duration::from_millis(200));
            }
        }
    };
    assert_ne!(fresh, token);
    assert_eq!(server.token_calls(&id), 2, "one fetch for the report");
    let mut new_primary = replica.admin(&replica.url());
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*:rec")
        .query(&mut new_primary)
        .unwrap();
    let held: String = redis::cmd("HGET")
        .arg(&keys[0])
        .arg("token")
        .query(&mut new_primary)
        .unwrap();
    assert_eq!(
        held,
        fresh.to_string(),
        "the new primary holds the new record"
    );
}
