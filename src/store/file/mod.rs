//! The file store: one directory shared by the processes of a host. Per app,
//! a record file (replaced atomically) and a lock file holding the refresh
//! lock's lease (lease.rs). The directory is held open and verified, and
//! every file is opened relative to it without following symlinks (dir.rs):
//! other local users are untrusted.

mod dir;
mod lease;
mod neighbours;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{RefreshLock, Store};
use crate::clock::now_ms;
use crate::error::{Error, ErrorKind, Result};
use crate::fork::Mutex;
use crate::log::{self, Event};
use crate::meta::{quota_day, Meta};
use crate::record::Record;
use dir::{Access, Dir, Found, Place, Stamp};

/// Records are small; a larger file is not one of ours.
const MAX_RECORD: u64 = 64 * 1024;

pub struct FileStore {
    dir: Dir,
    /// Per key, the record file last read (its stamp) and what it held: the
    /// refresher polls every record every 500 ms, and an unchanged file then
    /// costs one fstatat instead of open, read, parse and close. A
    /// [`Mutex`] of the fork gate, held for a lookup or an insert only.
    seen: Mutex<HashMap<String, (Stamp, Option<Record>)>>,
    /// The directory the default store's name is under (None for a given
    /// directory): other users' default stores there are worth a warning.
    default_base: Option<PathBuf>,
}

impl FileStore {
    /// Opens (creating it 0700 if needed) `dir`, or the default directory
    /// (see [`FileStore::open_default_under`]), under /dev/shm (else /tmp).
    /// Refuses a directory that is a symlink, owned by another user, or
    /// writable by group or others: whoever can write there can feed us
    /// tokens.
    pub fn open(dir: Option<&Path>) -> Result<Arc<FileStore>> {
        match dir {
            Some(d) => Self::at(Place::Given(d.to_path_buf()), None),
            None => Self::open_default_under(default_base()),
        }
    }

    /// The default store under `base` (/dev/shm in production; tests pass
    /// their own): `wxtoken-<uid>`, or, if another user took that name (or
    /// it is unsafe), the first of `wxtoken-<uid>-1` ... `-8` that is ours
    /// or that we can create. Every process of the user walks the same
    /// sequence, so they meet in one place; a hostile name is logged.
    ///
    /// One fixed sequence per user, whatever the environment: a directory
    /// from $XDG_RUNTIME_DIR would split one user's processes in two
    /// (PHP-FPM and cron under systemd have none; a login shell has one),
    /// and two stores mean two refreshers killing each other's tokens.
    /// /dev/shm is per host, in memory, and not hidden by systemd's
    /// PrivateTmp (which php-fpm's unit sets), unlike /tmp.
    #[doc(hidden)]
    pub fn open_default_under(base: &Path) -> Result<Arc<FileStore>> {
        let store = Self::at(Place::default_under(base), Some(base.to_path_buf()))?;
        neighbours::warn_once(base, dir::euid());
        Ok(store)
    }

    fn at(place: Place, default_base: Option<PathBuf>) -> Result<Arc<FileStore>> {
        Ok(Arc::new(FileStore {
            dir: Dir::open(place)?,
            seen: Mutex::default(),
            default_base,
        }))
    }

    /// The directory in use now.
    pub fn dir(&self) -> PathBuf {
        self.dir.path()
    }

    fn err(&self, name: &str, what: &str, e: &io::Error) -> Error {
        dir::io_err(&self.dir.path().join(name), what, e)
    }

    /// The lock file's slot, (re)opened if the file at its name changed.
    fn slot(&self, key: &str) -> Result<Arc<lease::Slot>> {
        let name = lock_name(key);
        let current = || match self.dir.run(|fd| dir::stat_at(fd, &name)) {
            Ok(Ok(st)) if st.st_mode & libc::S_IFMT == libc::S_IFREG => {
                Some((st.st_dev, st.st_ino))
            }
            _ => None,
        };
        let open = || {
            self.dir
                .run(|fd| open_lock_file(fd, &name))
                .map_err(|e| io::Error::other(e.to_string()))?
        };
        lease::slot(current, open).map_err(|e| self.err(&name, "cannot open the lock file", &e))
    }

