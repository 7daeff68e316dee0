//! The refresh lock of the file store: a lease with a fence, kept in the
//! lock file, guarded by POSIX record locks (fcntl byte ranges).
//!
//! - Byte 0, the "mutation" lock, is held only while the lease record is
//!   read or updated (and across a save's check-and-rename), never across
//!   an upstream fetch.
//! - Byte `ALIVE + fence % ALIVE_SPAN` is the holder's "alive" lock, kept
//!   for the whole refresh. One byte per fence (modulo a span every off_t
//!   accepts), so a holder taking over from a stopped
//!   one (who still has its own byte) gets a byte of its own.
//! - The file's content is the lease: fence, expiry (CLOCK_BOOTTIME ms:
//!   one clock for every process of the host, immune to wall-clock steps)
//!   and the holder's pid (for diagnostics).
//!
//! The lock is held iff the lease is unexpired AND its alive byte is locked
//! by a live process. So a SIGKILLed holder (the kernel drops its locks) is
//! taken over at once, and a SIGSTOPped or hung one when its lease ends;
//! the taker's fence exceeds the stored one (and the boot clock, so fences
//! grow even across a wiped directory), and a save checks its fence
//! against the stored one under the mutation lock, atomically with the
//! rename: a leader that lost its lease can no longer write.
//!
//! Record locks, not flock: a flock belongs to the open file, so a child
//! forked while the parent refreshes (PHP-FPM, multiprocessing) would
//! inherit it. Record locks are per process and not inherited, but closing
//! ANY descriptor of the file drops all of the process's locks on it: so
//! each lock file (one device and inode, however its path is spelled) is
//! opened once per process and kept open (a `Slot`), and threads of one
//! process exclude each other through the slot.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::fork;

const MUTATION: i64 = 0;
/// Alive bytes: `ALIVE + fence % ALIVE_SPAN`, so every offset stays within
/// [1, 2^31 - 2], which any kernel's off_t accepts (a raw fence near 2^63
/// would turn negative and fail with EINVAL). Two fences on one byte are
/// harmless: a taker whose byte is still locked by a stopped holder skips
/// to the next fence, as for a reused fence.
const ALIVE: i64 = 1;
const ALIVE_SPAN: u64 = (1 << 31) - 2;
const MAGIC: &[u8; 4] = b"WXL1";
const LEASE_LEN: usize = 24;
/// As for records (Record::is_plausible): a larger fence is garbage, not a
/// fence to exceed (it would push every later one out of range).
const MAX_FENCE: u64 = 1 << 53;
/// How long a thread waits for another thread of this process that uses
/// the same lock file (opening it, or under its mutation lock).
const THREAD_WAIT: Duration = Duration::from_secs(2);

/// The alive byte of `fence` (see [`ALIVE_SPAN`]): the same mapping for
/// taking, releasing and checking.
fn alive_byte(fence: u64) -> i64 {
    ALIVE + (fence % ALIVE_SPAN) as i64
}

/// The lease record at the start of the lock file.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(super) struct Lease {
    pub fence: u64,
    /// CLOCK_BOOTTIME ms.
    pub until_ms: u64,
    pub pid: u32,
}

impl Lease {
    fn encode(&self) -> [u8; LEASE_LEN] {
        let mut b = [0u8; LEASE_LEN];
        b[..4].copy_from_slice(MAGIC);
        b[4..8].copy_from_slice(&self.pid.to_le_bytes());
        b[8..16].copy_from_slice(&self.fence.to_le_bytes());
        b[16..24].copy_from_slice(&self.until_ms.to_le_bytes());
        b
    }

    /// An empty or foreign file holds no lease (fence 0); the caller also
    /// takes the record's fence into account, so fences still only grow.
    fn decode(b: &[u8]) -> Lease {
        if b.len() < LEASE_LEN || &b[..4] != MAGIC {
            return Lease::default();
        }
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        let lease = Lease {
            pid: u32::from_le_bytes(b[4..8].try_into().unwrap()),
            fence: u64_at(8),
            until_ms: u64_at(16),
        };
        if lease.fence > MAX_FENCE {
            return Lease::default();
        }
        lease
    }
}

