//! The Redis store (`redis://`, `rediss://`, `redis+sentinel://`): a fleet of hosts shares one
//! record, one refresh lock and one fence counter per app (DESIGN.md,
//! "Several hosts"). Each check-and-write is one Lua script (`scripts`).
//!
//! Clocks: hosts' wall clocks disagree, Redis's is one clock for all. The
//! record in Redis holds its times on Redis's clock (the save script stamps
//! them with `TIME`: fetched = now - age, expires = now + remaining, both
//! measured by the writer as durations, not dates). Every reply carries
//! Redis's `TIME` too, and [`ServerClock`] turns Redis times into this
//! host's wall clock: `local = redis_time + (local_now - redis_now)`. A host
//! whose clock is 10 minutes off thus sees the token expire when it really
//! does (on its own clock, consistently), refreshes on time, and never moves
//! the others' refresh point. The record's key also expires with the token.
//!
//! Load per process: the background refresher reads each app's record
//! every 500 ms (one script call, one round trip); the fresh-get path never
//! touches Redis.

mod keys;
mod link;
mod scripts;
mod target;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use once_cell::sync::Lazy;
use parking_lot::Mutex;
use redis::{Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, TlsCertificates};

use super::{RefreshLock, Store};
use crate::clock::now_ms;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::record::Record;
use keys::Keys;
use link::Link;
use target::{Sentinel, Target};

pub(crate) use keys::{check_prefix, DEFAULT_PREFIX};

/// Connect, read and write timeouts of one Redis call: at most 1 s, and no
/// more than the app's wait_ms or timeout_ms (at least 100 ms).
fn call_timeout(cfg: &Config) -> Duration {
    cfg.wait
        .min(cfg.timeout)
        .clamp(Duration::from_millis(100), Duration::from_secs(1))
}

/// What makes two stores the same: apps configured alike share one
/// connection per process.
#[derive(Clone, PartialEq, Eq, Hash)]
struct StoreId {
    url: String,
    prefix: String,
    ca_file: Option<PathBuf>,
    timeout: Duration,
}

pub struct RedisStore {
    link: Arc<Link>,
    prefix: String,
    describe: String,
    clock: ServerClock,
}

impl RedisStore {
    /// The store for `cfg` (its `store` a redis URL), shared with every app
    /// configured with the same URL, prefix, CA file and timeout.
    pub(crate) fn open(cfg: &Config, url: &str) -> Result<Arc<dyn Store>> {
        static OPEN: Lazy<Mutex<HashMap<StoreId, Arc<RedisStore>>>> = Lazy::new(Default::default);
        let id = StoreId {
            url: url.to_string(),
            prefix: cfg.key_prefix.clone(),
            ca_file: cfg.redis_ca_file.clone(),
            timeout: call_timeout(cfg),
        };
        let mut open = OPEN.lock();
        if let Some(store) = open.get(&id) {
            return Ok(store.clone());
        }
        let store = Arc::new(RedisStore::connect(&id)?);
        open.insert(id, store.clone());
        Ok(store)
    }

    fn connect(id: &StoreId) -> Result<RedisStore> {
        check_prefix(&id.prefix)?;
        let sentinel = url::Url::parse(&id.url).is_ok_and(|u| u.scheme() == SENTINEL_SCHEME);
        let (target, describe) = if sentinel {
            sentinel_target(id)?
        } else {
            direct_target(id)?
        };
        Ok(RedisStore {
            link: Arc::new(Link::new(target, id.timeout, describe.clone())),
            prefix: id.prefix.clone(),
            describe,
            clock: ServerClock::default(),
        })
    }

    fn keys(&self, store_key: &str) -> Keys {
        Keys::new(&self.prefix, store_key)
    }
}

const SENTINEL_SCHEME: &str = "redis+sentinel";
const SENTINEL_PORT: u16 = 26379;

