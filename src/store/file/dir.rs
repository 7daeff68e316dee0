//! The store directory, held open as a verified file descriptor. Other
//! local users are untrusted: the directory must be a real directory (not a
//! symlink), ours, and not writable by group or others, checked with fstat
//! on the descriptor we then use, at first open and at every re-creation.
//! Every file is opened relative to that descriptor (`openat`), never
//! following a symlink, and checked again with fstat: a path is never
//! resolved twice, so nothing can be swapped in between.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::fork::Mutex;
use crate::log::{self, Event};

/// Fallback names after `wxtoken-<uid>` in the default sequence.
const FALLBACKS: u32 = 8;

/// Where the store may live: one given directory, or the default sequence.
#[derive(Clone)]
pub(super) enum Place {
    Given(PathBuf),
    /// Candidates in order; the first that is ours (or that we create) wins.
    Default(Vec<PathBuf>),
}

impl Place {
    /// `<base>/wxtoken-<uid>`, then `<base>/wxtoken-<uid>-1` ... `-8`. Every
    /// process of the user walks the same sequence, so they all meet in the
    /// first directory no other user has taken.
    pub(super) fn default_under(base: &Path) -> Place {
        let uid = euid();
        let mut names = vec![base.join(format!("wxtoken-{uid}"))];
        names.extend((1..=FALLBACKS).map(|n| base.join(format!("wxtoken-{uid}-{n}"))));
        Place::Default(names)
    }
}

/// The directory in use: its path and the descriptor checked at opening.
/// `current` is a [`Mutex`] of the fork gate, held only to read or swap
/// the pair: opening and verifying a directory happen outside it.
pub(super) struct Dir {
    place: Place,
    current: Mutex<(PathBuf, Arc<OwnedFd>)>,
}

/// Why a directory cannot be used.
enum Refusal {
    /// Taken by someone else, or unsafe: never used, never "fixed".
    Hostile(String),
    Io(io::Error),
}

impl Dir {
    pub(super) fn open(place: Place) -> Result<Dir> {
        let (path, fd) = settle(&place)?;
        Ok(Dir {
            place,
            current: Mutex::new((path, Arc::new(fd))),
        })
    }

    pub(super) fn path(&self) -> PathBuf {
        self.current.lock().0.clone()
    }

    fn fd(&self) -> Arc<OwnedFd> {
        self.current.lock().1.clone()
    }

    /// Runs `op` on the directory's descriptor. If an entry is missing
    /// because the directory itself was removed (a tmp cleaner, a logout),
    /// opens it again (recreating and re-verifying it) and reruns `op` once.
    pub(super) fn run<T>(&self, op: impl Fn(RawFd) -> io::Result<T>) -> Result<io::Result<T>> {
        let fd = self.fd();
        match op(fd.as_raw_fd()) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && is_removed(&fd) => {
                let fresh = self.reopen(&fd)?;
                Ok(op(fresh.as_raw_fd()))
            }
            other => Ok(other),
        }
    }

    fn reopen(&self, stale: &Arc<OwnedFd>) -> Result<Arc<OwnedFd>> {
        {
            let cur = self.current.lock();
            if !Arc::ptr_eq(&cur.1, stale) {
                return Ok(cur.1.clone());
            }
        }
        // Outside the lock: mkdir, open and fstat (two threads may both
        // settle; the first swap wins, the other's descriptor is dropped).
        let (path, fd) = settle(&self.place)?;
        let fresh = Arc::new(fd);
        let mut cur = self.current.lock();
        if !Arc::ptr_eq(&cur.1, stale) {
            return Ok(cur.1.clone());
        }
        let old = std::mem::replace(&mut *cur, (path, fresh.clone()));
        drop(cur);
        drop(old);
        Ok(fresh)
    }
}