/// One lock file, open for this process's whole life (see the module doc).
///
/// Fork safety: no lock of a slot is ever held across file I/O. `busy` is
/// an atomic claim (a thread that stopped existing at a fork cannot leave
/// it set for the child: the child starts a table, and slots, of its own),
/// and `holder` is a [`fork::Mutex`] held for a read or a write only.
pub(super) struct Slot {
    file: Arc<File>,
    /// This process's holding, if a thread of it holds the lock: its fence
    /// and lease end (boot ms).
    holder: fork::Mutex<Option<(u64, u64)>>,
    /// Claimed by the thread using the mutation lock, which does not
    /// exclude threads of one process either.
    busy: AtomicBool,
}

type SlotRef = Arc<Slot>;

/// Slots by the lock file's (device, inode), not its path: two spellings of
/// one directory (a symlinked parent, "..", a trailing slash) must share one
/// descriptor, or the two would not exclude each other (record locks never
/// exclude their own process) and closing either would drop the other's
/// locks. For one fork generation: a forked child holds none of its
/// parent's locks, and a claim of a thread the child lacks is gone.
struct Table {
    generation: u64,
    by_id: BTreeMap<(u64, u64), SlotRef>,
    /// A thread of this process is opening a lock file: the others wait, so
    /// that one file never gets two descriptors.
    opening: bool,
}

static SLOTS: fork::Mutex<Table> = fork::Mutex::new(Table {
    generation: 0,
    by_id: BTreeMap::new(),
    opening: false,
});

/// The table of this fork generation, locked (a short section).
fn table() -> fork::MutexGuard<'static, Table> {
    let mut t = SLOTS.lock();
    let generation = fork::generation();
    if t.generation != generation {
        // The parent's descriptors stay open in the child (leaked, never
        // closed inside the section; the child holds no locks on them).
        let old = std::mem::take(&mut t.by_id);
        std::mem::forget(old);
        t.generation = generation;
        t.opening = false;
    }
    t
}

/// Releases the opener's claim, also if `open` panicked.
struct Opening;

impl Drop for Opening {
    fn drop(&mut self) {
        table().opening = false;
    }
}

/// The slot for the lock file whose (device, inode) `current` reports (it
/// stats the name; None when nothing usable is there yet); else opens the
/// file with `open`. File I/O runs outside any section; one thread at a
/// time opens, so two threads never open one file twice.
pub(super) fn slot(
    current: impl Fn() -> Option<(u64, u64)>,
    open: impl FnOnce() -> io::Result<File>,
) -> io::Result<SlotRef> {
    let deadline = Instant::now() + THREAD_WAIT;
    let claim = loop {
        let id = current();
        {
            let mut t = table();
            if let Some(s) = id.and_then(|id| t.by_id.get(&id)) {
                return Ok(s.clone());
            }
            if !t.opening {
                t.opening = true;
                break Opening;
            }
        }
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "another thread kept opening the lock file for 2 s",
            ));
        }
        thread::sleep(Duration::from_millis(1));
    };
    let file = open()?;
    let id = match super::dir::fstat(file.as_raw_fd()) {
        Ok(st) => (st.st_dev, st.st_ino),
        Err(e) => {
            // Unknown identity: maybe a file we hold, so never closed.
            let _ = file.into_raw_fd();
            return Err(e);
        }
    };
    let mut t = table();
    t.opening = false;
    std::mem::forget(claim);
    if let Some(s) = t.by_id.get(&id) {
        // The name changed between the stat and the open, to a file we
        // already hold: closing this descriptor would drop the locks taken
        // through the other, so it stays open (a rare race, one fd).
        let s = s.clone();
        drop(t);
        let _ = file.into_raw_fd();
        return Ok(s);
    }
    let slot = Arc::new(Slot {
        file: Arc::new(file),
        holder: fork::Mutex::new(None),
        busy: AtomicBool::new(false),
    });
    // A slot for a replaced file stays: its descriptor must stay open while
    // a holding still uses it, and its inode number cannot be reused while
    // it is open, so it is never found for another file.
    t.by_id.insert(id, slot.clone());
    Ok(slot)
}

/// This thread's use of a slot's mutation lock, released on drop.
struct Busy<'a>(&'a AtomicBool);

impl<'a> Busy<'a> {
    fn claim(flag: &'a AtomicBool) -> Option<Busy<'a>> {
        flag.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| Busy(flag))
    }

