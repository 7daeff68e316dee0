//! Leveled, structured records and the events ops alert on
//! (docs/logging.md). Two sinks, each with its own level:
//!
//! - stderr: text lines (or JSON lines: `WXTOKEN_LOG_FORMAT=json`) written
//!   on the emitting thread in one write(2). Off unless `WXTOKEN_LOG` names a level (or the `wxtoken`
//!   command's `--log-level` sets one): a library does not write on its
//!   host program's stderr uninvited.
//! - the program's sink: a callback (Rust [`set_log_sink`], C
//!   `wxtoken_set_log_callback`, Python's `logging`) called on wxtoken's
//!   own `wxtoken-log` thread, or a queue the program drains on its own
//!   thread (PHP). See `dispatch.rs` for why records never reach user code
//!   on the thread that made them.
//!
//! A record below both levels costs one atomic load: nothing is formatted.
//! Records come from slow paths only (a refresh, a failure, a configure);
//! a fresh `get` makes none.

mod dispatch;
mod event;
mod record;

use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;

pub(crate) use event::Event;
pub use record::{timestamp, LogRecord};

/// A record's importance, and a sink's threshold (`Off` takes nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum LogLevel {
    Off = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

impl LogLevel {
    /// "off", "error", "warn", "info", "debug".
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }

    /// The level of a number as the C API and the bindings pass it (0..4).
    pub fn from_number(n: i64) -> Option<LogLevel> {
        [
            LogLevel::Off,
            LogLevel::Error,
            LogLevel::Warn,
            LogLevel::Info,
            LogLevel::Debug,
        ]
        .into_iter()
        .find(|l| *l as i64 == n)
    }

    fn from_u8(n: u8) -> LogLevel {
        LogLevel::from_number(i64::from(n)).unwrap_or(LogLevel::Off)
    }

    /// `WXTOKEN_LOG`'s reading: a level name ("warning" too), "" or "0"
    /// for off; anything else ("1", "on") is info, what the variable meant
    /// before it had levels.
    pub fn from_env_value(v: &str) -> LogLevel {
        match v.trim().to_ascii_lowercase().as_str() {
            "" | "0" | "off" | "none" | "false" => LogLevel::Off,
            "error" => LogLevel::Error,
            "warn" | "warning" => LogLevel::Warn,
            "debug" | "trace" => LogLevel::Debug,
            _ => LogLevel::Info,
        }
    }
}

impl std::str::FromStr for LogLevel {
    type Err = crate::Error;
    /// A level's name exactly: "off", "error", "warn" ("warning"), "info", "debug".
    fn from_str(s: &str) -> crate::Result<LogLevel> {
        match s {
            "off" => Ok(LogLevel::Off),
            "error" => Ok(LogLevel::Error),
            "warn" | "warning" => Ok(LogLevel::Warn),
            "info" => Ok(LogLevel::Info),
            "debug" => Ok(LogLevel::Debug),
            _ => Err(crate::Error::invalid(format!(
                "unknown log level '{}': off, error, warn, info or debug",
                crate::error::shortened(s)
            ))),
        }
    }
}

/// How the stderr sink writes a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// `2026-12-03T08:45:51.123Z wxtoken[PID] WARN event app: message [k=v ...]`
    Text,
    /// One JSON object a line ([`LogRecord::to_json`]).
    Json,
}

impl LogFormat {
    /// `WXTOKEN_LOG_FORMAT`'s reading: "json" (any case) is JSON, anything
    /// else text.
    pub fn from_env_value(v: &str) -> LogFormat {
        if v.trim().eq_ignore_ascii_case("json") {
            LogFormat::Json
        } else {
            LogFormat::Text
        }
    }
}

/// The program's sink.
pub(crate) enum Program {
    Callback(Box<dyn Fn(&LogRecord) + Send + Sync>),
    Queue,
}

/// A sink as installed: its epoch (1, 2, ... in the order sinks were set)
/// tells the dispatcher's call of an old callback from one of the current.
pub(crate) struct Installed {
    pub(crate) epoch: u64,
    pub(crate) sink: Program,
}