/// The directory a place resolves to now, opened and verified.
fn settle(place: &Place) -> Result<(PathBuf, OwnedFd)> {
    match place {
        Place::Given(path) => match open_verified(path, true) {
            Ok(fd) => Ok((path.clone(), fd)),
            Err(Refusal::Hostile(why)) => Err(Error::new(
                ErrorKind::Store,
                format!(
                    "store directory {} {why}; refusing to use it",
                    path.display()
                ),
            )),
            Err(Refusal::Io(e)) => Err(io_err(path, "cannot open the store directory", &e)),
        },
        Place::Default(names) => {
            for path in names {
                match open_verified(path, false) {
                    Ok(fd) => return Ok((path.clone(), fd)),
                    Err(Refusal::Hostile(why)) => log::emit(Event::StoreNotice, "", |r| {
                        r.set("store", path.display().to_string());
                        format!(
                            "store directory {} {why}; another user may have taken it, \
                             trying the next name",
                            path.display()
                        )
                    }),
                    // Not hostility (a full disk, no /dev/shm access): moving on
                    // would split this user's processes over two stores.
                    Err(Refusal::Io(e)) => {
                        return Err(io_err(path, "cannot open the store directory", &e))
                    }
                }
            }
            Err(Error::new(
                ErrorKind::Store,
                format!(
                    "every default store directory ({} and the next {FALLBACKS} names) is taken \
                     by another user or unsafe; set store = \"file:/dir\" to a directory this \
                     user owns (mode 0700)",
                    names[0].display()
                ),
            ))
        }
    }
}

/// Opens `path` as a directory without following a symlink, creating it
/// (0700) if missing, and checks the descriptor it got.
fn open_verified(path: &Path, create_parents: bool) -> Result<OwnedFd, Refusal> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Refusal::Hostile("has a NUL byte in its name".into()))?;
    for _ in 0..3 {
        // SAFETY: `c` is a valid C string; the flags open without following.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if fd >= 0 {
            // SAFETY: `fd` was just opened and is owned by nobody else.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            verify_dir(&fd)?;
            return Ok(fd);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENOENT) => make_dir(path, &c, create_parents).map_err(Refusal::Io)?,
            // O_DIRECTORY with O_NOFOLLOW gives ENOTDIR for a symlink too.
            Some(libc::ELOOP | libc::ENOTDIR) => {
                let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_symlink());
                let why = if link {
                    "is a symlink"
                } else {
                    "is not a directory"
                };
                return Err(Refusal::Hostile(why.into()));
            }
            // Another user's 0700 directory cannot even be opened: that is
            // the pre-emption the fallback names exist for, not an I/O error.
            Some(libc::EACCES | libc::EPERM) => {
                if let Ok(meta) = std::fs::symlink_metadata(path) {
                    use std::os::unix::fs::MetadataExt;
                    // SAFETY: geteuid has no preconditions and cannot fail.
                    let me = unsafe { libc::geteuid() };
                    if meta.uid() != me {
                        return Err(Refusal::Hostile(format!(
                            "is owned by uid {}, not by this user (uid {me})",
                            meta.uid()
                        )));
                    }
                }
                return Err(Refusal::Io(e));
            }
            _ => return Err(Refusal::Io(e)),
        }
    }
    Err(Refusal::Hostile("keeps disappearing".into()))
}

/// mkdir 0700. An EEXIST means someone was faster: the caller opens and
/// checks whatever is there now.
fn make_dir(path: &Path, c: &CString, create_parents: bool) -> io::Result<()> {
    if create_parents {
        if let Some(parent) = path.parent() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)?;
        }
    }
    // SAFETY: `c` is a valid C string.
    if unsafe { libc::mkdir(c.as_ptr(), 0o700) } == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EEXIST) => Ok(()),
        _ => Err(e),
    }
}

fn verify_dir(fd: &OwnedFd) -> Result<(), Refusal> {
    let st = fstat(fd.as_raw_fd()).map_err(Refusal::Io)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(Refusal::Hostile("is not a directory".into()));
    }
    if st.st_uid != euid() {
        return Err(Refusal::Hostile(format!(
            "is owned by uid {}, not by this user (uid {})",
            st.st_uid,
            euid()
        )));
    }
    if st.st_mode & 0o022 != 0 {
        return Err(Refusal::Hostile(format!(
            "is writable by group or others (mode {:o})",
            st.st_mode & 0o777
        )));
    }
    Ok(())
}

/// A removed directory has no links left (rmdir needs it empty, so no
/// entry we look for can still be in it).
fn is_removed(fd: &OwnedFd) -> bool {
    fstat(fd.as_raw_fd()).is_ok_and(|st| st.st_nlink == 0)
}

