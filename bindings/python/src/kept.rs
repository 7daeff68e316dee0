//! The str handed out for each fresh token, kept per fresh epoch: while
//! the core's epoch for an app stays, every read returns that same object.

use pyo3::prelude::*;
use pyo3::types::PyString;

/// The str of each fresh token, keyed by the core's fresh epoch (the same
/// epoch is the same token): a fresh read hands back the same str object,
/// no new str per call. Direct-mapped; a few apps each keep theirs.
pub(crate) struct FreshStrs(std::cell::UnsafeCell<[(u64, Option<Py<PyString>>); 8]>);

// SAFETY: only touched with the GIL held (every accessor takes `Python`),
// and nothing inside an access runs Python code or lets the GIL go. The
// abi3 module cannot be loaded by a free-threaded interpreter.
unsafe impl Sync for FreshStrs {}

pub(crate) static FRESH_STRS: FreshStrs =
    FreshStrs(std::cell::UnsafeCell::new([const { (0, None) }; 8]));

impl FreshStrs {
    pub(crate) fn get<'py>(&self, py: Python<'py>, epoch: u64) -> Option<Bound<'py, PyString>> {
        // SAFETY: see the Sync impl; `py` proves the GIL is held.
        let slot = unsafe { &(*self.0.get())[epoch as usize % 8] };
        match slot {
            (e, Some(s)) if *e == epoch => Some(s.bind(py).clone()),
            _ => None,
        }
    }

    pub(crate) fn put(&self, _py: Python<'_>, epoch: u64, s: &Bound<'_, PyString>) {
        // SAFETY: as in `get`. The replaced str's release frees a str only
        // (no finaliser, no Python code).
        let slot = unsafe { &mut (*self.0.get())[epoch as usize % 8] };
        *slot = (epoch, Some(s.clone().unbind()));
    }
}

/// The str kept for `app`'s token while it is fresh (the fast path of
/// `get_token`, which has no pyo3 entry of its own: see fast.rs).
pub(crate) fn for_app<'py>(py: Python<'py>, app: &str) -> Option<Bound<'py, PyString>> {
    FRESH_STRS.get(py, wxtoken::fresh_epoch(app)?.get())
}
