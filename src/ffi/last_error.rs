//! The calling thread's last failure, as C's errno keeps it: set by every
//! failing call, left alone by successful ones, read with
//! `wxtoken_last_errcode` and `wxtoken_last_error`.

use std::cell::RefCell;
use std::fmt;

use super::status::wxtoken_status;
use crate::Error;

/// Why a C call failed: an error of the core, or a fault of the arguments
/// that only exists at the boundary.
#[derive(Debug)]
pub(crate) enum Failure {
    Core(Error),
    /// The named pointer argument was NULL.
    Null(&'static str),
    /// The named string argument is not UTF-8.
    Utf8(&'static str),
    /// `what` needs `needed` bytes (NUL included) and the buffer holds `cap`.
    TooSmall {
        what: &'static str,
        needed: usize,
        cap: usize,
    },
    /// A panic stopped at the boundary of the named function.
    Panic(&'static str),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Core(e)
    }
}

impl Failure {
    pub(crate) fn status(&self) -> wxtoken_status {
        match self {
            Failure::Core(e) => e.kind().into(),
            Failure::Null(_) => wxtoken_status::WXTOKEN_NULL_POINTER,
            Failure::Utf8(_) => wxtoken_status::WXTOKEN_INVALID_UTF8,
            Failure::TooSmall { .. } => wxtoken_status::WXTOKEN_BUFFER_TOO_SMALL,
            Failure::Panic(_) => wxtoken_status::WXTOKEN_PANIC,
        }
    }

    fn errcode(&self) -> i64 {
        match self {
            Failure::Core(e) => e.errcode(),
            _ => 0,
        }
    }
}

/// Messages name arguments, never their contents: a secret cannot leak
/// through them. Core errors are already free of secrets.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Core(e) => write!(f, "{e}"),
            Failure::Null(arg) => write!(f, "invalid argument: argument '{arg}' is NULL"),
            Failure::Utf8(arg) => write!(f, "invalid argument: argument '{arg}' is not valid UTF-8"),
            Failure::TooSmall { what, needed, cap } => write!(
                f,
                "buffer too small: the {what} needs {needed} bytes including the NUL, the buffer holds {cap}"
            ),
            Failure::Panic(func) => {
                write!(f, "internal error: {func} panicked (a bug in wxtoken; please report it)")
            }
        }
    }
}

struct LastError {
    errcode: i64,
    message: String,
}

thread_local! {
    static LAST: RefCell<LastError> = const {
        RefCell::new(LastError { errcode: 0, message: String::new() })
    };
}

/// Records `failure` as this thread's last one.
pub(crate) fn set(failure: &Failure) {
    let errcode = failure.errcode();
    let message = failure.to_string();
    // try_with: during thread teardown the slot may be gone; then there is
    // nobody left to read the message anyway.
    let _ = LAST.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            last.errcode = errcode;
            last.message = message;
        }
    });
}

/// This thread's last failure's WeChat errcode (0: none, or not from WeChat).
pub(crate) fn errcode() -> i64 {
    LAST.try_with(|last| last.try_borrow().map_or(0, |l| l.errcode))
        .unwrap_or(0)
}

/// This thread's last failure message ("" if none).
pub(crate) fn message() -> String {
    LAST.try_with(|last| {
        last.try_borrow()
            .map(|l| l.message.clone())
            .unwrap_or_default()
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn per_thread_and_kept_until_the_next_failure() {
        set(&Failure::Core(Error::wechat(40125, "invalid appsecret")));
        assert_eq!(errcode(), 40125);
        assert_eq!(
            message(),
            "credentials rejected: invalid appsecret (errcode 40125)"
        );
        std::thread::spawn(|| {
            assert_eq!(errcode(), 0);
            assert_eq!(message(), "");
            set(&Failure::Null("app"));
            assert_eq!(message(), "invalid argument: argument 'app' is NULL");
        })
        .join()
        .unwrap();
        assert_eq!(errcode(), 40125);
        set(&Failure::Core(Error::new(ErrorKind::Timeout, "x")));
        assert_eq!(errcode(), 0);
    }
}
