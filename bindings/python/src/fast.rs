//! `wxtoken.get_token` as a plain C function, so that a fresh read skips
//! pyo3's call machinery. Through `#[pyfunction]` a fresh `get_token` took
//! 66 ns, three times a `dict.get` (22 ns), though its own work (a name
//! lookup, a word load, the kept str) is a few: the rest was pyo3's entry,
//! its thread-local attach bookkeeping, the lock of its deferred-decref pool
//! (taken on every entry once anything has detached: a fifth of the
//! profile) and argument parsing. This function answers a fresh token's
//! kept str itself, with CPython's own calls only (nothing there can raise
//! or drop a pyo3 object), and hands every other call, arguments unchanged,
//! to the pyo3 function, which converts, waits and raises; only a panic
//! becomes a `PanicException` here.

use std::ffi::CStr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use pyo3::exceptions::PySystemError;
use pyo3::ffi;
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};
use pyo3::Borrowed;

/// The pyo3 function every call that is not a fresh read goes to.
static SLOW: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

const DOC: &CStr = c"get_token($module, /, app)
--

A token the platform accepts now. A fresh one is the same str object for
as long as the token stays; otherwise this waits (at most wait_ms) for the
one refresh in flight. Raises a WxTokenError subclass when no valid token
can be had.";

/// CPython keeps a pointer to the definition for the function's life.
struct MethodDef(ffi::PyMethodDef);

// SAFETY: never written after construction; its pointers are 'static.
unsafe impl Sync for MethodDef {}

static DEF: MethodDef = MethodDef(ffi::PyMethodDef {
    ml_name: c"get_token".as_ptr(),
    ml_meth: ffi::PyMethodDefPointer {
        PyCFunctionFastWithKeywords: get_token,
    },
    ml_flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
    ml_doc: DOC.as_ptr(),
});

/// Adds `get_token` to the module `m`, with `slow` (the pyo3 function of
/// the same name and signature) behind it. The module is loaded in one
/// interpreter only (see `lib.rs`), so a second execution of it (a
/// re-import there) brings an equal function and the first one stays.
pub(crate) fn add_get_token(m: &Bound<'_, PyModule>, slow: Bound<'_, PyAny>) -> PyResult<()> {
    let py = m.py();
    let _ = SLOW.set(py, slow.unbind());
    // CPython takes a mutable pointer but never writes the definition.
    let def = ptr::from_ref(&DEF.0).cast_mut();
    let module_name = m.name()?;
    // Bound to the module as CPython binds its own module functions (so
    // `inspect.signature` drops `$module`). SAFETY: `def` is never freed;
    // a new reference or NULL with an exception set comes back, as
    // from_owned_ptr_or_err expects.
    let function = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyCFunction_NewEx(def, m.as_ptr(), module_name.as_ptr()),
        )
    }?;
    m.add("get_token", function)
}

/// CPython's METH_FASTCALL | METH_KEYWORDS entry.
unsafe extern "C" fn get_token(
    _module: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // No panic may unwind into CPython.
    let fast = catch_unwind(|| {
        if nargs == 1 && kwnames.is_null() {
            // SAFETY: CPython calls this attached, with `nargs` borrowed
            // references at `args`.
            unsafe { kept_str(*args) }
        } else {
            None
        }
    });
    if let Ok(Some(token)) = fast {
        return token;
    }
    // Everything else through pyo3's own entry (`attach`), so that the
    // objects made and dropped here are counted as pyo3 expects.
    Python::attach(|py| {
        // SAFETY: as CPython passed them.
        match catch_unwind(AssertUnwindSafe(|| unsafe {
            forward(py, args, nargs, kwnames)
        })) {
            Ok(Ok(token)) => token.into_ptr(),
            Ok(Err(err)) => {
                err.restore(py);
                ptr::null_mut()
            }
            Err(_) => {
                PanicException::new_err("wxtoken: a panic in get_token").restore(py);
                ptr::null_mut()
            }
        }
    })
}

/// A new reference to the str kept for the fresh token of the app named
/// by `app`, or None (with no exception set) for anything else.
///
/// # Safety
/// Attached to the interpreter; `app` a valid object.
unsafe fn kept_str(app: *mut ffi::PyObject) -> Option<*mut ffi::PyObject> {
    // SAFETY (all calls): attached, `app` valid (the caller's promise).
    if unsafe { ffi::PyUnicode_Check(app) } == 0 {
        return None;
    }
    let mut len: ffi::Py_ssize_t = 0;
    let utf8 = unsafe { ffi::PyUnicode_AsUTF8AndSize(app, &mut len) };
    if utf8.is_null() {
        unsafe { ffi::PyErr_Clear() }; // a surrogate: the pyo3 function raises
        return None;
    }
    // SAFETY: CPython's UTF-8 of the str, `len` bytes, alive while `app` is.
    // valid UTF-8 (CPython's encoder made it).
    let name = unsafe {
        std::str::from_utf8_unchecked(std::slice::from_raw_parts(utf8.cast::<u8>(), len as usize))
    };
    let py = unsafe { Python::assume_attached() };
    crate::kept::for_app(py, name).map(Bound::into_ptr)
}

/// Calls the pyo3 function with the arguments of a vectorcall.
///
/// # Safety
/// `args` holds `nargs` positional references followed by one for each
/// name in `kwnames` (NULL or a tuple of str), as CPython passes them.
unsafe fn forward<'py>(
    py: Python<'py>,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: `i` is below nargs + len(kwnames) (the caller's promise).
    let borrowed = |i: usize| unsafe { Borrowed::from_ptr(py, *args.add(i)) };
    let positional = nargs as usize;
    let call_args = PyTuple::new(py, (0..positional).map(borrowed))?;
    let kwargs = if kwnames.is_null() {
        None
    } else {
        // SAFETY: a tuple of str (the caller's promise), borrowed.
        let names = unsafe { Borrowed::from_ptr(py, kwnames) };
        let names = names.cast::<PyTuple>()?;
        let kwargs = PyDict::new(py);
        for (i, name) in names.iter().enumerate() {
            kwargs.set_item(name, borrowed(positional + i))?;
        }
        Some(kwargs)
    };
    let slow = SLOW
        .get(py)
        .ok_or_else(|| PySystemError::new_err("wxtoken._wxtoken is not initialised"))?;
    slow.bind(py).call(call_args, kwargs.as_ref())
}