/// What sits at a name in the store directory.
pub(super) enum Found {
    /// A regular file of ours, not writable by group or others: opened.
    Ours(File),
    /// Something of ours that is not such a file (a FIFO, a directory, a
    /// symlink, a loose mode): never read, replaceable.
    Junk,
    Absent,
}

/// How to open a store file.
#[derive(Clone, Copy)]
pub(super) enum Access {
    Read,
    /// Read-write, created (0600) if missing: the lock file.
    Lock,
}

/// Opens `name` in the directory: never through a symlink, never blocking
/// (a FIFO would block `open` forever), and only as a regular file of ours.
/// An entry owned by another user is an error (only root could have put it
/// in our 0700 directory, and we cannot replace it).
pub(super) fn open_file(dirfd: RawFd, name: &str, access: Access) -> io::Result<Found> {
    let c = cname(name)?;
    let flags = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    let flags = match access {
        Access::Read => flags | libc::O_RDONLY,
        Access::Lock => flags | libc::O_RDWR | libc::O_CREAT,
    };
    // SAFETY: `c` is a valid C string, `dirfd` an open directory.
    let fd = unsafe { libc::openat(dirfd, c.as_ptr(), flags, 0o600 as libc::c_uint) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOENT) => Ok(Found::Absent),
            // A symlink (ELOOP), a directory opened for writing (EISDIR),
            // a socket (ENXIO): not a file; ours or not?
            Some(libc::ELOOP | libc::EISDIR | libc::ENXIO) => match lstat_at(dirfd, name)? {
                Some(st) if st.st_uid == euid() => Ok(Found::Junk),
                Some(st) => Err(foreign(name, &st)),
                None => Ok(Found::Absent),
            },
            _ => Err(e),
        };
    }
    // SAFETY: `fd` was just opened and is owned by nobody else.
    let file = unsafe { File::from_raw_fd(fd) };
    let st = fstat(file.as_raw_fd())?;
    if st.st_uid != euid() {
        return Err(foreign(name, &st));
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFREG || st.st_mode & 0o022 != 0 {
        return Ok(Found::Junk);
    }
    Ok(Found::Ours(file))
}

fn foreign(name: &str, st: &libc::stat) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("{name} is owned by uid {}, not by this user", st.st_uid),
    )
}

/// Removes a junk entry of ours at `name` (an empty directory included).
pub(super) fn remove_junk(dirfd: RawFd, name: &str) -> io::Result<()> {
    let Some(st) = lstat_at(dirfd, name)? else {
        return Ok(());
    };
    if st.st_uid != euid() {
        return Err(foreign(name, &st));
    }
    let flags = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        libc::AT_REMOVEDIR
    } else {
        0
    };
    let c = cname(name)?;
    // SAFETY: `c` is a valid C string, `dirfd` an open directory.
    match unsafe { libc::unlinkat(dirfd, c.as_ptr(), flags) } {
        0 => Ok(()),
        _ => match io::Error::last_os_error() {
            e if e.kind() == io::ErrorKind::NotFound => Ok(()),
            e => Err(e),
        },
    }
}

/// Creates `name` (0600) for writing; it must not exist (O_EXCL), so a
/// planted file or symlink can never receive what we write.
pub(super) fn create_new(dirfd: RawFd, name: &str) -> io::Result<File> {
    let c = cname(name)?;
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    for _ in 0..2 {
        // SAFETY: `c` is a valid C string, `dirfd` an open directory.
        let fd = unsafe { libc::openat(dirfd, c.as_ptr(), flags, 0o600 as libc::c_uint) };
        if fd >= 0 {
            // SAFETY: `fd` was just opened and is owned by nobody else.
            return Ok(unsafe { File::from_raw_fd(fd) });
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EEXIST) {
            return Err(e);
        }
        // A leftover of a crashed writer with our pid: ours, remove it.
        remove_junk(dirfd, name)?;
    }
    Err(io::Error::from_raw_os_error(libc::EEXIST))
}

