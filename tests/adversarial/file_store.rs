//! The file store against another local user and a broken store: a store
//! directory recreated by someone else, a default name taken by someone
//! else, a stopped leader, an absurd record, a FIFO or a directory where the
//! record should be. Another user is simulated by chowning to uid 65534,
//! which needs root (CI runs as root): these tests fail, never skip, if
//! they cannot.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{lchown, FileTypeExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use wxtoken::store::{FileStore, Store};
use wxtoken::{ErrorKind, Record, StoreSpec};
use wxtoken_mock::{Fault, MockServer};

use crate::support::*;

const OTHER_UID: u32 = 65534;

fn store_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wxtoken-adv-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn cli(server: &MockServer, id: &str, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = wxtoken_cli(server, id, args);
    cmd.arg(format!("--store=file:{}", dir.display()));
    cmd
}

/// Gives `path` to another user, as that user would have created it.
fn give_away(path: &Path) {
    lchown(path, Some(OTHER_UID), Some(OTHER_UID)).unwrap_or_else(|e| {
        panic!(
            "cannot chown {} to uid {OTHER_UID} ({e}): these tests simulate another local \
             user and must run as root",
            path.display()
        )
    });
}

fn mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The record file a first process left in `dir`.
fn record_file(dir: &Path) -> PathBuf {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a record file")
}

fn record_json(token: &str, fetched: u64, expires: u64, generation: u64) -> String {
    format!(
        "{{\"v\":1,\"token\":\"{token}\",\"expires_at_ms\":{expires},\
         \"fetched_at_ms\":{fetched},\"generation\":{generation},\"fence\":0}}"
    )
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        thread::sleep(Duration::from_millis(5));
    }
}

/// A child process that is resumed, killed and reaped when the test ends,
/// however it ends.
struct Proc(Child);

impl Proc {
    fn spawn(mut cmd: Command) -> Proc {
        Proc(
            cmd.stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill has no memory preconditions; the child is ours and unreaped.
        assert_eq!(unsafe { libc::kill(self.0.id() as libc::pid_t, sig) }, 0);
    }

    /// Stops it, and waits until it is stopped (kill only queues the signal).
    fn stop(&self) {
        self.signal(libc::SIGSTOP);
        let stat = format!("/proc/{}/stat", self.0.id());
        wait_until("the process stops", secs(10.0), || {
            let text = fs::read_to_string(&stat).unwrap();
            // "pid (comm) S ...": the state follows the last ')'.
            let state = text.rsplit_once(") ").unwrap().1.chars().next();
            state == Some('T')
        });
    }

    /// Its output once it exits, failing the test if that takes over `limit`.
    fn output_within(mut self, limit: Duration) -> Output {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "still running after {limit:?}");
            thread::sleep(Duration::from_millis(10));
        };
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        self.0
            .stdout
            .take()
            .unwrap()
            .read_to_end(&mut stdout)
            .unwrap();
        self.0
            .stderr
            .take()
            .unwrap()
            .read_to_end(&mut stderr)
            .unwrap();
        Output {
            status,
            stdout,
            stderr,
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            self.signal(libc::SIGCONT);
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Item 2: the store directory vanishes (a tmp cleaner) while this process
/// runs, and another user recreates it first with a planted record. The
/// directory used to be checked only at configure: the victim adopted
/// ATTACKER-CHOSEN-TOKEN.
#[test]
fn a_store_directory_recreated_by_another_user_is_refused_not_served() {
    let id = appid("hijack");
    let dir = store_dir("hijack");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |c| {
        c.store = StoreSpec::File(Some(dir.clone()))
    });
    let mine = wxtoken::get(&app).unwrap();
    let record = record_file(&dir);
    fs::remove_dir_all(&dir).unwrap();
    fs::create_dir(&dir).unwrap();
    mode(&dir, 0o755);
    let now = now_ms();
    fs::write(
        &record,
        record_json("ATTACKER-CHOSEN-TOKEN", now, now + 7_200_000, 1000),
    )
    .unwrap();
    give_away(&record);
    give_away(&dir);

    let err = wxtoken::invalidate(&app, &mine).expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Store, "{err}");
    assert!(err.to_string().contains("owned by uid 65534"), "{err}");
    // The background refresher polls the store every 500 ms: it must not
    // adopt the planted record either.
    thread::sleep(Duration::from_millis(1200));
    assert_eq!(wxtoken::get(&app).unwrap(), mine.as_str());
    assert_eq!(server.token_calls(&id), 1);
    fs::remove_dir_all(dir).unwrap();
}

