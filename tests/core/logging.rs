//! Log records and ops events (docs/logging.md) against the simulator: a
//! refresh, a report, a ticket, a transient failure and rejected
//! credentials each make their record with its fields, on the program's
//! sink; no record holds a token or a secret. The sink is process-wide:
//! one capture for the binary, each test reading its own app's records.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;
use wxtoken::{LogLevel, LogRecord, TicketKind};
use wxtoken_mock::Fault;

use crate::support::*;

const WRONG: &str = "wrong-Secret-Never-Logged-77";

/// Each record with the name of the thread the sink got it on (asserted
/// by the reader: a panic inside the sink would only lose the record).
type Seen = Arc<Mutex<Vec<(LogRecord, Option<String>)>>>;

fn captured() -> &'static Seen {
    static SEEN: OnceLock<Seen> = OnceLock::new();
    SEEN.get_or_init(|| {
        let seen = Seen::default();
        let sink = seen.clone();
        wxtoken::set_log_sink(LogLevel::Debug, move |r| {
            let thread = std::thread::current().name().map(str::to_owned);
            sink.lock().unwrap().push((r.clone(), thread));
        });
        seen
    })
}

/// The records about `app` so far, after the sink has had them all.
fn records_of(app: &str) -> Vec<LogRecord> {
    let seen = captured();
    assert!(wxtoken::flush_log(Duration::from_secs(5)), "delivered");
    let all = seen.lock().unwrap();
    all.iter()
        .filter(|(r, _)| r.app == app)
        .map(|(r, thread)| {
            assert_eq!(
                thread.as_deref(),
                Some("wxtoken-log"),
                "sinks run on wxtoken's log thread: {}",
                r.event
            );
            r.clone()
        })
        .collect()
}

fn events(records: &[LogRecord]) -> Vec<&str> {
    records.iter().map(|r| r.event).collect()
}

fn find<'a>(records: &'a [LogRecord], event: &str) -> Vec<&'a LogRecord> {
    records.iter().filter(|r| r.event == event).collect()
}

/// Neither form of any record holds one of `needles`.
fn assert_clean(records: &[LogRecord], needles: &[&str]) {
    for r in records {
        let (text, json) = (r.to_text(), r.to_json().to_string());
        for n in needles {
            assert!(!text.contains(n) && !json.contains(n), "{n} in {text}");
        }
    }
}

#[test]
fn a_refresh_a_report_and_a_ticket_are_told_with_their_fields() {
    captured();
    let id = appid("logok");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |_| {});
    let first = wxtoken::get(&app).unwrap();
    let second = wxtoken::invalidate(&app, &first).unwrap();
    let ticket = wxtoken::get_ticket(&app, TicketKind::Jsapi).unwrap();

    let recs = records_of(&app);
    let refreshed = find(&recs, "token_refreshed");
    assert_eq!(refreshed.len(), 2, "{:?}", events(&recs));
    let one = refreshed[0];
    assert_eq!(one.level, LogLevel::Info);
    assert_eq!(one.fields["generation"], 1);
    assert_eq!(one.fields["expires_in_s"], 7200);
    assert!(one.fields["duration_ms"].is_u64(), "{:?}", one.fields);
    assert_eq!(one.fields["reason"], "expiring");
    assert_eq!(refreshed[1].fields["generation"], 2);
    assert_eq!(refreshed[1].fields["reason"], "invalid");
    let reported = find(&recs, "token_invalidated");
    assert_eq!(reported.len(), 1, "{:?}", events(&recs));
    assert_eq!(reported[0].fields["generation"], 1);
    let tickets = find(&recs, "ticket_refreshed");
    assert_eq!(tickets.len(), 1, "{:?}", events(&recs));
    assert_eq!(tickets[0].fields["ticket"], "jsapi");
    assert_eq!(tickets[0].app, app, "a ticket's record names its app");

    let st = wxtoken::status(&app).unwrap();
    assert_eq!(st["stats"]["refreshes"], 2, "{st}");
    assert_eq!(st["stats"]["refresh_failures"], 0, "{st}");
    assert_eq!(st["failures_in_row"], 0, "{st}");
    assert_clean(&recs, &[SECRET, &first, &second, &ticket]);
}

#[test]
fn rejected_credentials_are_an_error_record_and_counted() {
    captured();
    let id = appid("logbad");
    let server = mock_for(&id, 7200, 300);
    let app = configure(&server, &id, |c| c.secret = wxtoken::Secret::new(WRONG));
    let err = wxtoken::get(&app).unwrap_err();
    assert_eq!(err.errcode(), 40125);

    let recs = records_of(&app);
    let rejected = find(&recs, "credentials_rejected");
    assert_eq!(rejected.len(), 1, "{:?}", events(&recs));
    assert_eq!(rejected[0].level, LogLevel::Error);
    assert_eq!(rejected[0].fields["errcode"], 40125);
    assert_eq!(rejected[0].fields["kind"], "credentials_rejected");
    let failed = find(&recs, "refresh_failed");
    assert_eq!(failed.len(), 1, "{:?}", events(&recs));
    assert_eq!(failed[0].level, LogLevel::Warn);
    assert_eq!(failed[0].fields["errcode"], 40125);
    assert_eq!(failed[0].fields["failures_in_row"], 1);
    assert!(failed[0].fields["cooldown_ms"].as_u64().unwrap() > 0);
    assert_eq!(find(&recs, "cooldown_began").len(), 1);

    let st = wxtoken::status(&app).unwrap();
    assert_eq!(st["stats"]["credentials_rejections"], 1, "{st}");
    assert_eq!(st["stats"]["refresh_failures"], 1, "{st}");
    assert_eq!(st["stats"]["cooldowns"], 1, "{st}");
    assert_eq!(st["failures_in_row"], 1, "{st}");
    assert!(st["failing_since_ms"].is_u64(), "{st}");
    assert_clean(&recs, &[WRONG, SECRET]);
}

