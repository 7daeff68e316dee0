//! The `wxtoken` command: token, invalidate and status for shell scripts and
//! cron jobs, and `mock`, the offline WeChat simulator. Conversion only: all
//! token logic is the library's.

use std::process::ExitCode;

use serde_json::{Map, Value};
use wxtoken::{Config, Error, ErrorKind};

const HELP: &str = "\
wxtoken: one access_token per WeChat app, shared by every thread, process and host

USAGE
  wxtoken token      [OPTIONS]            print a valid access_token
  wxtoken invalidate --token T [OPTIONS]  report T as refused by a business call
                                          (40001/40014/42001); print the good token
  wxtoken status     [OPTIONS]            print the app's state as JSON
  wxtoken mock       [MOCK OPTIONS]       run the offline WeChat simulator
                                          (see: wxtoken mock --help)
  wxtoken --help | --version

OPTIONS (each falls back to its environment variable)
  --appid ID             WXTOKEN_APPID     appid (WeCom: corpid)
  --name NAME            WXTOKEN_NAME      app name (default: the appid)
  --platform mp|wecom    WXTOKEN_PLATFORM  default mp
  --mode token|stable    WXTOKEN_MODE      default token
  --api-base URL         WXTOKEN_API_BASE  default the platform's https host;
                                           plain http only to loopback
  --store SPEC           WXTOKEN_STORE     file (default: one token for every process
                                           of this host, in /dev/shm/wxtoken-UID),
                                           file:/dir, memory, redis://[user@]host:port/db,
                                           rediss://... (a fleet; give a URL with a
                                           password through WXTOKEN_STORE, not here)
  --key-prefix P         WXTOKEN_KEY_PREFIX        Redis key prefix, default wxtoken
  --redis-ca-file PATH   WXTOKEN_REDIS_CA_FILE     CA of a rediss:// server (PEM)
  --refresh-margin-s N   WXTOKEN_REFRESH_MARGIN_S  default 300, 0 to 7200
  --timeout-ms N         WXTOKEN_TIMEOUT_MS        default 5000, 1 to 60000
  --wait-ms N            WXTOKEN_WAIT_MS           default 10000, 0 to 600000
  --daily-fetch-budget N WXTOKEN_DAILY_FETCH_BUDGET
                                                   fetches per UTC day, all processes
                                                   of the store together; default 500,
                                                   1 to 2000
  --secret-file PATH     WXTOKEN_SECRET_FILE       file holding the secret
                                                   (at most 4096 bytes)

  The secret comes from WXTOKEN_SECRET or a secret file, never from the
  command line, where every user of the machine can read it in `ps`.

EXIT CODES
  0 ok   2 usage or invalid argument   3 not configured
  10 credentials rejected   11 IP not allowed   12 quota exhausted
  13 upstream error   14 network error   15 timeout   16 bad response   17 store error
Errors go to stderr as `wxtoken: <what> (errcode N) [kind]`.

EXAMPLE
  wxtoken mock --port-file /tmp/wx.url &
  export WXTOKEN_APPID=wx0000000000demo WXTOKEN_SECRET=demo-secret-not-real
  export WXTOKEN_API_BASE=$(cat /tmp/wx.url) WXTOKEN_STORE=memory
  wxtoken token
";

/// Flags that map to library options.
const OPTION_FLAGS: [(&str, &str); 11] = [
    ("--name", "name"),
    ("--platform", "platform"),
    ("--mode", "mode"),
    ("--api-base", "api_base"),
    ("--store", "store"),
    ("--refresh-margin-s", "refresh_margin_s"),
    ("--timeout-ms", "timeout_ms"),
    ("--wait-ms", "wait_ms"),
    ("--key-prefix", "key_prefix"),
    ("--redis-ca-file", "redis_ca_file"),
    ("--daily-fetch-budget", "daily_fetch_budget"),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("-h" | "--help" | "help") => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Some("-V" | "--version") => {
            println!("wxtoken {}", wxtoken::VERSION);
            ExitCode::SUCCESS
        }
        Some("mock") => ExitCode::from(wxtoken::mock::run_cli(&args[1..]).clamp(0, 255) as u8),
        Some(cmd @ ("token" | "invalidate" | "status")) => match run(cmd, &args[1..]) {
            Ok(out) => {
                println!("{out}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("wxtoken: {err} [{}]", err.kind().as_str());
                ExitCode::from(exit_code(err.kind()))
            }
        },
        Some(_) => {
            // Not echoed: it may be a secret typed in the wrong place.
            eprintln!(
                "wxtoken: unknown command (the first argument must be token, invalidate, \
                 status or mock; try: wxtoken --help)"
            );
            ExitCode::from(2)
        }
    }
}