/// Item 2: the other user plants a symlink where the victim writes its temp
/// file; it used to receive the victim's freshly fetched real token.
#[test]
fn a_symlink_planted_at_the_temp_name_never_receives_the_token() {
    let id = appid("tmplink");
    let dir = store_dir("tmplink");
    let sink = dir.with_extension("sink");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |c| {
        c.store = StoreSpec::File(Some(dir.clone()))
    });
    let mine = wxtoken::get(&app).unwrap();
    let key = record_file(&dir)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    fs::remove_dir_all(&dir).unwrap();
    fs::create_dir(&dir).unwrap();
    mode(&dir, 0o777);
    fs::write(&sink, b"").unwrap();
    mode(&sink, 0o666);
    let link = dir.join(format!(".{key}.{}.tmp", std::process::id()));
    std::os::unix::fs::symlink(&sink, &link).unwrap();
    for p in [&sink, &link, &dir] {
        give_away(p);
    }

    let result = wxtoken::invalidate(&app, &mine);
    let stolen = fs::read_to_string(&sink).unwrap();
    if let Ok(new) = &result {
        assert!(!stolen.contains(new.as_str()), "the token went to the sink");
    }
    assert!(
        stolen.is_empty(),
        "the sink received {} bytes",
        stolen.len()
    );
    assert_eq!(result.expect_err("refused").kind(), ErrorKind::Store);
    assert_eq!(server.token_calls(&id), 1, "no fetch for a hostile store");
    fs::remove_dir_all(dir).unwrap();
    fs::remove_file(sink).unwrap();
}

fn sane_record(token: &str) -> Record {
    let now = now_ms();
    Record {
        token: token.into(),
        expires_at_ms: now + 7_200_000,
        fetched_at_ms: now,
        generation: 1,
        fence: 0,
    }
}

/// Item 3: any local user could create the fixed default directory
/// `wxtoken-<uid>` first; the victim was refused for good (a sticky
/// /dev/shm lets nobody else remove it). Now every process of the user
/// falls back to the same next name, and meets the others there.
#[test]
fn a_default_directory_taken_by_another_user_falls_back_to_one_next_name() {
    let base = store_dir("defaults");
    fs::create_dir(&base).unwrap();
    mode(&base, 0o1777); // like /dev/shm
                         // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let name = |n: u32| match n {
        0 => base.join(format!("wxtoken-{uid}")),
        n => base.join(format!("wxtoken-{uid}-{n}")),
    };
    fs::create_dir(name(0)).unwrap();
    give_away(&name(0));
    // Ours but unsafe counts as taken too; a symlink as well.
    fs::create_dir(name(1)).unwrap();
    mode(&name(1), 0o777);
    std::os::unix::fs::symlink("/tmp", name(2)).unwrap();

    let one = FileStore::open_default_under(&base).expect("a fallback");
    assert_eq!(one.dir(), name(3));
    let lock = one.try_lock("k", Duration::from_secs(5)).unwrap().unwrap();
    one.save("k", &sane_record("shared"), &*lock).unwrap();
    let other = FileStore::open_default_under(&base).unwrap();
    assert_eq!(
        other.dir(),
        name(3),
        "every process walks the same sequence"
    );
    assert_eq!(other.load("k").unwrap().unwrap().token.as_ref(), "shared");

    for n in 3..=8 {
        let _ = fs::remove_dir_all(name(n));
        fs::create_dir(name(n)).unwrap();
        give_away(&name(n));
    }
    let err = FileStore::open_default_under(&base)
        .err()
        .expect("all taken");
    assert_eq!(err.kind(), ErrorKind::Store);
    let msg = err.to_string();
    assert!(
        msg.contains("file:/dir") && msg.contains(&name(0).display().to_string()),
        "{msg}"
    );
    fs::remove_dir_all(base).unwrap();
}

