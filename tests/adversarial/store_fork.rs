//! A fork storm on the file store itself: children forked while parent
//! threads are inside its critical sections (the lock-file table, a slot's
//! holder, the record cache, the directory being recreated after a wipe)
//! must find every lock free. Each child uses the same store and must
//! finish within a bound; with plain mutexes some hung forever.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::support::wait_for;

use wxtoken::store::{FileStore, Store};
use wxtoken::Record;

const FORKS: usize = 150;
const CHILD_BOUND: Duration = Duration::from_secs(10);

fn record(generation: u64) -> Record {
    let now = SystemTimeMs::now();
    Record {
        token: format!("tok-{generation}").into(),
        expires_at_ms: now + 7_200_000,
        fetched_at_ms: now,
        generation,
        fence: 0,
    }
}

struct SystemTimeMs;

impl SystemTimeMs {
    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    }
}

/// One round of every store operation on `key`; errors are fine (a lease
/// lost to a taker, a wiped directory), only a hang is not.
fn round(store: &FileStore, key: &str, generation: u64) {
    let _ = store.load(key);
    if let Ok(Some(lock)) = store.try_lock(key, Duration::from_secs(1)) {
        let _ = store.check_writable(key);
        let _ = store.save(key, &record(generation), &*lock);
    }
    let _ = store.load(key);
}

#[test]
fn children_forked_during_a_storm_of_file_store_calls_never_hang() {
    let dir = std::env::temp_dir().join(format!("wxtoken-adv-fstorm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = FileStore::open(Some(&dir)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads: Vec<_> = (0..3u64)
        .map(|id| {
            let (stop, store) = (stop.clone(), store.clone());
            thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    round(&store, &format!("k{}", (n + id) % 4), n);
                }
            })
        })
        .collect();
    // A tmp cleaner: the directory is recreated, lock files opened anew.
    threads.push({
        let (stop, dir) = (stop.clone(), dir.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = std::fs::remove_dir_all(&dir);
                thread::sleep(Duration::from_millis(3));
            }
        })
    });
    thread::sleep(Duration::from_millis(50));

    let (mut hung, mut failed) = (0, Vec::new());
    for i in 0..FORKS {
        // SAFETY: the child uses the store, then _exit; it never returns here.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let key = format!("k{}", i % 4);
            round(&store, &key, 1_000_000 + i as u64);
            let code = match store.load(&key) {
                Ok(_) => 0,
                Err(_) => 10,
            };
            // SAFETY: ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(code) };
        }
        match wait_for(pid, CHILD_BOUND) {
            None => hung += 1,
            Some(0) => {}
            Some(code) => failed.push(code),
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(hung, 0, "{hung} of {FORKS} children hung on a store lock");
    // A child's load can meet the directory mid-wipe: an error, not a hang.
    assert!(
        failed.iter().all(|&c| c == 10),
        "children crashed: {failed:?}"
    );
}