fn run(cmd: &str, args: &[String]) -> Result<String, Error> {
    let parsed = parse_flags(args)?;
    if cmd != "invalidate" && parsed.bad_token.is_some() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "--token goes with invalidate only",
        ));
    }
    let secret = match &parsed.secret_file {
        Some(path) => Some(wxtoken::read_secret_file(path)?),
        None => None,
    };
    let cfg = Config::from_options(parsed.appid.as_deref(), secret.as_deref(), &parsed.options)?;
    let app = wxtoken::configure(cfg)?;
    match cmd {
        "token" => wxtoken::get(&app).map(|t| t.to_string()),
        "invalidate" => {
            let bad = parsed.bad_token.ok_or_else(|| {
                Error::new(ErrorKind::InvalidArgument, "invalidate needs --token T")
            })?;
            wxtoken::invalidate(&app, &bad).map(|t| t.to_string())
        }
        _ => wxtoken::status(&app).map(|s| serde_json::to_string_pretty(&s).unwrap_or_default()),
    }
}

#[derive(Default)]
struct Flags {
    appid: Option<String>,
    bad_token: Option<String>,
    secret_file: Option<String>,
    options: Map<String, Value>,
}

fn parse_flags(args: &[String]) -> Result<Flags, Error> {
    let usage = |msg: String| Error::new(ErrorKind::InvalidArgument, msg);
    let mut flags = Flags::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        if flag == "--secret" {
            return Err(usage(
                "--secret is refused: a secret on the command line is visible in ps; \
                 set WXTOKEN_SECRET or use --secret-file"
                    .into(),
            ));
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| usage(format!("{flag} needs a value")))
        };
        match flag {
            "--appid" => flags.appid = Some(value()?),
            "--token" => flags.bad_token = Some(value()?),
            "--secret-file" => flags.secret_file = Some(value()?),
            "--store" => {
                let store = value()?;
                if url::Url::parse(&store).is_ok_and(|u| u.password().is_some()) {
                    return Err(usage(
                        "--store with a password is refused: a command line is visible in ps; \
                         give the URL in WXTOKEN_STORE"
                            .into(),
                    ));
                }
                flags.options.insert("store".into(), Value::String(store));
            }
            _ => match OPTION_FLAGS.iter().find(|(f, _)| *f == flag) {
                Some((_, key)) => {
                    flags
                        .options
                        .insert((*key).to_string(), Value::String(value()?));
                }
                // A flag's name is echoed, a bare argument's value never:
                // it may be a secret typed in the wrong place.
                None if flag.starts_with("--") => {
                    return Err(usage(format!(
                        "unknown flag '{flag}' (try: wxtoken --help)"
                    )))
                }
                None => {
                    return Err(usage(
                        "unexpected argument (its value is not shown; flags start with --, \
                         try: wxtoken --help)"
                            .into(),
                    ))
                }
            },
        }
    }
    Ok(flags)
}

fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidArgument => 2,
        ErrorKind::NotConfigured => 3,
        ErrorKind::CredentialsRejected => 10,
        ErrorKind::IpNotAllowed => 11,
        ErrorKind::QuotaExhausted => 12,
        ErrorKind::Upstream => 13,
        ErrorKind::Network => 14,
        ErrorKind::Timeout => 15,
        ErrorKind::BadResponse => 16,
        ErrorKind::Store => 17,
    }
}