/// Item 8: a leader SIGSTOPped mid-fetch used to keep its lock for good:
/// nobody took over, and every process failed with "another process held
/// the refresh lock". Now its lease runs out, another process takes over
/// and fetches, and once resumed the stopped one ends on that token too.
#[test]
fn a_stopped_leader_is_taken_over_when_its_lease_ends() {
    let id = appid("sigstop");
    let dir = store_dir("sigstop");
    let server = mock_for(&id, 7200, 0);
    server.set_fault(Fault::Slow(Duration::from_millis(1500)), Some(1));
    // timeout 2000 ms: a lease of 3 x 2000 + 900 (backoff) + 2000 ms.
    let lease = Duration::from_millis(8900);
    // Its wait_ms runs out while it is stopped: resumed, it must still end
    // on the taker's token (a last look at the store), not on a timeout.
    let stopped = Proc::spawn(cli(
        &server,
        &id,
        &dir,
        &["token", "--timeout-ms", "2000", "--wait-ms", "5000"],
    ));
    wait_until("the leader calls upstream", secs(10.0), || {
        server.token_calls(&id) == 1
    });
    stopped.stop();
    thread::sleep(lease + Duration::from_secs(1));

    let started = Instant::now();
    let taker = cli(
        &server,
        &id,
        &dir,
        &["token", "--timeout-ms", "2000", "--wait-ms", "8000"],
    )
    .output()
    .unwrap();
    let token = printed_token(taker);
    assert!(started.elapsed() < secs(10.0), "the taker was blocked");
    assert_eq!(
        server.token_calls(&id),
        2,
        "the stopped one's and the taker's"
    );

    stopped.signal(libc::SIGCONT);
    let resumed = printed_token(stopped.output_within(secs(10.0)));
    assert_eq!(
        resumed, token,
        "the resumed leader ends on the taker's token"
    );
    assert_eq!(check(&server, &token), 0);
    assert_eq!(server.token_calls(&id), 2, "and fetched nothing more");
    assert!(fs::read_to_string(record_file(&dir))
        .unwrap()
        .contains(&token));
    fs::remove_dir_all(dir).unwrap();
}

/// Holds the lock file's mutation byte (byte 0) from this test process,
/// released when dropped (closing the file drops the record lock).
struct MutationPin(#[allow(dead_code)] fs::File);

impl MutationPin {
    fn take(lock_file: &Path) -> MutationPin {
        use std::os::fd::AsRawFd;
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(lock_file)
            .unwrap();
        // SAFETY: an all-zero flock is valid; the fields set describe byte 0.
        let mut l: libc::flock = unsafe { std::mem::zeroed() };
        l.l_type = libc::F_WRLCK as _;
        l.l_whence = libc::SEEK_SET as _;
        l.l_len = 1;
        wait_until("the mutation byte is free", secs(5.0), || {
            // SAFETY: `file` is open read-write and `l` a valid flock.
            unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &l) == 0 }
        });
        MutationPin(file)
    }
}