/// The stderr sink: its level in the low bits, [`JSON`] for JSON lines.
/// Not read yet: the first record reads `WXTOKEN_LOG` and
/// `WXTOKEN_LOG_FORMAT`. One atomic, not a Lazy (a fork while another
/// thread initialises a Lazy leaves it locked), so level and format change
/// together.
static STDERR: AtomicU8 = AtomicU8::new(UNREAD);
const UNREAD: u8 = u8::MAX;
const JSON: u8 = 0x10;
const LEVEL_BITS: u8 = 0x0f;
static PROGRAM_LEVEL: AtomicU8 = AtomicU8::new(0);
static PROGRAM: ArcSwapOption<Installed> = ArcSwapOption::const_empty();

fn stderr_setting() -> u8 {
    match STDERR.load(Relaxed) {
        UNREAD => {
            let level = std::env::var("WXTOKEN_LOG")
                .map_or(LogLevel::Off, |v| LogLevel::from_env_value(&v));
            let format = std::env::var("WXTOKEN_LOG_FORMAT")
                .map_or(LogFormat::Text, |v| LogFormat::from_env_value(&v));
            // Unless a program set one meanwhile.
            let _ = STDERR.compare_exchange(UNREAD, setting(level, format), Relaxed, Relaxed);
            STDERR.load(Relaxed)
        }
        s => s,
    }
}

fn setting(level: LogLevel, format: LogFormat) -> u8 {
    level as u8 | if format == LogFormat::Json { JSON } else { 0 }
}

fn stderr_level() -> u8 {
    stderr_setting() & LEVEL_BITS
}

fn program() -> Option<Arc<Installed>> {
    PROGRAM.load_full()
}

/// Whether a record of `level` would reach any sink.
#[inline]
pub(crate) fn enabled(level: LogLevel) -> bool {
    let l = level as u8;
    l <= PROGRAM_LEVEL.load(Relaxed) || l <= stderr_level()
}

/// Makes and delivers a record of `event` about `app`, if any sink takes
/// its level: `build` sets the fields and returns the message; it runs
/// only then. Never blocks beyond a short queue lock and one write(2);
/// never calls user code on this thread.
pub(crate) fn emit(event: Event, app: &str, build: impl FnOnce(&mut LogRecord) -> String) {
    let level = event.level();
    if !enabled(level) {
        return;
    }
    // A ticket's records name its app, and the ticket in a field.
    let (app, ticket) = crate::ticket::split_cell_name(app);
    let mut rec = LogRecord::new(level, event.as_str(), app, String::new());
    if let Some(kind) = ticket {
        rec.set("ticket", kind.as_str());
    }
    rec.message = build(&mut rec);
    deliver(rec);
}

/// Delivers records made under a lock (inside a fork section, where the
/// log thread cannot be started): call once the lock is let go.
pub(crate) fn deliver_owed() {
    dispatch::wake_owed();
}

/// An error's kind and errcode as fields.
pub(crate) fn error_fields(r: &mut LogRecord, err: &crate::Error) {
    r.set("kind", err.kind().as_str());
    r.set("errcode", err.errcode());
}

fn deliver(rec: LogRecord) {
    let l = rec.level as u8;
    if l == 0 {
        return;
    }
    if l <= stderr_level() {
        write_stderr(&rec);
    }
    if l <= PROGRAM_LEVEL.load(Relaxed) {
        if let Some(p) = program() {
            dispatch::push(rec, matches!(p.sink, Program::Callback(_)));
        }
    }
}

fn write_stderr(rec: &LogRecord) {
    let mut line = if stderr_setting() & JSON != 0 {
        rec.to_json().to_string()
    } else {
        rec.to_text()
    };
    line.push('\n');
    // write(2), not std's stderr: its lock could be held by a parent thread
    // at a fork, and eprintln! panics when stderr is a closed pipe. One
    // call in practice (a line is short); a short write goes on with the
    // rest, an interrupted one again; a failed one loses the line.
    let mut rest = line.as_bytes();
    while !rest.is_empty() {
        // SAFETY: `rest` is a valid buffer of `rest.len()` bytes.
        let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
        match usize::try_from(n) {
            Ok(n) if n > 0 => rest = &rest[n.min(rest.len())..],
            _ if n < 0
                && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => return,
        }
    }
}

