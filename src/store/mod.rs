//! Stores: where processes (and hosts) share one record per app, and elect
//! the one refresher through a lock. The token cell only talks to this trait;
//! configure picks the implementation from the `store` option. Public so
//! that tools and benchmarks can read what a store holds.

mod file;
mod memory;
mod redis;

use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, StoreSpec};
use crate::error::Result;
use crate::meta::Meta;
use crate::record::Record;

pub use self::redis::RedisStore;
pub(crate) use self::redis::{check_prefix, DEFAULT_PREFIX};
pub use file::FileStore;
pub use memory::MemoryStore;

/// Held while refreshing; dropping it releases the lock.
pub trait RefreshLock: Send {
    /// This holding's fence: each acquisition of a key's lock gets a larger
    /// one than every earlier acquisition, also one taken over from a holder
    /// whose lease ran out. [`Store::save`] writes only under the newest.
    fn fence(&self) -> u64;
}

pub trait Store: Send + Sync {
    /// The record for `key`. Unreadable or foreign content reads as None.
    fn load(&self, key: &str) -> Result<Option<Record>>;

    /// Writes `record`, stamped with `lock`'s fence, unless the store holds
    /// a record it may not replace ([`Record::may_replace`]): a newer one, or
    /// one written under a later fence. Returns what the store holds after.
    /// An error means the record could not be written: the leader then still
    /// serves the token it fetched, from memory, and logs the error (throwing
    /// a fetched token away would kill the one others use, for nothing).
    fn save(&self, key: &str, record: &Record, lock: &dyn RefreshLock) -> Result<Record>;

    /// Takes the refresh lock for `key` without waiting: None while another
    /// party holds it. A holder that dies loses it after `lease` at the latest.
    fn try_lock(&self, key: &str, lease: Duration) -> Result<Option<Box<dyn RefreshLock>>>;

    /// Called by the lock's holder before it fetches: fails if the store
    /// could not hold `key`'s record, so that a broken store does not turn
    /// every refresh into a fetch whose token is thrown away.
    fn check_writable(&self, _key: &str) -> Result<()> {
        Ok(())
    }

    /// For status output (never a password or secret).
    fn describe(&self) -> String;

    /// Every store key that holds a record or shared state, for tools that
    /// show what a store holds (`wxtoken status --all`); sorted.
    fn stored_keys(&self) -> Result<Vec<String>>;

    /// A warning about how this store is shared, for status (None: none).
    /// The default file store names other users' stores on the host: their
    /// processes refresh on their own (see README, "One store per host").
    fn notice(&self) -> Option<String> {
        None
    }

    /// The app's shared failure state and fetch count (crate::meta), its
    /// count rolled over to the store's current platform day (00:00 Beijing time). Unreadable or
    /// foreign content reads as an empty meta.
    fn load_meta(&self, key: &str) -> Result<Meta>;

    /// Writes `meta`, stamped with `lock`'s fence, unless the store holds
    /// one written under a later fence (a leader that lost its lease).
    fn save_meta(&self, key: &str, meta: &Meta, lock: &dyn RefreshLock) -> Result<()>;
}

/// Opens the store a config names.
pub fn open(cfg: &Config) -> Result<Arc<dyn Store>> {
    match &cfg.store {
        StoreSpec::Memory => Ok(MemoryStore::global()),
        StoreSpec::File(dir) => Ok(FileStore::open(dir.as_deref())?),
        StoreSpec::Redis(url) => RedisStore::open(cfg, url),
    }
}