/// `redis://` or `rediss://`: one server.
fn direct_target(id: &StoreId) -> Result<(Target, String)> {
    // redis-rs parses the URL (with the url crate); its error would quote
    // it, password included, so it is not passed on.
    let info: ConnectionInfo = id.url.as_str().into_connection_info().map_err(|_| {
        Error::invalid("store is not a valid redis:// or rediss:// URL (redis://[user[:password]@]host[:port][/db])")
    })?;
    let describe = describe(&info);
    let client = match (&info.addr, &id.ca_file) {
        (ConnectionAddr::TcpTls { insecure: true, .. }, _) => {
            return Err(Error::invalid(
                "rediss:// without certificate checks (#insecure) is refused; name the server's CA with redis_ca_file",
            ))
        }
        (ConnectionAddr::TcpTls { .. }, Some(ca)) => {
            let pem = std::fs::read(ca).map_err(|e| {
                Error::invalid(format!("cannot read redis_ca_file {}: {}", ca.display(), e.kind()))
            })?;
            let certs = TlsCertificates {
                client_tls: None,
                root_cert: Some(pem),
            };
            Client::build_with_tls(info, certs)
        }
        (_, Some(_)) => {
            return Err(Error::invalid(
                "redis_ca_file goes with a rediss:// store only",
            ))
        }
        _ => Client::open(info),
    }
    .map_err(|_| Error::invalid(format!("store {describe}: invalid TLS setup (is redis_ca_file a PEM file?)")))?;
    Ok((Target::Direct(client), describe))
}

/// `redis+sentinel://[user[:password]@]host[:port]/service[/db][?sentinel=host:port...]`:
/// the primary that the sentinels name for `service`; user and password
/// are the primary's (the sentinels are asked without).
fn sentinel_target(id: &StoreId) -> Result<(Target, String)> {
    let bad = || {
        Error::invalid(
            "store is not a valid redis+sentinel:// URL \
             (redis+sentinel://[user[:password]@]host[:port]/service[/db][?sentinel=host:port...])",
        )
    };
    if id.ca_file.is_some() {
        return Err(Error::invalid(
            "redis_ca_file goes with a rediss:// store only (TLS through Sentinel is not supported yet)",
        ));
    }
    let url = url::Url::parse(&id.url).map_err(|_| bad())?;
    let mut sentinels = vec![host_port(&url).ok_or_else(bad)?];
    for (name, value) in url.query_pairs() {
        if name != "sentinel" {
            return Err(Error::invalid(
                "redis+sentinel:// URL: the only parameter is sentinel=host:port",
            ));
        }
        let extra = url::Url::parse(&format!("redis://{value}")).map_err(|_| bad())?;
        sentinels.push(host_port(&extra).ok_or_else(bad)?);
    }
    let mut path = url
        .path_segments()
        .ok_or_else(bad)?
        .filter(|s| !s.is_empty());
    let service = path.next().ok_or_else(bad)?.to_string();
    let db: i64 = match path.next() {
        Some(db) => db.parse().map_err(|_| bad())?,
        None => 0,
    };
    if path.next().is_some() {
        return Err(bad());
    }
    // The primary's user and password, decoded by redis-rs from a redis://
    // URL with the same (still percent-encoded) user info.
    let userinfo = match (url.username(), url.password()) {
        (user, Some(pw)) => format!("{user}:{pw}@"),
        ("", None) => String::new(),
        (user, None) => format!("{user}@"),
    };
    let node = format!("redis://{userinfo}sentinel-named-primary/{db}")
        .as_str()
        .into_connection_info()
        .map_err(|_| bad())?
        .redis;
    let user = node
        .username
        .as_deref()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let list: Vec<String> = sentinels.iter().map(|(h, p)| format!("{h}:{p}")).collect();
    let describe = format!("redis+sentinel://{user}{}/{service}/{db}", list.join(","));
    let target = Target::Sentinel(Sentinel {
        sentinels,
        service,
        node,
    });
    Ok((target, describe))
}

fn host_port(url: &url::Url) -> Option<(String, u16)> {
    let host = match url.host()? {
        url::Host::Domain(d) => d.to_string(),
        url::Host::Ipv4(a) => a.to_string(),
        url::Host::Ipv6(a) => a.to_string(),
    };
    Some((host, url.port().unwrap_or(SENTINEL_PORT)))
}

