//! C string arguments: checked for NULL and UTF-8, borrowed without copying.

use std::ffi::CStr;
use std::os::raw::c_char;

use super::last_error::Failure;

/// Borrows the C string `ptr` (argument `name`) as `&str`.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays valid and
/// unchanged for `'a` (the duration of the C call).
#[inline]
pub(crate) unsafe fn arg_str<'a>(
    ptr: *const c_char,
    name: &'static str,
) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::Null(name));
    }
    // SAFETY: not NULL, and the caller promises a NUL-terminated string that
    // outlives 'a.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    // App names are ASCII: checked a word at a time, where the general
    // UTF-8 validation was a third of a fresh `wxtoken_get`.
    if bytes.is_ascii() {
        // SAFETY: ASCII is UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).map_err(|_| Failure::Utf8(name))
}

/// Like [`arg_str`], with NULL meaning `default`.
///
/// # Safety
/// As for [`arg_str`].
pub(crate) unsafe fn arg_str_or<'a>(
    ptr: *const c_char,
    name: &'static str,
    default: &'a str,
) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Ok(default);
    }
    // SAFETY: forwarded from the caller.
    unsafe { arg_str(ptr, name) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    #[test]
    fn null_utf8_and_good_strings() {
        // SAFETY: every pointer is NULL or a NUL-terminated literal.
        unsafe {
            assert!(matches!(
                arg_str(ptr::null(), "app"),
                Err(Failure::Null("app"))
            ));
            let bad = b"ab\xff\0";
            assert!(matches!(
                arg_str(bad.as_ptr().cast(), "app"),
                Err(Failure::Utf8("app"))
            ));
            let good = "wx\u{4e2d}\0";
            assert_eq!(arg_str(good.as_ptr().cast(), "app").unwrap(), "wx\u{4e2d}");
            assert_eq!(arg_str_or(ptr::null(), "options_json", "").unwrap(), "");
        }
    }
}