/// Item 8, the fence: a leader stopped after its fetch, just before its
/// write, loses its lease to a taker (even across a wiped store); resumed,
/// its write is refused and it ends on the taker's token. To stop it exactly there, this test holds the
/// lock file's mutation byte while the leader's fetch lands, so its save
/// waits (saves poll that byte for up to 2 s).
#[test]
fn a_leader_resumed_after_losing_its_lease_cannot_write() {
    let id = appid("fence");
    let dir = store_dir("fence");
    let server = mock_for(&id, 7200, 0);
    let t0 = printed_token(cli(&server, &id, &dir, &["token"]).output().unwrap());
    let lock_file = record_file(&dir).with_extension("lock");
    let issued = || server.stats()["tokens_issued"].as_u64().unwrap();
    assert_eq!(issued(), 1);
    server.set_fault(Fault::Slow(Duration::from_millis(1000)), Some(1));
    let lease = Duration::from_millis(8900); // timeout 2000 ms, as above
    let args = ["invalidate", "--token", &t0, "--timeout-ms", "2000"];
    let stale = Proc::spawn(cli(&server, &id, &dir, &args));
    wait_until("the leader calls upstream", secs(10.0), || {
        server.token_calls(&id) == 2
    });
    let leased_at = Instant::now();
    let pin = MutationPin::take(&lock_file);
    wait_until("its fetch is answered", secs(10.0), || issued() == 2);
    thread::sleep(Duration::from_millis(300)); // now waiting in its save
    stale.stop();
    drop(pin);
    // A tmp cleaner wipes the store meanwhile: the lease, its fence and the
    // record are gone. The stale leader's record (generation 2) would now
    // win over the taker's (generation 1) by generation, but not by fence.
    fs::remove_dir_all(&dir).unwrap();
    thread::sleep(
        (leased_at + lease + Duration::from_secs(1)).saturating_duration_since(Instant::now()),
    );

    let taker = printed_token(cli(&server, &id, &dir, &args).output().unwrap());
    assert_ne!(taker, t0);
    assert_eq!(server.token_calls(&id), 3);
    stale.signal(libc::SIGCONT);
    let resumed = printed_token(stale.output_within(secs(10.0)));
    assert_eq!(resumed, taker, "the stale leader's write was refused");
    let stored = fs::read_to_string(record_file(&dir)).unwrap();
    assert!(
        stored.contains(&taker),
        "the store holds the taker's record"
    );
    assert_eq!(
        check(&server, &taker),
        0,
        "the taker's token (fetched last) works"
    );
    assert_eq!(server.token_calls(&id), 3, "and nobody fetched again");
    fs::remove_dir_all(dir).unwrap();
}

