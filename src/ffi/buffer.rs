//! Caller-owned output buffers: `(char *buf, size_t cap, size_t *len)`.
//! The text is copied with a NUL after it; the library keeps no pointer.

use std::os::raw::c_char;
use std::ptr;

use super::last_error::Failure;

/// A checked output buffer: `buf` is NULL only when `cap` is 0 (a size query),
/// `len` (if the function has one) is not NULL.
pub(crate) struct OutBuf {
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
}

impl OutBuf {
    /// Checks the `(buf, cap, len)` triple of a function that reports lengths.
    pub(crate) fn with_len(
        buf: *mut c_char,
        cap: usize,
        len: *mut usize,
    ) -> Result<OutBuf, Failure> {
        if len.is_null() {
            return Err(Failure::Null("len"));
        }
        Self::check(buf, cap, len)
    }

    /// Checks a `(buf, cap)` pair (no length reported back).
    pub(crate) fn without_len(buf: *mut c_char, cap: usize) -> Result<OutBuf, Failure> {
        Self::check(buf, cap, ptr::null_mut())
    }

    fn check(buf: *mut c_char, cap: usize, len: *mut usize) -> Result<OutBuf, Failure> {
        if buf.is_null() && cap > 0 {
            return Err(Failure::Null("buf"));
        }
        Ok(OutBuf { buf, cap, len })
    }

    /// The buffer's size in bytes.
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Writes `n` to `*len` and an empty string to `buf`, for a text of `n`
    /// bytes that does not fit.
    ///
    /// # Safety
    /// As for [`OutBuf::write`].
    pub(crate) unsafe fn too_small(&self, n: usize, what: &'static str) -> Failure {
        if !self.len.is_null() {
            // SAFETY: the caller promises `len` is writable.
            unsafe { self.len.write(n) };
        }
        self.terminate_empty();
        Failure::TooSmall {
            what,
            needed: n + 1,
            cap: self.cap,
        }
    }

    /// Copies `text` and a NUL, and writes `text.len()` to `*len`. When the
    /// buffer is short nothing is copied: `*len` still gets the length, and
    /// `buf[0]` becomes NUL so the buffer holds a valid empty string.
    ///
    /// # Safety
    /// `buf` (if not NULL) points to `cap` writable bytes and `len` (if not
    /// NULL) to a writable `size_t`, neither overlapping `text`.
    pub(crate) unsafe fn write(&self, text: &str, what: &'static str) -> Result<(), Failure> {
        let n = text.len();
        if !self.len.is_null() {
            // SAFETY: the caller promises `len` is writable.
            unsafe { self.len.write(n) };
        }
        if self.cap <= n {
            self.terminate_empty();
            return Err(Failure::TooSmall {
                what,
                needed: n + 1,
                cap: self.cap,
            });
        }
        // SAFETY: cap > n, so n bytes plus a NUL fit in `buf` (not NULL since
        // cap > 0); `text` is a separate Rust allocation.
        unsafe {
            ptr::copy_nonoverlapping(text.as_ptr(), self.buf.cast::<u8>(), n);
            self.buf.add(n).write(0);
        }
        Ok(())
    }

    /// Copies as much of `text` as fits, cut at a UTF-8 character boundary,
    /// and a NUL. Returns whether all of it fit.
    ///
    /// # Safety
    /// As for [`OutBuf::write`].
    pub(crate) unsafe fn write_truncated(&self, text: &str) -> bool {
        if self.cap == 0 {
            return false;
        }
        let mut n = text.len().min(self.cap - 1);
        while !text.is_char_boundary(n) {
            n -= 1;
        }
        // SAFETY: n + 1 <= cap bytes are written to `buf` (not NULL since
        // cap > 0); `text` is a separate Rust allocation.
        unsafe {
            ptr::copy_nonoverlapping(text.as_ptr(), self.buf.cast::<u8>(), n);
            self.buf.add(n).write(0);
        }
        n == text.len()
    }

    fn terminate_empty(&self) {
        if self.cap > 0 {
            // SAFETY: cap > 0, so `buf` is not NULL and has room for one byte.
            unsafe { self.buf.write(0) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_with_nul_or_reports_the_length() {
        let mut buf = [b'x' as c_char; 8];
        let mut len = 99usize;
        let out = OutBuf::with_len(buf.as_mut_ptr(), 8, &mut len).unwrap();
        // SAFETY: buf has 8 bytes, len is a local.
        unsafe {
            out.write("1234567", "token").unwrap();
            assert_eq!(len, 7);
            assert_eq!(buf[7], 0);
            let err = out.write("12345678", "token").unwrap_err();
            assert!(matches!(
                err,
                Failure::TooSmall {
                    needed: 9,
                    cap: 8,
                    ..
                }
            ));
            assert_eq!(len, 8);
            assert_eq!(buf[0], 0);
            assert_eq!(buf[1], b'2' as c_char, "nothing but buf[0] is touched");
        }
        // A size query.
        let out = OutBuf::with_len(ptr::null_mut(), 0, &mut len).unwrap();
        // SAFETY: cap is 0, so buf is never written.
        assert!(unsafe { out.write("abc", "token") }.is_err());
        assert_eq!(len, 3);
        assert!(matches!(
            OutBuf::with_len(ptr::null_mut(), 1, &mut len),
            Err(Failure::Null("buf"))
        ));
        assert!(matches!(
            OutBuf::with_len(buf.as_mut_ptr(), 8, ptr::null_mut()),
            Err(Failure::Null("len"))
        ));
    }

    #[test]
    fn truncates_at_a_char_boundary() {
        let mut buf = [b'x' as c_char; 4];
        let out = OutBuf::without_len(buf.as_mut_ptr(), 4).unwrap();
        // SAFETY: buf has 4 bytes.
        unsafe {
            // "a" + a 3-byte character: only "a" fits before the NUL.
            assert!(!out.write_truncated("a\u{4e2d}"));
            assert_eq!(&buf[..2], &[b'a' as c_char, 0]);
            assert!(out.write_truncated("abc"));
            assert_eq!(buf[3], 0);
        }
    }
}
