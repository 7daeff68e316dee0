//! The file store: one directory shared by the processes of a host. Per app,
//! a record file (replaced atomically) and a lock file whose lock elects the
//! refresher.
//!
//! The lock is a POSIX record lock (fcntl F_SETLK), not flock: a flock
//! belongs to the open file, so a child forked while the parent refreshes
//! (PHP-FPM, multiprocessing) would inherit it and hold it for its whole
//! life. Record locks are not inherited by fork, and like flock the kernel
//! drops them when the holder dies, SIGKILL included. They do not exclude
//! threads of one process, hence the in-process set of held keys.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use once_cell::sync::Lazy;
use parking_lot::Mutex;

use super::{RefreshLock, Store};
use crate::error::{Error, ErrorKind, Result};
use crate::fork;
use crate::record::Record;

/// Records are small; a larger file is not one of ours.
const MAX_RECORD: u64 = 64 * 1024;

pub struct FileStore {
    dir: PathBuf,
}

/// Lock files this process holds: (fork generation, paths). A forked child
/// holds none of its parent's locks.
static HELD: Lazy<Mutex<(u64, HashSet<PathBuf>)>> = Lazy::new(|| Mutex::new((0, HashSet::new())));

impl FileStore {
    /// Opens (creating it 0700 if needed) `dir`, or the default directory,
    /// `/dev/shm/wxtoken-<uid>` (else `/tmp/wxtoken-<uid>`). Refuses a
    /// directory that is a symlink, owned by another user, or writable by
    /// group or others: whoever can write there can feed us tokens.
    pub fn open(dir: Option<&Path>) -> Result<Arc<FileStore>> {
        let dir = match dir {
            Some(d) => d.to_path_buf(),
            None => default_dir(),
        };
        let store = FileStore { dir };
        store.ensure_dir()?;
        Ok(Arc::new(store))
    }

    /// Creates the directory (0700) if it is missing, then checks it.
    fn ensure_dir(&self) -> Result<()> {
        if fs::symlink_metadata(&self.dir).is_err() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .map_err(|e| store_err(&self.dir, "cannot create the store directory", &e))?;
        }
        check_dir(&self.dir)
    }

    /// Runs `op`; if the directory vanished meanwhile (a tmp cleaner, a
    /// logout removing /run/user/UID), recreates it and runs `op` once more.
    fn in_dir<T>(&self, op: impl Fn() -> io::Result<T>) -> Result<io::Result<T>> {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.ensure_dir()?;
                Ok(op())
            }
            other => Ok(other),
        }
    }

    fn record_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    fn lock_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.lock"))
    }
}

/// One fixed place per user, whatever the environment: a directory taken
/// from $XDG_RUNTIME_DIR would split one user's processes in two (PHP-FPM
/// and cron under systemd have none; a login shell has one), and two stores
/// mean two refreshers killing each other's tokens. /dev/shm is per host,
/// in memory, and not hidden by systemd's PrivateTmp (which php-fpm's unit
/// sets), unlike /tmp.
fn default_dir() -> PathBuf {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    let base = if Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    };
    PathBuf::from(format!("{base}/wxtoken-{uid}"))
}

fn check_dir(dir: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(dir)
        .map_err(|e| store_err(dir, "cannot inspect the store directory", &e))?;
    let refuse = |why: &str| {
        Err(Error::new(
            ErrorKind::Store,
            format!(
                "store directory {} {why}; refusing to use it",
                dir.display()
            ),
        ))
    };
    if meta.file_type().is_symlink() {
        return refuse("is a symlink");
    }
    if !meta.is_dir() {
        return refuse("is not a directory");
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return refuse(&format!(
            "is owned by uid {}, not by this user (uid {me})",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return refuse(&format!(
            "is writable by group or others (mode {:o})",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

fn store_err(path: &Path, what: &str, e: &io::Error) -> Error {
    Error::new(ErrorKind::Store, format!("{what} {}: {e}", path.display()))
}

struct FileLock {
    file: Option<File>,
    path: PathBuf,
}

impl RefreshLock for FileLock {
    // TODO(hardening #8): a lease with a fence in the lock record.
    fn fence(&self) -> u64 {
        0
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let mut held = HELD.lock();
        // Close (releasing the record lock) while still claimed: a sibling
        // thread that opened the file in between and then closed it would
        // drop this process's lock on it (record locks are per process).
        drop(self.file.take());
        if held.0 == fork::generation() {
            held.1.remove(&self.path);
        }
    }
}

impl Store for FileStore {
    fn load(&self, key: &str) -> Result<Option<Record>> {
        let path = self.record_path(key);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(store_err(&path, "cannot read", &e)),
        };
        let mut text = String::new();
        // Unreadable, oversized or non-UTF-8 content is a corrupted record:
        // absent, to be replaced by the next refresh.
        if file.take(MAX_RECORD).read_to_string(&mut text).is_err() {
            return Ok(None);
        }
        Ok(Record::from_json(&text))
    }

    /// Called by the refresh lock's holder, so read-compare-write is safe.
    fn save(&self, key: &str, record: &Record, lock: &dyn RefreshLock) -> Result<Record> {
        let record = &Record {
            fence: lock.fence(),
            ..record.clone()
        };
        if let Some(held) = self.load(key)? {
            if !record.may_replace(&held) {
                return Ok(held);
            }
        }
        let path = self.record_path(key);
        let tmp = self.dir.join(format!(".{key}.{}.tmp", std::process::id()));
        let write = || -> io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .custom_flags(libc::O_CLOEXEC)
                .open(&tmp)?;
            f.write_all(record.to_json().as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        };
        self.in_dir(write)?.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            store_err(&path, "cannot write", &e)
        })?;
        Ok(record.clone())
    }

    fn try_lock(&self, key: &str, _lease: Duration) -> Result<Option<Box<dyn RefreshLock>>> {
        let path = self.lock_path(key);
        let mut held = HELD.lock();
        let generation = fork::generation();
        if held.0 != generation {
            *held = (generation, HashSet::new());
        }
        // Another thread of ours holds it. (Opening and closing the file here
        // would also drop that thread's lock: record locks are per process.)
        if held.1.contains(&path) {
            return Ok(None);
        }
        let open = || {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .custom_flags(libc::O_CLOEXEC)
                .open(&path)
        };
        let file = self
            .in_dir(open)?
            .map_err(|e| store_err(&path, "cannot open the lock file", &e))?;
        // SAFETY: an all-zero flock is valid; the fields set below describe a
        // write lock over the whole file.
        let mut lock: libc::flock = unsafe { std::mem::zeroed() };
        lock.l_type = libc::F_WRLCK as _;
        lock.l_whence = libc::SEEK_SET as _;
        // SAFETY: `file` is open for writing and `lock` is a valid flock.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) };
        if rc == -1 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN | libc::EACCES) => Ok(None),
                _ => Err(store_err(&path, "cannot lock", &e)),
            };
        }
        held.1.insert(path.clone());
        Ok(Some(Box::new(FileLock {
            file: Some(file),
            path,
        })))
    }

    fn describe(&self) -> String {
        format!("file:{}", self.dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

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
}