/// Item 9: a stored generation of u64::MAX made the leader's `+ 1` wrap (a
/// panic in debug builds; in release every refresh fetched and the save
/// kept the old record, burning the quota). Such a record reads as absent.
#[test]
fn a_record_with_a_generation_about_to_wrap_is_replaced_once() {
    let id = appid("wrap");
    let dir = store_dir("wrap");
    let server = mock_for(&id, 7200, 300);
    printed_token(cli(&server, &id, &dir, &["token"]).output().unwrap());
    let record = record_file(&dir);
    let now = now_ms();
    fs::write(
        &record,
        record_json("PLANTED-EXPIRED", now, now - 1000, u64::MAX),
    )
    .unwrap();
    let fresh = printed_token(cli(&server, &id, &dir, &["token"]).output().unwrap());
    assert_eq!(check(&server, &fresh), 0);
    let again = printed_token(cli(&server, &id, &dir, &["token"]).output().unwrap());
    assert_eq!(again, fresh, "served from the replaced record");
    assert_eq!(server.token_calls(&id), 2, "one fetch replaced it");
    assert!(fs::read_to_string(&record).unwrap().contains(&fresh));
    fs::remove_dir_all(dir).unwrap();
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// Item 10: a FIFO at the record path blocked `open()` forever, whatever
/// wait_ms said. Now it is not a record: replaced by the next fetch.
#[test]
fn a_fifo_at_the_record_path_neither_blocks_nor_stays() {
    let id = appid("fifo");
    let dir = store_dir("fifo");
    let server = mock_for(&id, 7200, 300);
    printed_token(cli(&server, &id, &dir, &["token"]).output().unwrap());
    let record = record_file(&dir);
    fs::remove_file(&record).unwrap();
    mkfifo(&record);
    let out = Proc::spawn(cli(&server, &id, &dir, &["token", "--wait-ms", "3000"]))
        .output_within(secs(10.0));
    let token = printed_token(out);
    assert_eq!(check(&server, &token), 0);
    assert_eq!(server.token_calls(&id), 2);
    let meta = fs::symlink_metadata(&record).unwrap();
    assert!(!meta.file_type().is_fifo() && meta.is_file());
    assert!(fs::read_to_string(&record).unwrap().contains(&token));
    fs::remove_dir_all(dir).unwrap();
}

/// Item 10: a directory at the record path made every call fetch a token
/// (killing the one others use), throw it away and fail. Now the leader
/// checks the store before fetching: a store error, no fetch.
#[test]
fn a_directory_at_the_record_path_costs_no_fetch() {
    let id = appid("recdir");
    let dir = store_dir("recdir");
    let server = mock_for(&id, 7200, 0);
    let first = printed_token(cli(&server, &id, &dir, &["token"]).output().unwrap());
    let record = record_file(&dir);
    fs::remove_file(&record).unwrap();
    fs::create_dir_all(record.join("not-ours-to-delete")).unwrap();
    for _ in 0..3 {
        let out = cli(&server, &id, &dir, &["token"]).output().unwrap();
        assert_eq!(out.status.code(), Some(17), "a store error");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(".json"), "names the record: {stderr}");
    }
    assert_eq!(server.token_calls(&id), 1, "no fetch for an unusable store");
    assert_eq!(check(&server, &first), 0, "so the first token still works");
    fs::remove_dir_all(dir).unwrap();
}