    /// Polls for the claim up to `wait` (never inside a section).
    fn wait(flag: &'a AtomicBool, wait: Duration) -> Option<Busy<'a>> {
        let until = Instant::now() + wait;
        loop {
            if let Some(b) = Busy::claim(flag) {
                return Some(b);
            }
            if Instant::now() >= until {
                return None;
            }
            thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// A holding of the refresh lock. Dropping it releases the alive byte.
pub(super) struct Holding {
    slot: SlotRef,
    file: Arc<File>,
    fence: u64,
}

impl Holding {
    pub(super) fn fence(&self) -> u64 {
        self.fence
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        {
            let mut holder = self.slot.holder.lock();
            if holder.is_some_and(|(f, _)| f == self.fence) {
                *holder = None;
            }
        }
        // Our own byte: no other holding of this process uses it.
        let _ = set_lock(&self.file, alive_byte(self.fence), libc::F_UNLCK);
    }
}

/// Takes the lock unless a live holder's lease is running. The new fence
/// exceeds the stored one, `floor` (the fence of the record in the store,
/// in case the lease record was lost) and the boot clock in ms. Only a
/// byte locked by someone else (EAGAIN, EACCES) means busy; any other
/// fcntl failure is an error naming its cause.
pub(super) fn try_take(slot: &SlotRef, lease: Duration, floor: u64) -> io::Result<Option<Holding>> {
    // Another thread of ours is using the mutation lock: busy for now.
    let Some(_busy) = Busy::claim(&slot.busy) else {
        return Ok(None);
    };
    let now = boot_ms();
    // Another thread of ours holds it (record locks do not exclude threads).
    let ours = *slot.holder.lock();
    if ours.is_some_and(|(_, until)| now < until) {
        return Ok(None);
    }
    let file = slot.file.clone();
    // Busy for long only if its holder stopped within a few instructions;
    // the caller retries until its own deadline.
    let Some(_m) = Mutation::take(&file, Duration::from_millis(20))? else {
        return Ok(None);
    };
    let held = read(&file)?;
    if held.fence != 0 && now < held.until_ms && locked_by_other(&file, alive_byte(held.fence))? {
        return Ok(None);
    }
    // Never below the boot clock either: a wiped directory (a tmp cleaner)
    // loses the lease and the record, and a leader stopped before the wipe
    // must still hold an older fence than anyone after it.
    let base = held.fence.max(floor).max(now);
    let mut fence = base.saturating_add(1);
    // A byte still locked by someone means a fence reused after the lease
    // record was lost (or one sharing its byte); skip past it.
    loop {
        match set_lock(&file, alive_byte(fence), libc::F_WRLCK) {
            Ok(()) => break,
            Err(e) if !is_busy(&e) => return Err(e),
            Err(_) => {}
        }
        fence = fence.saturating_add(1);
        if fence > base.saturating_add(64) {
            return Ok(None);
        }
    }
    let until_ms = now.saturating_add(lease.as_millis() as u64);
    let lease = Lease {
        fence,
        until_ms,
        // SAFETY: getpid has no preconditions.
        pid: unsafe { libc::getpid() } as u32,
    };
    if let Err(e) = file.write_all_at(&lease.encode(), 0) {
        let _ = set_lock(&file, alive_byte(fence), libc::F_UNLCK);
        return Err(e);
    }
    *slot.holder.lock() = Some((fence, until_ms));
    Ok(Some(Holding {
        slot: slot.clone(),
        file: file.clone(),
        fence,
    }))
}

/// Runs `op` under the mutation lock if the lease's fence is not newer than
/// `fence`; Ok(None) when it is (the caller lost its lease to a taker).
pub(super) fn if_current<T>(
    slot: &SlotRef,
    fence: u64,
    op: impl FnOnce() -> crate::error::Result<T>,
) -> io::Result<Option<crate::error::Result<T>>> {
    let stuck = || {
        io::Error::new(
            io::ErrorKind::TimedOut,
            "the lock file's mutation lock stayed taken for 2 s",
        )
    };
    let started = Instant::now();
    let _busy = Busy::wait(&slot.busy, THREAD_WAIT).ok_or_else(stuck)?;
    let file = slot.file.clone();
    let left = THREAD_WAIT.saturating_sub(started.elapsed());
    let Some(_m) = Mutation::take(&file, left)? else {
        return Err(stuck());
    };
    if read(&file)?.fence > fence {
        return Ok(None);
    }
    // Returning drops the mutation lock first, then the claim.
    Ok(Some(op()))
}

fn read(file: &File) -> io::Result<Lease> {
    let mut b = [0u8; LEASE_LEN];
    let mut n = 0;
    while n < LEASE_LEN {
        match file.read_at(&mut b[n..], n as u64)? {
            0 => break,
            k => n += k,
        }
    }
    Ok(Lease::decode(&b[..n]))
}

/// The mutation lock (byte 0), released on drop.
struct Mutation<'a>(&'a File);

impl<'a> Mutation<'a> {
    /// Polls for the lock up to `wait`: never a blocking F_SETLKW, which a
    /// stopped holder would make endless.
    fn take(file: &'a File, wait: Duration) -> io::Result<Option<Mutation<'a>>> {
        let until = Instant::now() + wait;
        loop {
            match set_lock(file, MUTATION, libc::F_WRLCK) {
                Ok(()) => return Ok(Some(Mutation(file))),
                Err(e) if !is_busy(&e) => return Err(e),
                Err(_) if Instant::now() >= until => return Ok(None),
                Err(_) => thread::sleep(Duration::from_millis(1)),
            }
        }
    }
}

impl Drop for Mutation<'_> {
    fn drop(&mut self) {
        let _ = set_lock(self.0, MUTATION, libc::F_UNLCK);
    }
}

fn flock_at(byte: i64, kind: libc::c_int) -> libc::flock {
    // SAFETY: an all-zero flock is valid; the fields set describe one byte.
    let mut l: libc::flock = unsafe { std::mem::zeroed() };
    l.l_type = kind as _;
    l.l_whence = libc::SEEK_SET as _;
    l.l_start = byte as _;
    l.l_len = 1;
    l
}

fn set_lock(file: &File, byte: i64, kind: libc::c_int) -> io::Result<()> {
    let l = flock_at(byte, kind);
    // SAFETY: `file` is open read-write and `l` is a valid flock.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &l) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether another process holds a lock on `byte` (F_GETLK ignores our own).
fn locked_by_other(file: &File, byte: i64) -> io::Result<bool> {
    let mut l = flock_at(byte, libc::F_WRLCK);
    // SAFETY: `file` is open and `l` a valid flock, written back by the kernel.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut l) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(i32::from(l.l_type) != libc::F_UNLCK)
}

fn is_busy(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES))
}

/// CLOCK_BOOTTIME in ms: shared by all processes of the host, counts
/// suspend, never stepped. A lease read after a reboot looks unexpired, but
/// its alive byte is unlocked, so it does not hold.
pub(super) fn boot_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) } != 0 {
        return crate::clock::mono_ms();
    }
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_slot(tag: &str) -> (std::path::PathBuf, SlotRef) {
        let path = std::env::temp_dir().join(format!("wxtoken-lease-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let open = || {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
        };
        let slot = slot(|| None, open).unwrap();
        (path, slot)
    }

    /// A fence beyond what off_t holds (here from a floor of 2^63) used to
    /// become a negative offset: EINVAL, counted as "byte locked" 64 times,
    /// and the lock reported busy forever (the refresh then timed out
    /// blaming another process). Its byte is now within range.
    #[test]
    fn a_fence_beyond_off_t_still_takes_the_lock() {
        let (path, slot) = scratch_slot("bigfence");
        let floor = 1u64 << 63;
        let h = try_take(&slot, Duration::from_secs(5), floor)
            .expect("no error")
            .expect("taken, not busy");
        assert!(h.fence() > floor);
        let byte = alive_byte(h.fence());
        assert!((ALIVE..ALIVE + ALIVE_SPAN as i64).contains(&byte));
        assert!((1..i64::from(i32::MAX)).contains(&alive_byte(u64::MAX)));
        drop(h);
        assert!(try_take(&slot, Duration::from_secs(5), 0)
            .unwrap()
            .is_some());
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn lease_round_trip_and_garbage() {
        let l = Lease {
            fence: 7,
            until_ms: 123,
            pid: 42,
        };
        assert_eq!(Lease::decode(&l.encode()), l);
        assert_eq!(Lease::decode(b"garbage-garbage-garbage-"), Lease::default());
        assert_eq!(Lease::decode(b""), Lease::default());
        let absurd = Lease {
            fence: u64::MAX,
            ..l
        };
        assert_eq!(Lease::decode(&absurd.encode()), Lease::default());
    }
}
