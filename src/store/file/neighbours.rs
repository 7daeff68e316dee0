//! Other users' default stores on this host. The default store is per user
//! (`wxtoken-<uid>`): a cron job as root and php-fpm as www-data each get
//! one, run two refreshers for the same app and kill each other's tokens,
//! the very failure wxtoken exists to prevent. Their directories are
//! visible by name (not their content, 0700): that is enough to warn.

use std::path::Path;

use once_cell::sync::OnceCell;

use crate::log::{self, Event};

/// The uids, other than ours, that own a `wxtoken-<uid>[-N]` directory
/// under `base`, sorted. Names are only a hint: the owner is read (without
/// following a symlink), a name claiming another uid proves nothing.
pub(super) fn other_users(base: &Path, me: u32) -> Vec<u32> {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(base) else {
        return Vec::new();
    };
    let mut uids: Vec<u32> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name();
            let rest = name.to_str()?.strip_prefix("wxtoken-")?;
            let digits = rest.split('-').next()?;
            digits.parse::<u32>().ok()?;
            let meta = std::fs::symlink_metadata(e.path()).ok()?;
            (meta.is_dir() && meta.uid() != me).then_some(meta.uid())
        })
        .collect();
    uids.sort_unstable();
    uids.dedup();
    uids
}

/// The status line about them, None when there are none.
pub(super) fn notice(base: &Path, me: u32) -> Option<String> {
    let uids = other_users(base, me);
    if uids.is_empty() {
        return None;
    }
    let list: Vec<String> = uids.iter().map(u32::to_string).collect();
    Some(format!(
        "other users (uid {}) have wxtoken stores under {}: processes of \
         another user do not share this store, so if they serve the same \
         apps each side refreshes and kills the other's tokens; give them one \
         store (store = \"file:/shared/dir\" owned by one user, every process \
         running as that user), a Redis store, or wxtoken serve",
        list.join(", "),
        base.display()
    ))
}

/// Logs the notice once per process.
pub(super) fn warn_once(base: &Path, me: u32) {
    static WARNED: OnceCell<()> = OnceCell::new();
    if let Some(text) = notice(base, me) {
        // Set first, told after: no record is made inside a OnceCell's init.
        if WARNED.set(()).is_ok() {
            log::emit(Event::StoreNotice, "", |r| {
                r.set("store", base.display().to_string());
                text
            });
        }
    }
}