/// Item 10, a full disk: nothing odd sits at the record's name, yet no
/// record can be written (a container's small /dev/shm filled up). The
/// leader must find out before fetching: a fetched token it cannot share
/// would be fetched again by every other process, each killing the last.
/// The CLI runs in its own mount namespace on a 64 KiB tmpfs: once to make
/// the lock file, then, with the record gone and the disk full, again.
#[test]
fn a_full_disk_costs_no_fetch() {
    let id = appid("fulldisk");
    let dir = store_dir("fulldisk");
    fs::create_dir(&dir).unwrap();
    let server = mock_for(&id, 7200, 0);
    let plain = cli(&server, &id, &dir, &["token"]);
    let script = format!(
        "mount -t tmpfs -o size=64k,mode=0700 tmpfs '{d}' || exit 90; \
         \"$0\" \"$@\" >/dev/null || exit 91; rm '{d}'/*.json; \
         dd if=/dev/zero of='{d}/fill' bs=4k 2>/dev/null; exec \"$0\" \"$@\"",
        d = dir.display()
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .arg(plain.get_program())
        .args(plain.get_args())
        .env("WXTOKEN_SECRET", SECRET)
        .output()
        .expect("unshare runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(90),
        "cannot mount a tmpfs (root needed): {stderr}"
    );
    assert_eq!(out.status.code(), Some(17), "a store error: {stderr}");
    assert!(stderr.contains("No space left"), "{stderr}");
    assert_eq!(
        server.token_calls(&id),
        1,
        "no second fetch for a full store"
    );
    fs::remove_dir_all(dir).unwrap();
}

/// Item 10: when the record cannot be written after the fetch, the fetched
/// token (which has already killed the previous one) used to be thrown
/// away with a store error. Now it is served from memory.
#[test]
fn a_token_fetched_just_before_the_store_broke_is_still_served() {
    let id = appid("lateerr");
    let dir = store_dir("lateerr");
    let server = mock_for(&id, 7200, 0);
    let first = printed_token(cli(&server, &id, &dir, &["token"]).output().unwrap());
    let record = record_file(&dir);
    server.set_fault(Fault::Slow(Duration::from_millis(1500)), Some(1));
    let refresh = Proc::spawn(cli(&server, &id, &dir, &["invalidate", "--token", &first]));
    wait_until("the refresh calls upstream", secs(10.0), || {
        server.token_calls(&id) == 2
    });
    fs::remove_file(&record).unwrap();
    fs::create_dir_all(record.join("not-ours-to-delete")).unwrap();
    let token = printed_token(refresh.output_within(secs(10.0)));
    assert_ne!(token, first);
    assert_eq!(check(&server, &token), 0, "the fetched token, served");
    assert_eq!(server.token_calls(&id), 2);
    fs::remove_dir_all(dir).unwrap();
}

/// Item 3, as an unprivileged victim: another user's 0700 directory at the
/// default name cannot even be opened (EACCES, where root could), and that
/// must move the victim on to the next name, not refuse the store.
#[test]
fn an_unreadable_default_directory_of_another_user_moves_on_to_the_next_name() {
    let id = appid("eacces");
    let server = mock_for(&id, 7200, 0);
    let victim = 40_000 + std::process::id() % 20_000;
    let taken = PathBuf::from(format!("/dev/shm/wxtoken-{victim}"));
    let next = PathBuf::from(format!("/dev/shm/wxtoken-{victim}-1"));
    let _ = fs::remove_dir_all(&taken);
    let _ = fs::remove_dir_all(&next);
    fs::create_dir(&taken).unwrap();
    mode(&taken, 0o700);
    lchown(&taken, Some(victim + 1), Some(victim + 1)).expect("needs root");

    let plain = wxtoken_cli(&server, &id, &["token"]);
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid",
        &victim.to_string(),
        "--regid",
        &victim.to_string(),
    ])
    .arg("--clear-groups")
    .arg(plain.get_program())
    .args(plain.get_args())
    .env("WXTOKEN_SECRET", SECRET)
    .env("WXTOKEN_LOG", "1");
    let out = cmd.output().expect("setpriv runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let meta = fs::symlink_metadata(&next);
    let _ = fs::remove_dir_all(&taken);
    let _ = fs::remove_dir_all(&next);
    assert!(out.status.success(), "the victim was refused: {stderr}");
    assert!(
        stderr.contains(&taken.display().to_string()),
        "warned: {stderr}"
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.expect("the next name was used").uid(), victim);
    assert_eq!(server.token_calls(&id), 1);
}

/// Other users' default stores on the host (root's cron and www-data's
/// php-fpm each have one) are named in the default store's notice: each
/// side would refresh on its own. A given directory has no such notice.
#[test]
fn other_users_default_stores_are_named_in_the_notice() {
    let base = store_dir("neighbours");
    fs::create_dir(&base).unwrap();
    mode(&base, 0o1777);
    let alone = FileStore::open_default_under(&base).unwrap();
    assert_eq!(alone.notice(), None, "only ours");

    let theirs = base.join(format!("wxtoken-{OTHER_UID}"));
    fs::create_dir(&theirs).unwrap();
    give_away(&theirs);
    // Not a default store's name; a name that lies about its owner (ours).
    fs::create_dir(base.join("wxtoken-cache")).unwrap();
    fs::create_dir(base.join("wxtoken-4242")).unwrap();
    let notice = alone.notice().expect("a notice");
    assert!(notice.contains(&format!("(uid {OTHER_UID})")), "{notice}");
    assert!(!notice.contains("4242"), "owned by us, whatever its name");
    assert!(
        notice.contains("wxtoken serve"),
        "says how to fix it: {notice}"
    );

    let given = FileStore::open(Some(&base.join("given"))).unwrap();
    assert_eq!(given.notice(), None);
    fs::remove_dir_all(base).unwrap();
}
