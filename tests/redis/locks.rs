//! The store contract against a real redis-server: the lock is exclusive and
//! released only by its owner, a taken-over lease carries a larger fence,
//! a stale holder's write is refused, a wiped fence counter recovers.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use wxtoken::store::Store;
use wxtoken::{Config, Record, StoreSpec};

use crate::server::RedisServer;

pub fn store_at(url: &str) -> Arc<dyn Store> {
    let mut cfg = Config::new("wxstoretest", "unused-secret");
    cfg.store = StoreSpec::Redis(url.to_string());
    wxtoken::store::open(&cfg).expect("open the redis store")
}

pub fn rec(token: &str, generation: u64) -> Record {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    Record {
        token: token.into(),
        expires_at_ms: now + 7_200_000,
        fetched_at_ms: now,
        generation,
        fence: 0,
    }
}

const LONG: Duration = Duration::from_secs(60);

#[test]
fn the_lock_is_exclusive_until_released() {
    let redis = RedisServer::start(&[]);
    let s = store_at(&redis.url());
    let a = s.try_lock("k", LONG).unwrap().expect("free lock taken");
    assert!(s.try_lock("k", LONG).unwrap().is_none(), "held: refused");
    assert!(
        s.try_lock("other", LONG).unwrap().is_some(),
        "keys are apart"
    );
    let fence_a = a.fence();
    drop(a);
    let b = s
        .try_lock("k", LONG)
        .unwrap()
        .expect("released: free again");
    assert!(b.fence() > fence_a);
}

#[test]
fn only_the_owner_releases_and_a_takeover_gets_a_larger_fence() {
    let redis = RedisServer::start(&[]);
    let s = store_at(&redis.url());
    let stale = s
        .try_lock("k", Duration::from_millis(150))
        .unwrap()
        .unwrap();
    thread::sleep(Duration::from_millis(300)); // the lease runs out (a paused holder)
    let taker = s
        .try_lock("k", LONG)
        .unwrap()
        .expect("lease ran out: taken over");
    assert!(taker.fence() > stale.fence());
    drop(stale); // the paused holder wakes up and releases: not the taker's lock
    assert!(
        s.try_lock("k", LONG).unwrap().is_none(),
        "a stale holder must not release the taker's lock"
    );
}

#[test]
fn a_stale_holders_write_is_refused() {
    let redis = RedisServer::start(&[]);
    let s = store_at(&redis.url());
    let stale = s
        .try_lock("k", Duration::from_millis(100))
        .unwrap()
        .unwrap();
    thread::sleep(Duration::from_millis(250));
    let taker = s.try_lock("k", LONG).unwrap().unwrap();
    assert_eq!(&*s.save("k", &rec("new", 2), &*taker).unwrap().token, "new");
    let held = s.save("k", &rec("late", 3), &*stale).unwrap();
    assert_eq!(&*held.token, "new", "the stale leader's write is refused");
    assert_eq!(held.fence, taker.fence());
    assert_eq!(&*s.load("k").unwrap().unwrap().token, "new");
    // An older record (earlier generation and fetch) under the current
    // fence is refused too.
    let mut older = rec("older", 1);
    older.fetched_at_ms -= 60_000;
    let held = s.save("k", &older, &*taker).unwrap();
    assert_eq!(&*held.token, "new");
}

#[test]
fn a_wiped_fence_counter_is_bumped_past_the_record() {
    let redis = RedisServer::start(&[]);
    let s = store_at(&redis.url());
    for _ in 0..5 {
        drop(s.try_lock("k", LONG).unwrap().unwrap());
    }
    let lock = s.try_lock("k", LONG).unwrap().unwrap();
    let written = s.save("k", &rec("A", 1), &*lock).unwrap();
    assert!(written.fence >= 6);
    drop(lock);
    let mut admin = redis.admin(&redis.url());
    let fence_keys: Vec<String> = redis::cmd("KEYS").arg("*:fence").query(&mut admin).unwrap();
    assert_eq!(fence_keys.len(), 1);
    let _: () = redis::cmd("DEL")
        .arg(&fence_keys[0])
        .query(&mut admin)
        .unwrap();
    let lock = s.try_lock("k", LONG).unwrap().unwrap();
    assert!(
        lock.fence() > written.fence,
        "fence {} after a wipe",
        lock.fence()
    );
    let held = s.save("k", &rec("B", 2), &*lock).unwrap();
    assert_eq!(&*held.token, "B", "the new leader's record is accepted");
}

#[test]
fn records_expire_with_the_token_and_foreign_content_reads_as_none() {
    let redis = RedisServer::start(&[]);
    let s = store_at(&redis.url());
    let lock = s.try_lock("k", LONG).unwrap().unwrap();
    let mut short = rec("short", 1);
    short.expires_at_ms = short.fetched_at_ms + 300;
    s.save("k", &short, &*lock).unwrap();
    assert!(s.load("k").unwrap().is_some());
    thread::sleep(Duration::from_millis(600));
    assert!(
        s.load("k").unwrap().is_none(),
        "the key expired with the token"
    );

    let mut admin = redis.admin(&redis.url());
    let saved = s.save("k", &rec("T", 1), &*lock).unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*:rec").query(&mut admin).unwrap();
    let _: () = redis::cmd("SET")
        .arg(&keys[0])
        .arg("garbage")
        .query(&mut admin)
        .unwrap();
    assert!(
        s.load("k").unwrap().is_none(),
        "foreign content reads as None"
    );
    let replaced = s
        .save("k", &rec("U", saved.generation + 1), &*lock)
        .unwrap();
    assert_eq!(&*replaced.token, "U", "and is replaced");
}

#[test]
fn key_prefix_names_every_key() {
    let redis = RedisServer::start(&[]);
    let mut cfg = Config::new("wxstoretest", "unused-secret");
    cfg.store = StoreSpec::Redis(redis.url());
    cfg.key_prefix = "prod.wx".into();
    let s = wxtoken::store::open(&cfg).unwrap();
    let lock = s.try_lock("k", LONG).unwrap().unwrap();
    s.save("k", &rec("T", 1), &*lock).unwrap();
    let mut admin = redis.admin(&redis.url());
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut admin).unwrap();
    keys.sort();
    assert_eq!(
        keys,
        ["prod.wx:{k}:fence", "prod.wx:{k}:lock", "prod.wx:{k}:rec"]
    );
    drop(lock);
    let keys: Vec<String> = redis::cmd("KEYS").arg("*:lock").query(&mut admin).unwrap();
    assert!(keys.is_empty(), "released: {keys:?}");
}

/// Cluster is not supported yet: a cluster node says so, not "MOVED".
#[test]
fn a_cluster_node_is_named_as_unsupported() {
    let redis = RedisServer::start(&["--cluster-enabled", "yes"]);
    let s = store_at(&redis.url());
    let err = s.load("k").unwrap_err();
    assert_eq!(err.kind(), wxtoken::ErrorKind::Store);
    assert!(
        err.to_string().contains("Cluster is not supported"),
        "{err}"
    );
}
