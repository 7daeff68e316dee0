//! The panic boundary: every exported function runs its body through one of
//! these, so a Rust panic becomes `WXTOKEN_PANIC` (or a harmless default)
//! instead of unwinding into C, which is undefined behaviour.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use super::last_error::{self, Failure};
use super::status::wxtoken_status;

/// Runs the body of the C function `func`; a failure becomes its status and
/// this thread's last error.
pub(crate) fn status(
    func: &'static str,
    body: impl FnOnce() -> Result<(), Failure>,
) -> wxtoken_status {
    // AssertUnwindSafe: a body that panics half-way leaves nothing the
    // caller can observe beyond what the core's own locks protect (parking_lot
    // locks do not poison, and the core never holds one across user code).
    let outcome = panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        discard(payload);
        Err(Failure::Panic(func))
    });
    match outcome {
        Ok(()) => wxtoken_status::WXTOKEN_OK,
        Err(failure) => {
            // Recording allocates and formats: keep even that inside the boundary.
            let recorded = panic::catch_unwind(AssertUnwindSafe(|| last_error::set(&failure)));
            if let Err(payload) = recorded {
                discard(payload);
            }
            failure.status()
        }
    }
}

/// Runs the body of a C function that returns a plain value; a panic yields
/// `fallback`.
pub(crate) fn value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        discard(payload);
        fallback
    })
}

/// Drops a panic payload. Its message is not kept: it could quote anything,
/// and messages reaching C must never hold a secret. A payload whose drop
/// panics in turn is leaked rather than unwound into C.
fn discard(payload: Box<dyn Any + Send>) {
    if let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let hook = panic::take_hook();
        panic::set_hook(Box::new(|_| {}));
        let s = status("wxtoken_test", || panic!("boom"));
        panic::set_hook(hook);
        assert_eq!(s, wxtoken_status::WXTOKEN_PANIC);
        let msg = last_error::message();
        assert!(msg.contains("wxtoken_test panicked"), "{msg}");
        assert!(!msg.contains("boom"), "{msg}");
        assert_eq!(value(7, || 8), 8);
    }
}