#[test]
fn a_transient_failure_is_retried_and_told() {
    captured();
    let id = appid("logbusy");
    let server = mock_for(&id, 7200, 300);
    server.set_fault(Fault::Busy, Some(1));
    let app = configure(&server, &id, |_| {});
    let token = wxtoken::get(&app).unwrap();
    let recs = records_of(&app);
    let retry = find(&recs, "refresh_retry");
    assert_eq!(retry.len(), 1, "{:?}", events(&recs));
    assert_eq!(retry[0].fields["errcode"], -1);
    assert_eq!(retry[0].fields["attempt"], 1);
    assert!(retry[0].fields["delay_ms"].is_u64());
    assert_eq!(find(&recs, "token_refreshed").len(), 1);
    assert_clean(&recs, &[SECRET, &token]);
}

/// A transient failure that outlasts the retries: a failed refresh with a
/// short backoff, not a cool-down in `stats.cooldowns` (credentials, IP and
/// quota failures are).
#[test]
fn a_failed_transient_refresh_is_no_cooldown_in_the_counters() {
    let id = appid("logoutage");
    let server = mock_for(&id, 7200, 300);
    server.set_fault(Fault::Busy, None);
    let app = configure(&server, &id, |_| {});
    let err = wxtoken::get(&app).expect_err("the upstream is busy");
    assert_eq!(err.errcode(), -1, "{err}");
    server.set_fault(Fault::None, None);
    let st = wxtoken::status(&app).unwrap();
    assert_eq!(st["stats"]["refresh_failures"], 1, "{st}");
    assert_eq!(st["stats"]["cooldowns"], 0, "{st}");
}

/// `wxtoken --log-format json`: every stderr line is a JSON object with a
/// timestamp, the events are there, and neither secret nor token is.
#[test]
fn the_cli_logs_json_lines() {
    let id = appid("logcli");
    let server = mock_for(&id, 7200, 300);
    let out = wxtoken_cli(
        &server,
        &id,
        &[
            "--log-format",
            "json",
            "--log-level",
            "debug",
            "token",
            "--store",
            "memory",
        ],
    )
    .output()
    .unwrap();
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let lines: Vec<Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect();
    let refreshed = lines
        .iter()
        .find(|l| l["event"] == "token_refreshed")
        .unwrap_or_else(|| panic!("no token_refreshed in {err}"));
    assert_eq!(refreshed["level"], "info");
    assert_eq!(refreshed["app"], id.as_str());
    assert_eq!(refreshed["generation"], 1);
    for l in &lines {
        let ts = l["ts"].as_str().expect("a timestamp");
        assert!(
            ts.len() == 24 && ts.ends_with('Z') && ts.as_bytes()[10] == b'T',
            "{ts}"
        );
        assert!(l["ts_ms"].is_u64());
    }
    assert!(!err.contains(SECRET) && !err.contains(&token), "{err}");

    let out = wxtoken_cli(&server, &id, &["token", "--store", "memory"])
        .env("WXTOKEN_SECRET", WRONG)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(10));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    // The default level (warn), as text lines with a timestamp.
    let rejected = err
        .lines()
        .find(|l| l.contains(" ERROR credentials_rejected "))
        .unwrap_or_else(|| panic!("no credentials_rejected in {err}"));
    assert!(
        rejected.starts_with("20") && rejected.as_bytes()[10] == b'T',
        "{rejected}"
    );
    assert!(!err.contains(WRONG), "{err}");
    assert!(
        !err.contains(" INFO "),
        "info is below the default level: {err}"
    );
    // The same failure with JSON logs, chosen by the environment as a
    // program linking the library would: every line a record, the
    // command's own verdict included.
    let out = wxtoken_cli(&server, &id, &["token", "--store", "memory"])
        .env("WXTOKEN_SECRET", WRONG)
        .env("WXTOKEN_LOG", "info")
        .env("WXTOKEN_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(10));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let lines: Vec<Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect();
    let event = |e: &str| lines.iter().find(|l| l["event"] == e);
    let rejected = event("credentials_rejected").unwrap_or_else(|| panic!("{err}"));
    assert_eq!(rejected["errcode"], 40125);
    let failed = event("command_failed").unwrap_or_else(|| panic!("{err}"));
    assert_eq!(failed["level"], "error");
    assert_eq!(failed["exit_code"], 10);
    assert_eq!(failed["kind"], "credentials_rejected");
    assert!(!err.contains(WRONG), "{err}");
}
