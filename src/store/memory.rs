//! The memory store: one map per process. It outlives the token cells, so a
//! re-configured app keeps its token instead of fetching (and killing) it anew.
//! Its locks are fork-gated (`fork::Mutex`): a child never finds one held.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use once_cell::sync::Lazy;

use super::{RefreshLock, Store};
use crate::clock::mono_ms;
use crate::clock::now_ms;
use crate::error::Result;
use crate::fork::{self, Mutex};
use crate::meta::{quota_day, Meta};
use crate::record::Record;

/// A held lock: who holds it (its fence), until when (ms), taken in which
/// fork generation.
#[derive(Clone, Copy)]
struct Lease {
    fence: u64,
    until_ms: u64,
    fork_gen: u64,
}

type Leases = Arc<Mutex<HashMap<String, Lease>>>;

#[derive(Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<String, Record>>,
    metas: Mutex<HashMap<String, Meta>>,
    locks: Leases,
    /// The last fence handed out, for all keys: fences only grow.
    last_fence: Mutex<u64>,
}

impl MemoryStore {
    pub fn global() -> Arc<dyn Store> {
        static GLOBAL: Lazy<Arc<MemoryStore>> = Lazy::new(Arc::default);
        // Initialised inside a section: no fork can find it half-made.
        let _section = fork::section();
        GLOBAL.clone()
    }
}

struct MemoryLock {
    locks: Leases,
    key: String,
    fence: u64,
}

impl RefreshLock for MemoryLock {
    fn fence(&self) -> u64 {
        self.fence
    }
}

impl Drop for MemoryLock {
    fn drop(&mut self) {
        let mut locks = self.locks.lock();
        // Only our own lock: after a lease ran out someone else may hold it.
        if locks.get(&self.key).is_some_and(|l| l.fence == self.fence) {
            locks.remove(&self.key);
        }
    }
}

impl Store for MemoryStore {
    fn load(&self, key: &str) -> Result<Option<Record>> {
        Ok(self.records.lock().get(key).cloned())
    }

    fn stored_keys(&self) -> Result<Vec<String>> {
        let mut keys: Vec<String> = self.records.lock().keys().cloned().collect();
        keys.extend(self.metas.lock().keys().cloned());
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    fn save(&self, key: &str, record: &Record, lock: &dyn RefreshLock) -> Result<Record> {
        let record = Record {
            fence: lock.fence(),
            ..record.clone()
        };
        let mut records = self.records.lock();
        match records.get(key) {
            Some(held) if !record.may_replace(held) => Ok(held.clone()),
            _ => {
                records.insert(key.to_string(), record.clone());
                Ok(record)
            }
        }
    }

    fn try_lock(&self, key: &str, lease: Duration) -> Result<Option<Box<dyn RefreshLock>>> {
        let now = mono_ms();
        let generation = fork::generation();
        let mut locks = self.locks.lock();
        // A lock taken before a fork belongs to a thread the child lacks.
        if locks
            .get(key)
            .is_some_and(|l| l.until_ms > now && l.fork_gen == generation)
        {
            return Ok(None);
        }
        let fence = {
            let mut last = self.last_fence.lock();
            *last += 1;
            *last
        };
        let until_ms = now.saturating_add(lease.as_millis() as u64);
        locks.insert(
            key.to_string(),
            Lease {
                fence,
                until_ms,
                fork_gen: generation,
            },
        );
        Ok(Some(Box::new(MemoryLock {
            locks: self.locks.clone(),
            key: key.to_string(),
            fence,
        })))
    }

    fn describe(&self) -> String {
        "memory".to_string()
    }

    fn load_meta(&self, key: &str) -> Result<Meta> {
        let today = quota_day(now_ms());
        Ok(match self.metas.lock().get(key) {
            Some(m) => m.clone().roll_to(today),
            None => Meta::new(today),
        })
    }

    fn save_meta(&self, key: &str, meta: &Meta, lock: &dyn RefreshLock) -> Result<()> {
        let mut metas = self.metas.lock();
        if metas.get(key).is_none_or(|held| lock.fence() >= held.fence) {
            let meta = Meta {
                fence: lock.fence(),
                ..meta.clone()
            };
            metas.insert(key.to_string(), meta);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::record::test_record as rec;

    #[test]
    fn keeps_only_newer_records() {
        let s = MemoryStore::default();
        let lock = s.try_lock("k", Duration::from_secs(60)).unwrap().unwrap();
        let save = |r| s.save("k", &r, &*lock).unwrap().token;
        assert_eq!(&*save(rec("a", 2)), "a");
        assert_eq!(&*save(rec("b", 1)), "a");
        assert_eq!(&*save(rec("c", 3)), "c");
        assert_eq!(s.load("k").unwrap().unwrap().token.as_ref(), "c");
    }

    #[test]
    fn a_leader_whose_lease_ran_out_cannot_write() {
        let s = MemoryStore::default();
        let stale = s.try_lock("k", Duration::from_millis(0)).unwrap().unwrap();
        let taker = s.try_lock("k", Duration::from_secs(60)).unwrap().unwrap();
        assert!(taker.fence() > stale.fence());
        s.save("k", &rec("new", 2), &*taker).unwrap();
        let held = s.save("k", &rec("late", 3), &*stale).unwrap();
        assert_eq!(&*held.token, "new", "the stale leader's write is refused");
    }

    #[test]
    fn lock_is_exclusive_until_dropped_or_lease_ends() {
        let s = MemoryStore::default();
        let held = s.try_lock("k", Duration::from_secs(60)).unwrap();
        assert!(held.is_some());
        assert!(s.try_lock("k", Duration::from_secs(60)).unwrap().is_none());
        assert!(s
            .try_lock("other", Duration::from_secs(60))
            .unwrap()
            .is_some());
        drop(held);
        let short = s.try_lock("k", Duration::from_millis(0)).unwrap();
        assert!(short.is_some());
        // A zero lease has already run out: a dead holder does not block.
        assert!(s.try_lock("k", Duration::from_secs(1)).unwrap().is_some());
    }

    #[test]
    fn a_stale_leader_cannot_overwrite_the_shared_state() {
        let s = MemoryStore::default();
        let stale = s.try_lock("k", Duration::from_millis(0)).unwrap().unwrap();
        let taker = s.try_lock("k", Duration::from_secs(60)).unwrap().unwrap();
        let mut m = s.load_meta("k").unwrap();
        m.fetches_today = 2;
        s.save_meta("k", &m, &*taker).unwrap();
        m.fetches_today = 1;
        s.save_meta("k", &m, &*stale).unwrap();
        assert_eq!(s.load_meta("k").unwrap().fetches_today, 2);
    }
}