/// For status and errors: scheme, user, host, port, db; never the password.
fn describe(info: &ConnectionInfo) -> String {
    let user = info
        .redis
        .username
        .as_deref()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let db = info.redis.db;
    match &info.addr {
        ConnectionAddr::Tcp(host, port) => format!("redis://{user}{host}:{port}/{db}"),
        ConnectionAddr::TcpTls { host, port, .. } => format!("rediss://{user}{host}:{port}/{db}"),
        ConnectionAddr::Unix(path) => format!("redis+unix://{user}{}?db={db}", path.display()),
    }
}

struct RedisLock {
    link: Arc<Link>,
    lock_key: String,
    owner: String,
    fence: u64,
}

impl RefreshLock for RedisLock {
    fn fence(&self) -> u64 {
        self.fence
    }
}

impl Drop for RedisLock {
    fn drop(&mut self) {
        // Failing to release only costs the others the rest of the lease.
        let _ = self.link.run("release the refresh lock", |c| {
            scripts::UNLOCK
                .key(&self.lock_key)
                .arg(&self.owner)
                .invoke::<i64>(c)
        });
    }
}

/// A script's reply: Redis's TIME, then the record's fields (if any).
type Reply = Vec<Option<String>>;

impl Store for RedisStore {
    fn load(&self, key: &str) -> Result<Option<Record>> {
        let keys = self.keys(key);
        let reply: Reply = self.link.run("read the record", |c| {
            scripts::LOAD.key(&keys.rec).invoke(c)
        })?;
        Ok(self.clock.record(&reply))
    }

    fn save(&self, key: &str, record: &Record, lock: &dyn RefreshLock) -> Result<Record> {
        let keys = self.keys(key);
        let now = now_ms();
        let age = now.saturating_sub(record.fetched_at_ms);
        let remaining = record.expires_at_ms.saturating_sub(now);
        let reply: Reply = self.link.run("write the record", |c| {
            scripts::SAVE
                .key(&keys.rec)
                .arg(&*record.token)
                .arg(record.generation)
                .arg(lock.fence())
                .arg(age)
                .arg(remaining)
                .invoke(c)
        })?;
        self.clock.record(&reply).ok_or_else(|| {
            Error::new(
                ErrorKind::Store,
                format!(
                    "redis store {}: the record script answered no record",
                    self.describe
                ),
            )
        })
    }