    /// Writes `record` unless the store holds one it may not replace.
    /// Called under the lock file's mutation lock.
    fn write_if_newer(&self, key: &str, record: &Record) -> Result<Record> {
        if let Some(held) = self.load(key)? {
            if !record.may_replace(&held) {
                return Ok(held);
            }
        }
        self.replace_file(key, &record_name(key), &record.to_json())?;
        Ok(record.clone())
    }

    /// Replaces the file `name` with `text` atomically: a temporary file,
    /// synced, renamed over it through the verified directory.
    fn replace_file(&self, key: &str, name: &str, text: &str) -> Result<()> {
        let tmp = temp_name(key);
        let write = |fd| -> io::Result<()> {
            let mut f = dir::create_new(fd, &tmp)?;
            let written = f
                .write_all(text.as_bytes())
                .and_then(|()| f.sync_all())
                .and_then(|()| dir::rename(fd, &tmp, name));
            if written.is_err() {
                let _ = dir::remove_junk(fd, &tmp);
            }
            written
        };
        self.dir
            .run(write)?
            .map_err(|e| self.err(name, "cannot write", &e))
    }

    /// The meta file's content, None if absent, junk or not ours.
    fn read_meta(&self, key: &str) -> Result<Option<Meta>> {
        let name = meta_name(key);
        let file = match self.dir.run(|fd| dir::open_file(fd, &name, Access::Read))? {
            Ok(Found::Ours(f)) => f,
            Ok(Found::Junk | Found::Absent) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.err(&name, "cannot read", &e)),
        };
        let mut text = String::new();
        Ok(match file.take(MAX_RECORD).read_to_string(&mut text) {
            Ok(_) => Meta::from_json(&text, now_ms()),
            Err(_) => None,
        })
    }
}

/// /dev/shm where it exists (Linux), else /tmp.
fn default_base() -> &'static Path {
    if Path::new("/dev/shm").is_dir() {
        Path::new("/dev/shm")
    } else {
        Path::new("/tmp")
    }
}

