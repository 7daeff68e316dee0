//! One log record: a level, a stable event name, the app it is about and
//! typed fields, written as a text line or a JSON object. Fields hold
//! numbers and wxtoken's own words; never a token, never a secret (every
//! record is built from wxtoken's errors, which hold neither).

use serde_json::{Map, Value};

use super::LogLevel;

/// What wxtoken reports: see docs/logging.md for the events and fields.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRecord {
    pub level: LogLevel,
    /// A stable name, e.g. "token_refreshed", "credentials_rejected".
    pub event: &'static str,
    /// The app's name ("" for a record about no app).
    pub app: String,
    /// The same facts in words, one line.
    pub message: String,
    /// Typed facts: generation, expires_in_s, duration_ms, errcode, kind...
    pub fields: Map<String, Value>,
    /// Wall-clock milliseconds since the epoch.
    pub at_ms: u64,
}

/// Keys the JSON form sets itself: a field may not take them.
const RESERVED: [&str; 7] = ["ts", "ts_ms", "level", "event", "app", "message", "pid"];

impl LogRecord {
    pub fn new(
        level: LogLevel,
        event: &'static str,
        app: &str,
        message: impl Into<String>,
    ) -> Self {
        LogRecord {
            level,
            event,
            app: app.to_string(),
            message: message.into(),
            fields: Map::new(),
            at_ms: crate::clock::precise_now_ms(),
        }
    }

    /// Adds a field (a reserved key gets a `field_` prefix).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.set(key, value);
        self
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        let key = if RESERVED.contains(&key) {
            format!("field_{key}")
        } else {
            key.to_string()
        };
        self.fields.insert(key, value.into());
    }

    /// One JSON object: ts (RFC 3339, UTC, ms), ts_ms, level, event, app,
    /// message, pid, then the fields.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("ts".into(), timestamp(self.at_ms).into());
        m.insert("ts_ms".into(), self.at_ms.into());
        m.insert("level".into(), self.level.as_str().into());
        m.insert("event".into(), self.event.into());
        m.insert("app".into(), self.app.clone().into());
        m.insert("message".into(), self.message.clone().into());
        m.insert("pid".into(), std::process::id().into());
        for (k, v) in &self.fields {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }

    /// One line for people: `TS wxtoken[PID] LEVEL EVENT APP: MESSAGE [k=v ...]`.
    pub fn to_text(&self) -> String {
        let mut line = format!(
            "{} wxtoken[{}] {} {}",
            timestamp(self.at_ms),
            std::process::id(),
            self.level.as_str().to_uppercase(),
            self.event
        );
        if !self.app.is_empty() {
            line.push(' ');
            line.push_str(&self.app);
        }
        line.push_str(": ");
        line.push_str(&self.message);
        if !self.fields.is_empty() {
            let kv: Vec<String> = self
                .fields
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            line.push_str(" [");
            line.push_str(&kv.join(" "));
            line.push(']');
        }
        // One record, one line, whatever a message quotes.
        line.replace(['\n', '\r'], " ")
    }
}

/// RFC 3339 in UTC to the millisecond, e.g. "2026-12-03T08:45:51.123Z".
pub fn timestamp(at_ms: u64) -> String {
    let secs = at_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        at_ms % 1000
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar, by 400-year eras of 146097 days.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of the era, 0..146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the year from March 1
    let mp = (5 * doy + 2) / 153; // month from March, 0..11
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(timestamp(1_796_287_551_123), "2026-12-03T08:45:51.123Z");
        assert_eq!(timestamp(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn a_record_is_one_line_and_one_object() {
        let r = LogRecord::new(LogLevel::Warn, "refresh_failed", "app", "bad\nline")
            .with("errcode", 40125)
            .with("level", "forged");
        let text = r.to_text();
        assert!(!text.contains('\n'), "{text}");
        assert!(
            text.contains(" WARN refresh_failed app: bad line [errcode=40125"),
            "{text}"
        );
        let j = r.to_json();
        assert_eq!(j["level"], "warn");
        assert_eq!(j["field_level"], "forged");
        assert_eq!(j["errcode"], 40125);
    }
}