/// Renames `from` over `to` within the directory. Something of ours that
/// rename cannot replace (a directory) is removed first.
pub(super) fn rename(dirfd: RawFd, from: &str, to: &str) -> io::Result<()> {
    let (f, t) = (cname(from)?, cname(to)?);
    for _ in 0..2 {
        // SAFETY: both are valid C strings, `dirfd` an open directory.
        if unsafe { libc::renameat(dirfd, f.as_ptr(), dirfd, t.as_ptr()) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EISDIR | libc::ENOTEMPTY | libc::EEXIST) => remove_junk(dirfd, to)?,
            _ => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::EISDIR))
}

/// Identity and version of a store entry, without opening it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Stamp {
    dev: u64,
    ino: u64,
    size: i64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    pub(super) fn of(st: &libc::stat) -> Stamp {
        Stamp {
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size,
            mtime: (st.st_mtime, st.st_mtime_nsec),
            ctime: (st.st_ctime, st.st_ctime_nsec),
        }
    }
}

/// fstatat without following a symlink. A missing entry is NotFound, so
/// that [`Dir::run`] can tell it from a removed directory.
pub(super) fn stat_at(dirfd: RawFd, name: &str) -> io::Result<libc::stat> {
    let c = cname(name)?;
    // SAFETY: an all-zero stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string, `st` writable, `dirfd` an open directory.
    let rc = unsafe { libc::fstatat(dirfd, c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    if rc == 0 {
        Ok(st)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// [`stat_at`], with None when absent.
fn lstat_at(dirfd: RawFd, name: &str) -> io::Result<Option<libc::stat>> {
    match stat_at(dirfd, name) {
        Ok(st) => Ok(Some(st)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

pub(super) fn fstat(fd: RawFd) -> io::Result<libc::stat> {
    // SAFETY: an all-zero stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is writable; a bad fd only makes fstat fail.
    if unsafe { libc::fstat(fd, &mut st) } == 0 {
        Ok(st)
    } else {
        Err(io::Error::last_os_error())
    }
}

fn cname(name: &str) -> io::Result<CString> {
    // Names are built from store keys (a checked charset): never a slash.
    if name.contains('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bad store file name",
        ));
    }
    CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in name"))
}

pub(super) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

pub(super) fn io_err(path: &Path, what: &str, e: &io::Error) -> Error {
    Error::new(ErrorKind::Store, format!("{what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("wxtoken-dir-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_default_sequence_skips_what_is_not_a_safe_directory_of_ours() {
        let b = base("seq");
        let Place::Default(names) = Place::default_under(&b) else {
            unreachable!()
        };
        assert_eq!(names.len(), 1 + FALLBACKS as usize);
        std::fs::write(&names[0], b"a file").unwrap();
        std::os::unix::fs::symlink(&b, &names[1]).unwrap();
        let dir = Dir::open(Place::default_under(&b)).unwrap();
        assert_eq!(dir.path(), names[2], "the first usable name, created");
        let again = Dir::open(Place::default_under(&b)).unwrap();
        assert_eq!(again.path(), names[2], "and found again");
        for n in &names[2..] {
            let _ = std::fs::remove_dir(n);
            std::fs::write(n, b"").unwrap();
        }
        let err = Dir::open(Place::default_under(&b)).err().unwrap();
        assert!(err.to_string().contains("store = \"file:/dir\""), "{err}");
        std::fs::remove_dir_all(b).unwrap();
    }

    #[test]
    fn a_removed_directory_is_recreated_and_checked_again() {
        let b = base("reopen");
        let path = b.join("store");
        let dir = Dir::open(Place::Given(path.clone())).unwrap();
        std::fs::remove_dir(&path).unwrap();
        // Recreated by someone else, unsafely: refused, not used.
        std::fs::create_dir(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
        let Err(err) = dir.run(|fd| stat_at(fd, "k.json")) else {
            panic!("an unsafe re-creation was used");
        };
        assert!(
            err.to_string().contains("writable by group or others"),
            "{err}"
        );
        std::fs::remove_dir(&path).unwrap();
        let found = dir.run(|fd| stat_at(fd, "k.json")).unwrap();
        assert_eq!(found.unwrap_err().kind(), io::ErrorKind::NotFound);
        assert!(path.is_dir(), "recreated");
        std::fs::remove_dir_all(b).unwrap();
    }
}
