//! Two clocks. Records are shared across processes and hosts, so token
//! expiry is wall time (`now_ms`). Deadlines, cool-downs and leases are
//! this process's own and must not stretch or shrink when NTP steps the
//! wall clock (`mono_ms`). Both are coarse vDSO reads of a few nanoseconds
//! with ~4 ms resolution, ample for lifetimes counted in seconds.

fn read(clock: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the coarse clocks exist on every Linux.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000)
}

/// Wall-clock milliseconds since the epoch.
pub(crate) fn now_ms() -> u64 {
    read(libc::CLOCK_REALTIME_COARSE).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    })
}

/// The wall clock to the millisecond: the coarse clock (`now_ms`) ticks in
/// 4 ms steps, so two fetches by two processes one after the other could
/// get one stamp, and "fetched later" (Record::is_newer_than) would not
/// hold for the later one. Status reads it too: a time left counted from
/// the coarse clock (up to 4 ms behind) could exceed the token's lifetime.
pub(crate) fn precise_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or_else(
            |_| now_ms(),
            |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
        )
}

/// Monotonic milliseconds (since boot): for deadlines, never for expiry.
pub(crate) fn mono_ms() -> u64 {
    read(libc::CLOCK_MONOTONIC_COARSE).unwrap_or_else(|| {
        static START: once_cell::sync::Lazy<std::time::Instant> =
            once_cell::sync::Lazy::new(std::time::Instant::now);
        START.elapsed().as_millis() as u64
    })
}