/// A temporary file's name, unique to this process and write.
fn temp_name(key: &str) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    format!(
        ".{key}.{}.{}.tmp",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// What a probe writes before a fetch: more than any record takes.
const PROBE_BYTES: usize = 8 * 1024;

fn record_name(key: &str) -> String {
    format!("{key}.json")
}

fn meta_name(key: &str) -> String {
    format!("{key}.meta")
}

fn lock_name(key: &str) -> String {
    format!("{key}.lock")
}

/// The lock file, created if missing; junk of ours at its name (a FIFO, a
/// directory) is removed and replaced.
fn open_lock_file(fd: i32, name: &str) -> io::Result<std::fs::File> {
    for _ in 0..2 {
        match dir::open_file(fd, name, Access::Lock)? {
            Found::Ours(f) => return Ok(f),
            Found::Junk | Found::Absent => dir::remove_junk(fd, name)?,
        }
    }
    Err(io::Error::other("the lock file keeps being replaced"))
}

struct FileLock(lease::Holding);

impl RefreshLock for FileLock {
    fn fence(&self) -> u64 {
        self.0.fence()
    }
}

impl Store for FileStore {
    fn load(&self, key: &str) -> Result<Option<Record>> {
        let name = record_name(key);
        let st = match self.dir.run(|fd| dir::stat_at(fd, &name))? {
            Ok(st) => st,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.err(&name, "cannot inspect", &e)),
        };
        if let Some((seen, rec)) = self.seen.lock().get(key) {
            if *seen == Stamp::of(&st) {
                return Ok(rec.clone());
            }
        }
        let file = match self.dir.run(|fd| dir::open_file(fd, &name, Access::Read))? {
            Ok(Found::Ours(f)) => f,
            // A FIFO, a directory, a symlink: not a record; save replaces it.
            Ok(Found::Junk | Found::Absent) => return Ok(None),
            Err(e) => return Err(self.err(&name, "cannot read", &e)),
        };
        let stamp = match dir::fstat(file.as_raw_fd()) {
            Ok(st) => Stamp::of(&st),
            Err(e) => return Err(self.err(&name, "cannot inspect", &e)),
        };
        let mut text = String::new();
        // Unreadable, oversized, non-UTF-8 or absurd content is a corrupted
        // record: absent, to be replaced by the next refresh.
        let rec = match file.take(MAX_RECORD).read_to_string(&mut text) {
            Ok(_) => Record::from_json(&text),
            Err(_) => None,
        };
        self.seen
            .lock()
            .insert(key.to_string(), (stamp, rec.clone()));
        Ok(rec)
    }

    /// Checks the lease and writes under the lock file's mutation lock, so
    /// a leader that lost its lease cannot write after the one that took it.
    /// Such a leader gets the record the store holds, or, before the taker
    /// wrote one, a store error (and so serves its token from memory).
    fn save(&self, key: &str, record: &Record, lock: &dyn RefreshLock) -> Result<Record> {
        let record = Record {
            fence: lock.fence(),
            ..record.clone()
        };
        // The lock file at the name now: if the store was wiped and someone
        // took the new lock file's lease, that is the lease to lose to.
        let slot = self.slot(key)?;
        let lock_err = |e: io::Error| self.err(&lock_name(key), "cannot lock", &e);
        match lease::if_current(&slot, record.fence, || self.write_if_newer(key, &record)) {
            Ok(Some(written)) => written,
            Ok(None) => {
                log::emit(Event::StoreNotice, "", |r| {
                    r.set("key", key);
                    r.set("fence", record.fence);
                    format!(
                        "{key}: lost the refresh lock's lease (fence {}) to another process; \
                         not writing",
                        record.fence
                    )
                });
                self.load(key)?.ok_or_else(|| {
                    Error::new(
                        ErrorKind::Store,
                        "lost the refresh lock's lease to another process",
                    )
                })
            }
            Err(e) => Err(lock_err(e)),
        }
    }

    fn try_lock(&self, key: &str, lease: Duration) -> Result<Option<Box<dyn RefreshLock>>> {
        let slot = self.slot(key)?;
        // The stored record's fence: new fences exceed it even if the lease
        // record was lost, or every later save would be refused.
        let floor = self.load(key).ok().flatten().map_or(0, |r| r.fence);
        match lease::try_take(&slot, lease, floor) {
            Ok(h) => Ok(h.map(|h| Box::new(FileLock(h)) as Box<dyn RefreshLock>)),
            Err(e) => Err(self.err(&lock_name(key), "cannot lock", &e)),
        }
    }

    /// The record's name must hold a record of ours or nothing: junk of ours
    /// there (a FIFO, a directory) is removed now, before a fetch whose token
    /// could not be stored; anything else is a store error. Then a probe
    /// file as large as any record is written and removed: a full disk (a
    /// container's 64 MB /dev/shm, no inodes left) fails here, not after a
    /// fetch whose token every other process would then fetch again.
    fn check_writable(&self, key: &str) -> Result<()> {
        let name = record_name(key);
        let cannot = |e: &io::Error| self.err(&name, "cannot store a record at", e);
        match self.dir.run(|fd| dir::open_file(fd, &name, Access::Read))? {
            Ok(Found::Ours(_) | Found::Absent) => {}
            Ok(Found::Junk) => self
                .dir
                .run(|fd| dir::remove_junk(fd, &name))?
                .map_err(|e| cannot(&e))?,
            Err(e) => return Err(cannot(&e)),
        }
        let tmp = temp_name(key);
        let probe = |fd| -> io::Result<()> {
            let mut f = dir::create_new(fd, &tmp)?;
            let written = f
                .write_all(&[b' '; PROBE_BYTES])
                .and_then(|()| f.sync_all());
            let _ = dir::remove_junk(fd, &tmp);
            written
        };
        self.dir.run(probe)?.map_err(|e| cannot(&e))
    }

    fn describe(&self) -> String {
        format!("file:{}", self.dir.path().display())
    }

    fn stored_keys(&self) -> Result<Vec<String>> {
        // Names only: each record is then read through the verified
        // directory, as any load is.
        let path = self.dir.path();
        let entries =
            std::fs::read_dir(&path).map_err(|e| dir::io_err(&path, "cannot list", &e))?;
        let mut keys: Vec<String> = entries
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                let key = name
                    .strip_suffix(".json")
                    .or_else(|| name.strip_suffix(".meta"))?;
                Some(key.to_string())
            })
            .collect();
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    fn notice(&self) -> Option<String> {
        let base = self.default_base.as_deref()?;
        neighbours::notice(base, dir::euid())
    }

    fn load_meta(&self, key: &str) -> Result<Meta> {
        let today = quota_day(now_ms());
        Ok(self
            .read_meta(key)?
            .map_or_else(|| Meta::new(today), |m| m.roll_to(today)))
    }

    /// Under the lock file's mutation lock, as records are: a leader whose
    /// lease was taken over writes nothing.
    fn save_meta(&self, key: &str, meta: &Meta, lock: &dyn RefreshLock) -> Result<()> {
        let fence = lock.fence();
        let meta = Meta {
            fence,
            ..meta.clone()
        };
        let slot = self.slot(key)?;
        let write = || match self.read_meta(key)? {
            Some(held) if held.fence > fence => Ok(()),
            _ => self.replace_file(key, &meta_name(key), &meta.to_json()),
        };
        match lease::if_current(&slot, fence, write) {
            Ok(Some(written)) => written,
            Ok(None) => Ok(()),
            Err(e) => Err(self.err(&lock_name(key), "cannot lock", &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::time::Instant;

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("wxtoken-test-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    use crate::record::test_record as rec;

    #[test]
    fn creates_a_private_directory_and_private_files() {
        let dir = temp_dir("perm");
        let store = FileStore::open(Some(&dir)).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        let lock = store
            .try_lock("k", Duration::from_secs(5))
            .unwrap()
            .unwrap();
        store.save("k", &rec("tok", 1), &*lock).unwrap();
        assert_eq!(
            fs::metadata(dir.join("k.json")).unwrap().mode() & 0o777,
            0o600
        );
        assert_eq!(store.load("k").unwrap().unwrap().token.as_ref(), "tok");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn refuses_unsafe_directories() {
        let dir = temp_dir("unsafe");
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let err = FileStore::open(Some(&dir)).err().expect("refused");
        assert!(
            err.to_string().contains("writable by group or others"),
            "{err}"
        );
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        let link = temp_dir("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        let err = FileStore::open(Some(&link)).err().expect("refused");
        assert!(err.to_string().contains("symlink"), "{err}");
        fs::remove_file(link).unwrap();
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn corrupted_records_read_as_absent_and_are_replaced() {
        let dir = temp_dir("corrupt");
        let store = FileStore::open(Some(&dir)).unwrap();
        for garbage in [&b""[..], b"{\"v\":1,\"tok", b"\xff\xfe\x00", b"[1,2,3]"] {
            fs::write(dir.join("k.json"), garbage).unwrap();
            assert_eq!(store.load("k").unwrap(), None);
        }
        let lock = store
            .try_lock("k", Duration::from_secs(5))
            .unwrap()
            .unwrap();
        store.save("k", &rec("fresh", 1), &*lock).unwrap();
        assert_eq!(store.load("k").unwrap().unwrap().token.as_ref(), "fresh");
        assert_eq!(
            store
                .save("k", &rec("older", 0), &*lock)
                .unwrap()
                .token
                .as_ref(),
            "fresh"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_deleted_directory_is_recreated() {
        let dir = temp_dir("deleted");
        let store = FileStore::open(Some(&dir)).unwrap();
        let lock = store
            .try_lock("k", Duration::from_secs(5))
            .unwrap()
            .unwrap();
        store.save("k", &rec("before", 1), &*lock).unwrap();
        drop(lock);
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(store.load("k").unwrap(), None, "gone: absent, not an error");
        let lock = store.try_lock("k", Duration::from_secs(1)).unwrap();
        assert!(lock.is_some());
        store.save("k", &rec("after", 1), &*lock.unwrap()).unwrap();
        assert_eq!(store.load("k").unwrap().unwrap().token.as_ref(), "after");
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_lock_is_exclusive_within_the_process_until_dropped() {
        let dir = temp_dir("lock");
        let store = FileStore::open(Some(&dir)).unwrap();
        let lease = Duration::from_secs(1);
        let held = store.try_lock("k", lease).unwrap().expect("first");
        assert!(store.try_lock("k", lease).unwrap().is_none());
        assert!(store.try_lock("other", lease).unwrap().is_some());
        drop(held);
        assert!(store.try_lock("k", lease).unwrap().is_some());
        fs::remove_dir_all(dir).unwrap();
    }

    /// Record locks never exclude their own process: only the shared slot
    /// does, so it must be found however the directory is spelled. Before
    /// slots were keyed by device and inode, each spelling opened the lock
    /// file again, and a second thread of the process led (and fetched)
    /// while the first one held the lock.
    #[test]
    fn the_lock_excludes_the_process_however_the_directory_is_spelled() {
        let parent = temp_dir("spell");
        let dir = parent.join("store");
        fs::create_dir_all(&dir).unwrap();
        let link = temp_dir("spell-link");
        std::os::unix::fs::symlink(&parent, &link).unwrap();
        let lease = Duration::from_secs(30);
        let store = FileStore::open(Some(&dir)).unwrap();
        let held = store.try_lock("k", lease).unwrap().expect("first");
        let mut trailing = dir.clone().into_os_string();
        trailing.push("/");
        let spellings = [
            PathBuf::from(trailing),
            dir.join("..").join("store"),
            link.join("store"),
        ];
        for other in &spellings {
            let again = FileStore::open(Some(other)).unwrap();
            assert!(
                again.try_lock("k", lease).unwrap().is_none(),
                "{} took the lock {} holds",
                other.display(),
                dir.display()
            );
        }
        // The lease holds on: the others' stores did not release it.
        store.save("k", &rec("mine", 1), &*held).unwrap();
        drop(held);
        let again = FileStore::open(Some(&spellings[2])).unwrap();
        assert!(again.try_lock("k", lease).unwrap().is_some(), "released");
        fs::remove_file(link).unwrap();
        fs::remove_dir_all(parent).unwrap();
    }

    #[test]
    fn a_lease_that_ran_out_is_taken_over_and_the_stale_holder_cannot_write() {
        let dir = temp_dir("lease");
        let store = FileStore::open(Some(&dir)).unwrap();
        let stale = store.try_lock("k", Duration::ZERO).unwrap().expect("first");
        let taker = store
            .try_lock("k", Duration::from_secs(60))
            .unwrap()
            .expect("the lease ran out");
        assert!(taker.fence() > stale.fence());
        assert!(store
            .try_lock("k", Duration::from_secs(60))
            .unwrap()
            .is_none());
        store.save("k", &rec("new", 2), &*taker).unwrap();
        let held = store.save("k", &rec("late", 3), &*stale).unwrap();
        assert_eq!(&*held.token, "new", "the stale holder's write is refused");
        drop(stale);
        assert!(
            store
                .try_lock("k", Duration::from_secs(60))
                .unwrap()
                .is_none(),
            "the stale holder's release does not release the taker's lock"
        );
        drop(taker);
        let fence = held.fence;
        let next = store
            .try_lock("k", Duration::from_secs(60))
            .unwrap()
            .unwrap();
        assert!(next.fence() > fence, "fences only grow across releases");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_lost_lease_record_does_not_lower_the_fence() {
        let dir = temp_dir("fencefloor");
        let store = FileStore::open(Some(&dir)).unwrap();
        let l = store
            .try_lock("k", Duration::from_secs(5))
            .unwrap()
            .unwrap();
        let held = store.save("k", &rec("t", 1), &*l).unwrap();
        drop(l);
        // The lease record lost, and the record's fence far above the boot
        // clock (a fence from an earlier boot, say):
        fs::write(dir.join("k.lock"), b"").unwrap();
        let high = Record {
            fence: 1 << 50,
            ..held
        };
        fs::write(dir.join("k.json"), high.to_json()).unwrap();
        let l = store
            .try_lock("k", Duration::from_secs(5))
            .unwrap()
            .unwrap();
        assert!(
            l.fence() > 1 << 50,
            "fence {} is above the record's",
            l.fence()
        );
        let saved = store.save("k", &rec("after", 9), &*l).unwrap();
        assert_eq!(&*saved.token, "after");
        fs::remove_dir_all(dir).unwrap();
    }

    fn mkfifo(path: &Path) {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn junk_at_the_record_or_lock_name_never_blocks_and_is_replaced() {
        let dir = temp_dir("junk");
        let store = FileStore::open(Some(&dir)).unwrap();
        for junk in ["fifo", "dir", "symlink"] {
            let record = dir.join("k.json");
            let lock = dir.join("k.lock");
            let _ = fs::remove_file(&lock);
            match junk {
                "fifo" => {
                    mkfifo(&record);
                    mkfifo(&lock);
                }
                "dir" => {
                    fs::create_dir(&record).unwrap();
                    fs::create_dir(&lock).unwrap();
                }
                _ => {
                    fs::write(dir.join("elsewhere"), b"{}").unwrap();
                    std::os::unix::fs::symlink(dir.join("elsewhere"), &record).unwrap();
                    std::os::unix::fs::symlink(dir.join("elsewhere"), &lock).unwrap();
                }
            }
            let started = Instant::now();
            assert_eq!(store.load("k").unwrap(), None, "{junk}: not a record");
            store.check_writable("k").unwrap();
            let l = store
                .try_lock("k", Duration::from_secs(5))
                .unwrap()
                .unwrap();
            let saved = store.save("k", &rec(junk, 1), &*l).unwrap();
            assert_eq!(&*saved.token, junk);
            assert_eq!(store.load("k").unwrap().unwrap().token.as_ref(), junk);
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{junk}: no hang"
            );
            drop(l);
            fs::remove_file(&record).unwrap();
            if junk == "symlink" {
                assert_eq!(
                    fs::read(dir.join("elsewhere")).unwrap(),
                    b"{}",
                    "not followed"
                );
            }
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_non_empty_directory_at_the_record_name_is_an_error_before_any_fetch() {
        let dir = temp_dir("fulldir");
        let store = FileStore::open(Some(&dir)).unwrap();
        fs::create_dir_all(dir.join("k.json").join("inside")).unwrap();
        assert_eq!(store.load("k").unwrap(), None);
        let err = store.check_writable("k").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Store, "{err}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_unchanged_record_is_not_read_again_a_replaced_one_is() {
        let dir = temp_dir("stamp");
        let store = FileStore::open(Some(&dir)).unwrap();
        let l = store
            .try_lock("k", Duration::from_secs(5))
            .unwrap()
            .unwrap();
        store.save("k", &rec("one", 1), &*l).unwrap();
        assert_eq!(store.load("k").unwrap().unwrap().token.as_ref(), "one");
        assert_eq!(store.load("k").unwrap().unwrap().token.as_ref(), "one");
        // Replaced the way every writer does: a new file renamed over it.
        let other = FileStore::open(Some(&dir)).unwrap();
        other.save("k", &rec("two", 2), &*l).unwrap();
        assert_eq!(store.load("k").unwrap().unwrap().token.as_ref(), "two");
        fs::remove_file(dir.join("k.json")).unwrap();
        assert_eq!(store.load("k").unwrap(), None);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn shared_state_is_fenced_and_junk_reads_as_empty() {
        let dir = temp_dir("meta");
        let store = FileStore::open(Some(&dir)).unwrap();
        assert_eq!(store.load_meta("k").unwrap().fetches_today, 0);
        let stale = store.try_lock("k", Duration::ZERO).unwrap().unwrap();
        let taker = store
            .try_lock("k", Duration::from_secs(60))
            .unwrap()
            .unwrap();
        let mut m = store.load_meta("k").unwrap();
        m.fetches_today = 2;
        store.save_meta("k", &m, &*taker).unwrap();
        m.fetches_today = 7;
        store.save_meta("k", &m, &*stale).unwrap();
        assert_eq!(store.load_meta("k").unwrap().fetches_today, 2);
        assert_eq!(
            fs::metadata(dir.join("k.meta")).unwrap().mode() & 0o777,
            0o600
        );
        fs::write(dir.join("k.meta"), b"\xff garbage").unwrap();
        assert_eq!(store.load_meta("k").unwrap().fetches_today, 0);
        fs::remove_dir_all(dir).unwrap();
    }
}
