//! Per-app counters of what this process did, for `status`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde_json::{json, Value};

#[derive(Default)]
pub(crate) struct Stats {
    upstream_calls: AtomicU64,
    upstream_failures: AtomicU64,
    adopted: AtomicU64,
    invalidations: AtomicU64,
}

impl Stats {
    pub(crate) fn upstream_call(&self) {
        self.upstream_calls.fetch_add(1, Relaxed);
    }
    pub(crate) fn upstream_failure(&self) {
        self.upstream_failures.fetch_add(1, Relaxed);
    }
    pub(crate) fn adopted(&self) {
        self.adopted.fetch_add(1, Relaxed);
    }
    pub(crate) fn invalidation(&self) {
        self.invalidations.fetch_add(1, Relaxed);
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "upstream_calls": self.upstream_calls.load(Relaxed),
            "upstream_failures": self.upstream_failures.load(Relaxed),
            "records_adopted": self.adopted.load(Relaxed),
            "invalidations": self.invalidations.load(Relaxed),
        })
    }
}
