//! Prometheus text for GET /metrics: this server's request counts, and each
//! app's counters and token timing from the library's status (never a token).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// The route labels of the request counters (routes.rs names them).
const ROUTES: [&str; 12] = [
    "healthz",
    "readyz",
    "metrics",
    "apps",
    "token",
    "invalidate",
    "status",
    "ticket",
    "ticket_invalidate",
    "jssdk",
    "compat",
    "unknown",
];
/// HTTP statuses are below 600.
const STATUSES: usize = 600;

pub struct Metrics {
    /// Requests by route and HTTP status, `route * STATUSES + status`:
    /// atomics, since every request counts one and a lock here was shared
    /// by every worker thread.
    requests: Box<[AtomicU64]>,
    /// (app, error kind) -> token requests that failed.
    failures: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// (app, source) -> reports of a bad token (source: api or compat).
    reports: Mutex<BTreeMap<(String, &'static str), u64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: (0..ROUTES.len() * STATUSES)
                .map(|_| AtomicU64::new(0))
                .collect(),
            failures: Mutex::default(),
            reports: Mutex::default(),
        }
    }
}

impl Metrics {
    pub fn request(&self, route: &'static str, status: u16) {
        let r = ROUTES
            .iter()
            .position(|&l| l == route)
            .unwrap_or(ROUTES.len() - 1);
        let s = usize::from(status).min(STATUSES - 1);
        self.requests[r * STATUSES + s].fetch_add(1, Ordering::Relaxed);
    }
    pub fn failure(&self, app: &str, kind: wxtoken::ErrorKind) {
        *self
            .failures
            .lock()
            .entry((app.to_string(), kind.as_str()))
            .or_default() += 1;
    }
    pub fn report(&self, app: &str, source: &'static str) {
        *self
            .reports
            .lock()
            .entry((app.to_string(), source))
            .or_default() += 1;
    }

    /// The exposition text; `apps` are the configured app names.
    pub fn render(&self, apps: &[String]) -> String {
        let mut out = String::new();
        out.push_str("# TYPE wxtoken_serve_requests_total counter\n");
        for (i, n) in self.requests.iter().enumerate() {
            let n = n.load(Ordering::Relaxed);
            if n == 0 {
                continue;
            }
            let (route, status) = (ROUTES[i / STATUSES], i % STATUSES);
            let _ = writeln!(
                out,
                "wxtoken_serve_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# TYPE wxtoken_serve_token_failures_total counter\n");
        for ((app, kind), n) in self.failures.lock().iter() {
            let _ = writeln!(
                out,
                "wxtoken_serve_token_failures_total{{app=\"{}\",kind=\"{kind}\"}} {n}",
                label(app)
            );
        }
        out.push_str("# TYPE wxtoken_serve_bad_token_reports_total counter\n");
        for ((app, source), n) in self.reports.lock().iter() {
            let _ = writeln!(
                out,
                "wxtoken_serve_bad_token_reports_total{{app=\"{}\",source=\"{source}\"}} {n}",
                label(app)
            );
        }
        let gauges = [
            ("wxtoken_fetches_total", "counter", "upstream_calls"),
            (
                "wxtoken_fetch_failures_total",
                "counter",
                "upstream_failures",
            ),
            ("wxtoken_invalidations_total", "counter", "invalidations"),
            ("wxtoken_refreshes_total", "counter", "refreshes"),
            (
                "wxtoken_refresh_failures_total",
                "counter",
                "refresh_failures",
            ),
            (
                "wxtoken_credentials_rejections_total",
                "counter",
                "credentials_rejections",
            ),
            ("wxtoken_cooldowns_total", "counter", "cooldowns"),
        ];
        let statuses: Vec<_> = apps
            .iter()
            .filter_map(|a| wxtoken::status(a).ok().map(|s| (a, s)))
            .collect();
        for (metric, kind, field) in gauges {
            let _ = writeln!(out, "# TYPE {metric} {kind}");
            for (app, s) in &statuses {
                let n = s["stats"][field].as_u64().unwrap_or(0);
                let _ = writeln!(out, "{metric}{{app=\"{}\"}} {n}", label(app));
            }
        }
        // What an alert on "credentials rejected" or a stuck refresh reads:
        // how long this process still holds off refreshing, and how many
        // refreshes in a row have failed.
        out.push_str("# TYPE wxtoken_cooldown_seconds gauge\n");
        for (app, s) in &statuses {
            let ms = s["cooldown_ms"].as_u64().unwrap_or(0);
            let _ = writeln!(
                out,
                "wxtoken_cooldown_seconds{{app=\"{}\"}} {}",
                label(app),
                ms as f64 / 1000.0
            );
        }
        out.push_str("# TYPE wxtoken_failures_in_row gauge\n");
        for (app, s) in &statuses {
            let n = s["failures_in_row"].as_u64().unwrap_or(0);
            let _ = writeln!(out, "wxtoken_failures_in_row{{app=\"{}\"}} {n}", label(app));
        }
        out.push_str("# TYPE wxtoken_token_expires_in_seconds gauge\n");
        for (app, s) in &statuses {
            if let Some(ms) = s["token"]["expires_in_ms"].as_u64() {
                let _ = writeln!(
                    out,
                    "wxtoken_token_expires_in_seconds{{app=\"{}\"}} {}",
                    label(app),
                    ms / 1000
                );
            }
        }
        out
    }
}

/// A label value as the exposition format quotes it.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn label_values_are_escaped() {
        assert_eq!(super::label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