    fn try_lock(&self, key: &str, lease: Duration) -> Result<Option<Box<dyn RefreshLock>>> {
        let keys = self.keys(key);
        let owner = owner_token();
        let lease_ms = (lease.as_millis() as u64).max(1);
        let fence: Option<u64> = self.link.run("take the refresh lock", |c| {
            scripts::LOCK
                .key(&keys.lock)
                .key(&keys.fence)
                .key(&keys.rec)
                .arg(&owner)
                .arg(lease_ms)
                .invoke(c)
        })?;
        Ok(fence.map(|fence| {
            Box::new(RedisLock {
                link: self.link.clone(),
                lock_key: keys.lock,
                owner,
                fence,
            }) as Box<dyn RefreshLock>
        }))
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

/// A token naming one holding of a lock: 128 random bits, so that no other
/// holding, on any host, can release it.
fn owner_token() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        // No urandom (a chroot): unique enough by process, time and counter.
        use std::sync::atomic::AtomicU64;
        static N: AtomicU64 = AtomicU64::new(0);
        let mix = [
            u64::from(std::process::id()),
            now_ms(),
            N.fetch_add(1, Ordering::Relaxed),
            &bytes as *const _ as u64,
        ];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (mix[i % 4] >> ((i / 4) * 8)) as u8;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// This host's view of Redis's clock: `offset = local_now - redis_now`,
/// measured on every reply. It is kept while new measurements stay within
/// [`ServerClock::JITTER_MS`] of it, so the same record converts to the
/// same local times on every read (a record that seemed to move would be
/// adopted again and again); a clock step beyond that is taken at once.
#[derive(Default)]
pub(crate) struct ServerClock {
    offset: AtomicI64,
    /// False until the first reply.
    measured: AtomicBool,
}

impl ServerClock {
    const JITTER_MS: i64 = 250;

    fn offset(&self, local_now: u64, redis_now: u64) -> i64 {
        let fresh = local_now as i64 - redis_now as i64;
        if self.measured.load(Ordering::Acquire) {
            let kept = self.offset.load(Ordering::Relaxed);
            if (fresh - kept).abs() <= Self::JITTER_MS {
                return kept;
            }
        }
        self.offset.store(fresh, Ordering::Relaxed);
        self.measured.store(true, Ordering::Release);
        fresh
    }

    /// The record in a script reply, its times on this host's clock; None
    /// if the reply holds no well-formed record.
    fn record(&self, reply: &Reply) -> Option<Record> {
        self.record_at(reply, now_ms())
    }

    fn record_at(&self, reply: &Reply, local_now: u64) -> Option<Record> {
        let num = |i: usize| reply.get(i)?.as_deref()?.parse::<u64>().ok();
        let redis_now = num(0)?.checked_mul(1000)? + num(1)? / 1000;
        let offset = self.offset(local_now, redis_now);
        if reply.get(2)?.as_deref()? != "1" {
            return None;
        }
        let token = reply.get(3)?.as_deref().filter(|t| !t.is_empty())?;
        let local = |t: u64| (t as i64).saturating_add(offset).max(0) as u64;
        Some(Record {
            token: token.into(),
            generation: num(4)?,
            fence: num(5)?,
            fetched_at_ms: local(num(6)?),
            expires_at_ms: local(num(7)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(redis_ms: u64, fetched: u64, expires: u64) -> Reply {
        let s = |v: u64| Some(v.to_string());
        vec![
            s(redis_ms / 1000),
            s(redis_ms % 1000 * 1000),
            s(1),
            Some("TOK".into()),
            s(7),
            s(3),
            s(fetched),
            s(expires),
        ]
    }

    #[test]
    fn redis_times_become_this_hosts_times() {
        // This host runs 10 minutes ahead of Redis.
        let skew = 600_000;
        let redis_now = 1_700_000_000_000;
        let clock = ServerClock::default();
        let r = clock
            .record_at(
                &reply(redis_now, redis_now - 1000, redis_now + 7_199_000),
                redis_now + skew,
            )
            .unwrap();
        assert_eq!(r.fetched_at_ms, redis_now + skew - 1000);
        assert_eq!(r.expires_at_ms, redis_now + skew + 7_199_000);
        assert!(r.is_valid(redis_now + skew + 7_198_999));
        assert!(!r.is_valid(redis_now + skew + 7_199_000));
        assert_eq!((r.generation, r.fence, &*r.token), (7, 3, "TOK"));
    }

    #[test]
    fn round_trip_jitter_does_not_move_a_record() {
        let clock = ServerClock::default();
        let at = |local| {
            clock
                .record_at(&reply(1_000_000, 900_000, 2_000_000), local)
                .unwrap()
        };
        let first = at(5_000_000);
        assert_eq!(at(5_000_120), first, "120 ms of jitter: same local times");
        // A real step of the host clock (NTP) is taken at once.
        assert_eq!(at(5_060_000).expires_at_ms, first.expires_at_ms + 60_000);
    }

    #[test]
    fn absent_or_foreign_records_read_as_none() {
        let clock = ServerClock::default();
        let t = || vec![Some("1700000000".to_string()), Some("0".to_string())];
        assert_eq!(clock.record_at(&t(), 0), None);
        let mut foreign = t();
        foreign.extend([Some("2".into()), Some("x".into()), None, None, None, None]);
        assert_eq!(clock.record_at(&foreign, 0), None);
        let mut bad_num = reply(1_000_000, 1, 2);
        bad_num[4] = Some("seven".into());
        assert_eq!(clock.record_at(&bad_num, 0), None);
    }

    #[test]
    fn owner_tokens_differ() {
        assert_ne!(owner_token(), owner_token());
        assert_eq!(owner_token().len(), 32);
    }
}