/// Sets the stderr sink: records at `level` and above, in `format`. This
/// replaces what `WXTOKEN_LOG` and `WXTOKEN_LOG_FORMAT` said;
/// `LogLevel::Off` silences stderr.
pub fn set_log_stderr(level: LogLevel, format: LogFormat) {
    STDERR.store(setting(level, format), Relaxed);
}

/// The stderr sink's format now (`WXTOKEN_LOG_FORMAT`'s, unless set).
pub fn log_stderr_format() -> LogFormat {
    if stderr_setting() & JSON != 0 {
        LogFormat::Json
    } else {
        LogFormat::Text
    }
}

/// The stderr sink's level now (`WXTOKEN_LOG`'s, unless set).
pub fn log_stderr_level() -> LogLevel {
    LogLevel::from_u8(stderr_level())
}

/// Sends records at `level` and above to `sink`, replacing the program's
/// previous sink (stderr is separate: [`set_log_stderr`]). The sink runs on
/// wxtoken's `wxtoken-log` thread, one record at a time in order, with no
/// wxtoken lock held: it may block and may call wxtoken (a blocking call
/// there only delays later records). A panic in it loses that record.
///
/// When this returns, the previous callback is not running and will not
/// be called again (it waits for a call in progress, except on the log
/// thread itself, inside that call): so the caller must not hold anything
/// that callback waits for.
pub fn set_log_sink(level: LogLevel, sink: impl Fn(&LogRecord) + Send + Sync + 'static) {
    install(level, Program::Callback(Box::new(sink)));
}

/// Keeps records at `level` and above in a queue (the newest
/// 1024) for the program to take with [`drain_log`] on its own thread: for
/// runtimes that must not be entered from a foreign thread (PHP).
/// Replaces the program's previous sink (waiting for a callback's call in
/// progress, as [`set_log_sink`]); records already queued stay.
pub fn set_log_queue(level: LogLevel) {
    install(level, Program::Queue);
}

/// Removes the program's sink (queued records are dropped). When this
/// returns, a callback sink is not running and will not be called again.
pub fn clear_log_sink() {
    PROGRAM_LEVEL.store(0, Relaxed);
    dispatch::replace(None);
    dispatch::clear();
}

/// Queued records stay: they go to the new sink. PHP sets its queue up again
/// in every request, and what the refresher told between two requests must
/// reach the next one.
fn install(level: LogLevel, program: Program) {
    dispatch::replace(Some(program));
    PROGRAM_LEVEL.store(level as u8, Relaxed);
}

/// The oldest queued record of a [`set_log_queue`] sink, if any.
pub fn drain_log() -> Option<LogRecord> {
    dispatch::drain_one()
}

/// Puts a record [`drain_log`] returned back at the head of the queue.
pub fn undrain_log(rec: LogRecord) {
    dispatch::put_back(rec);
}

/// Waits up to `timeout` until a [`set_log_sink`] sink has received every
/// record made so far (before exit, or in a test). True when it has.
pub fn flush_log(timeout: Duration) -> bool {
    dispatch::flush(timeout)
}

/// Sends a record made outside the library (the `wxtoken serve` lifecycle)
/// to the same sinks, so a program's logs have one shape.
pub fn emit_log(rec: LogRecord) {
    if enabled(rec.level) {
        deliver(rec);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_value_reads_as_a_level() {
        assert_eq!(LogLevel::from_env_value(""), LogLevel::Off);
        assert_eq!(LogLevel::from_env_value("0"), LogLevel::Off);
        assert_eq!(LogLevel::from_env_value("1"), LogLevel::Info);
        assert_eq!(LogLevel::from_env_value("DEBUG"), LogLevel::Debug);
        assert_eq!(LogLevel::from_env_value("warning"), LogLevel::Warn);
        assert_eq!("warn".parse::<LogLevel>().unwrap(), LogLevel::Warn);
        assert!("loud".parse::<LogLevel>().is_err());
        assert_eq!(LogLevel::from_number(4), Some(LogLevel::Debug));
        assert_eq!(LogLevel::from_number(5), None);
    }
}
