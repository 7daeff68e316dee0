//! The Redis store (`redis://`, `rediss://`, `redis+sentinel://`): a fleet
//! of hosts shares one record, one refresh lock and one fence counter per
//! app (docs/design.md, "Several hosts"). Each check-and-write is one Lua script
//! (`scripts`); `target` says where to connect, `link` keeps the connection.
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
mod server_clock;
mod target;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::{RefreshLock, Store};
use crate::clock::now_ms;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::fork;
use crate::meta::{quota_day, Meta};
use crate::record::Record;
use keys::Keys;
use link::Link;
use server_clock::{Reply, ServerClock};

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
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
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
        // A const mutex of the fork gate, held for a lookup or an insert:
        // parsing the URL (and reading a CA file) happens outside it.
        static OPEN: fork::Mutex<BTreeMap<StoreId, Arc<RedisStore>>> =
            fork::Mutex::new(BTreeMap::new());
        let id = StoreId {
            url: url.to_string(),
            prefix: cfg.key_prefix.clone(),
            ca_file: cfg.redis_ca_file.clone(),
            timeout: call_timeout(cfg),
        };
        if let Some(store) = OPEN.lock().get(&id).cloned() {
            return Ok(store);
        }
        let store = Arc::new(RedisStore::connect(&id)?);
        let mut open = OPEN.lock();
        // Another thread may have opened it meanwhile: one store per id.
        let store = open.entry(id).or_insert(store).clone();
        drop(open);
        Ok(store)
    }

    fn connect(id: &StoreId) -> Result<RedisStore> {
        check_prefix(&id.prefix)?;
        scripts::force_all();
        let (target, describe) = target::parse(&id.url, id.ca_file.as_deref())?;
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

impl Store for RedisStore {
    fn stored_keys(&self) -> Result<Vec<String>> {
        // SCAN, never KEYS: a large Redis must not stall for a listing.
        let pattern = format!("{}:{{*}}:*", self.prefix);
        let names: Vec<String> = self.link.run("list the keys", |c| {
            let mut out = Vec::new();
            for name in redis::Commands::scan_match::<_, String>(c, &pattern)? {
                out.push(name);
            }
            Ok(out)
        })?;
        let mut keys: Vec<String> = names
            .iter()
            .filter_map(|n| {
                let rest = n.strip_prefix(&self.prefix)?.strip_prefix(":{")?;
                let (key, kind) = rest.split_once("}:")?;
                matches!(kind, "rec" | "meta").then(|| key.to_string())
            })
            .collect();
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

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

    /// Times come back from Redis's clock to this host's, and the day is
    /// Redis's platform day (quota_day): every host of the fleet resets at the same moment.
    fn load_meta(&self, key: &str) -> Result<Meta> {
        let keys = self.keys(key);
        let reply: Reply = self.link.run("read the shared state", |c| {
            scripts::LOAD_META.key(&keys.meta).invoke(c)
        })?;
        let (redis_now, offset) = self.clock.time_and_offset(&reply).ok_or_else(|| {
            Error::new(
                ErrorKind::Store,
                format!(
                    "redis store {}: the meta script answered no time",
                    self.describe
                ),
            )
        })?;
        let today = quota_day(redis_now);
        let stored = reply
            .get(2)
            .and_then(|j| j.as_deref())
            .and_then(|j| Meta::from_json(j, redis_now));
        Ok(stored.map_or_else(|| Meta::new(today), |m| m.shifted(offset).roll_to(today)))
    }

    /// Times go to Redis's clock with the offset of the last reply (the
    /// leader has just read the meta, so it is fresh).
    fn save_meta(&self, key: &str, meta: &Meta, lock: &dyn RefreshLock) -> Result<()> {
        let offset = match self.clock.known_offset() {
            Some(o) => o,
            None => {
                self.load_meta(key)?;
                self.clock.known_offset().unwrap_or(0)
            }
        };
        let meta = Meta {
            fence: lock.fence(),
            ..meta.shifted(-offset)
        };
        let keys = self.keys(key);
        let _: Reply = self.link.run("write the shared state", |c| {
            scripts::SAVE_META
                .key(&keys.meta)
                .arg(meta.fence)
                .arg(meta.to_json())
                .arg(META_TTL_MS)
                .invoke(c)
        })?;
        Ok(())
    }
}

/// A meta outlives its day's count: two days after the last refresh.
const META_TTL_MS: u64 = 2 * 86_400_000;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_tokens_differ() {
        assert_ne!(owner_token(), owner_token());
        assert_eq!(owner_token().len(), 32);
    }
}
