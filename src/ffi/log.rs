//! The log sinks of the C API (docs/logging.md): a callback, or a queue
//! drained by the caller. Conversions only: the records, their levels and
//! their delivery thread are the core's (src/log).

use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};

use super::buffer::OutBuf;
use super::last_error::Failure;
use crate::{Error, LogLevel, LogRecord};

/// The levels of records and sinks, as `int`s in the C API.
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wxtoken_log_level {
    /// No records (as a sink's level: the sink is off).
    WXTOKEN_LOG_OFF = 0,
    /// wxtoken cannot do its job: credentials rejected, a thread not started.
    WXTOKEN_LOG_ERROR = 1,
    /// Something failed and is being handled: a refresh failed, a budget spent.
    WXTOKEN_LOG_WARN = 2,
    /// Normal events: a token refreshed, a report, a cool-down over.
    WXTOKEN_LOG_INFO = 3,
    /// Details: a record adopted from the store.
    WXTOKEN_LOG_DEBUG = 4,
}

/// The C callback: level, event, app, message, fields as a JSON object, and
/// the caller's userdata. The strings live for the call only.
pub(crate) type LogFn = unsafe extern "C" fn(
    c_int,
    *const c_char,
    *const c_char,
    *const c_char,
    *const c_char,
    *mut c_void,
);

pub(crate) fn level(n: c_int) -> Result<LogLevel, Failure> {
    LogLevel::from_number(i64::from(n)).ok_or_else(|| {
        Failure::Core(Error::invalid(format!(
            "log level {n} is none of WXTOKEN_LOG_OFF (0) .. WXTOKEN_LOG_DEBUG (4)"
        )))
    })
}

/// The caller's function and pointer: the caller promised they may be used
/// from another thread (the header says so).
struct Callback {
    f: LogFn,
    userdata: *mut c_void,
}
// SAFETY: the header documents that the callback runs on wxtoken's log
// thread with this userdata; the caller owns that promise.
unsafe impl Send for Callback {}
// SAFETY: as above; it is only ever called from one thread at a time.
unsafe impl Sync for Callback {}

/// A string for C: an interior NUL (an upstream's errmsg may hold one)
/// would cut it, so it is dropped.
fn c_text(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| CString::new(s.replace('\0', "")).unwrap_or_default())
}

pub(crate) fn set_callback(level: LogLevel, f: Option<LogFn>, userdata: *mut c_void) {
    let (Some(f), true) = (f, level != LogLevel::Off) else {
        crate::clear_log_sink();
        return;
    };
    let cb = Callback { f, userdata };
    crate::set_log_sink(level, move |rec: &LogRecord| cb.call(rec));
}

impl Callback {
    fn call(&self, rec: &LogRecord) {
        let event = c_text(rec.event);
        let app = c_text(&rec.app);
        let message = c_text(&rec.message);
        let fields = c_text(&serde_json::Value::Object(rec.fields.clone()).to_string());
        // SAFETY: the caller's function, given NUL-terminated strings that
        // outlive the call and the userdata it registered.
        unsafe {
            (self.f)(
                rec.level as c_int,
                event.as_ptr(),
                app.as_ptr(),
                message.as_ptr(),
                fields.as_ptr(),
                self.userdata,
            )
        }
    }
}

/// Copies queued records as JSON lines into `out`, as many whole ones as fit.
///
/// # Safety
/// As for [`OutBuf::write`].
pub(crate) unsafe fn drain(out: &OutBuf) -> Result<(), Failure> {
    let mut text = String::new();
    let cap = out.cap();
    while let Some(rec) = crate::drain_log() {
        let line = rec.to_json().to_string();
        // A line and the NUL after everything.
        if text.len() + line.len() + 2 > cap {
            if text.is_empty() {
                crate::undrain_log(rec);
                // SAFETY: passed on from the caller.
                return Err(unsafe { out.too_small(line.len() + 1, "log record") });
            }
            crate::undrain_log(rec);
            break;
        }
        text.push_str(&line);
        text.push('\n');
    }
    // SAFETY: passed on from the caller.
    unsafe { out.write(&text, "log records") }
}
