//! The `wxtoken` command: token, invalidate, status, ticket and jssdk for
//! shell scripts and cron jobs, `serve`, the control server for every language, and `mock`,
//! the offline WeChat simulator. Conversion only: all token logic is the
//! library's. Arguments are parsed by clap; its errors are rewritten so that
//! no argument's value is ever echoed (it may be a secret typed in the
//! wrong place).

mod mock;
mod serve;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind as ClapKind};
use clap::{Args, CommandFactory, Parser, Subcommand};
use serde_json::{Map, Value};
use wxtoken::{Config, Error, ErrorKind};

const AFTER_HELP: &str = "\
Each app option falls back to its environment variable (WXTOKEN_APPID,
WXTOKEN_NAME, WXTOKEN_PLATFORM, WXTOKEN_MODE, WXTOKEN_API_BASE, WXTOKEN_STORE,
WXTOKEN_KEY_PREFIX, WXTOKEN_REDIS_CA_FILE, WXTOKEN_REFRESH_MARGIN_S,
WXTOKEN_TIMEOUT_MS, WXTOKEN_WAIT_MS, WXTOKEN_SECRET_FILE); see wxtoken token --help.

The secret comes from WXTOKEN_SECRET or a secret file (at most 4096 bytes),
never from the command line, where every user of the machine can read it in `ps`.

EXIT CODES
  0 ok   2 usage or invalid argument   3 not configured
  10 credentials rejected   11 IP not allowed   12 quota exhausted
  13 upstream error   14 network error   15 timeout   16 bad response   17 store error
Errors go to stderr as `wxtoken: <what> (errcode N) [kind]`.

EXAMPLE
  wxtoken mock --port-file /tmp/wx.url &
  export WXTOKEN_APPID=wx0000000000demo WXTOKEN_SECRET=demo-secret-not-real
  export WXTOKEN_API_BASE=$(cat /tmp/wx.url) WXTOKEN_STORE=memory
  wxtoken token";

#[derive(Parser)]
#[command(
    name = "wxtoken",
    version,
    about = "wxtoken: one access_token per WeChat app, shared by every thread, process and host",
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Log records on stderr at this level and above: off, error, warn,
    /// info, debug. Default: WXTOKEN_LOG if set, else warn (serve: info)
    #[arg(long, global = true, value_name = "LEVEL", value_parser = parse_log_level)]
    log_level: Option<wxtoken::LogLevel>,
    /// text (timestamped lines) or json (one object a line). Default:
    /// WXTOKEN_LOG_FORMAT if set, else text
    #[arg(long, global = true, value_name = "text|json", value_parser = parse_log_format)]
    log_format: Option<wxtoken::LogFormat>,
}

fn parse_log_level(s: &str) -> Result<wxtoken::LogLevel, String> {
    s.parse()
        .map_err(|_| "off, error, warn, info or debug".to_string())
}

fn parse_log_format(s: &str) -> Result<wxtoken::LogFormat, String> {
    match s {
        "text" => Ok(wxtoken::LogFormat::Text),
        "json" => Ok(wxtoken::LogFormat::Json),
        _ => Err("text or json".to_string()),
    }
}

/// The library's records go to stderr: the flags, else the environment,
/// else warn (info for `serve`, a daemon whose refreshes ops want to see).
fn set_up_logging(cli: &Cli) {
    let serving = matches!(cli.command, Some(Command::Serve(_)));
    let level = cli
        .log_level
        .unwrap_or_else(|| match std::env::var("WXTOKEN_LOG") {
            Ok(v) => wxtoken::LogLevel::from_env_value(&v),
            Err(_) if serving => wxtoken::LogLevel::Info,
            Err(_) => wxtoken::LogLevel::Warn,
        });
    // The library's reading of WXTOKEN_LOG_FORMAT, unless the flag says.
    let format = cli.log_format.unwrap_or_else(wxtoken::log_stderr_format);
    wxtoken::set_log_stderr(level, format);
}

/// A record of the command itself (serve's lifecycle), in the library's format.
pub(crate) fn say(level: wxtoken::LogLevel, event: &'static str, message: impl Into<String>) {
    wxtoken::emit_log(wxtoken::LogRecord::new(level, event, "", message));
}

/// The command's own outcome on stderr (a failure, `serve --check`): with
/// `--log-format json` a record, so every line parses, unless its level is
/// off there; else the plain line `{who}: {message}`, which must not be lost.
pub(crate) fn tell(who: &str, rec: wxtoken::LogRecord) {
    let json = wxtoken::log_stderr_format() == wxtoken::LogFormat::Json;
    if json && rec.level <= wxtoken::log_stderr_level() {
        wxtoken::emit_log(rec);
    } else {
        eprintln!("{who}: {}", rec.message);
    }
}

#[derive(Subcommand)]
enum Command {
    /// Print a valid access_token
    #[command(after_help = AFTER_HELP)]
    Token(AppArgs),
    /// Report T as refused by a business call (40001/40014/42001); print the good token
    #[command(after_help = AFTER_HELP)]
    Invalidate {
        /// The token a business call refused. Every local user can read a
        /// command line (ps, /proc): prefer --token-file
        #[arg(long, value_name = "T")]
        token: Option<String>,
        /// Read the refused token from this file, "-" for standard input
        /// (printf %s "$T" | wxtoken invalidate --token-file -)
        #[arg(long, value_name = "PATH", conflicts_with = "token")]
        token_file: Option<PathBuf>,
        #[command(flatten)]
        app: AppArgs,
    },
    /// Print the app's ticket of --kind (jsapi, wx_card; WeCom: jsapi, agent_config)
    #[command(after_help = AFTER_HELP)]
    Ticket {
        /// jsapi, wx_card or agent_config
        #[arg(long, value_name = "KIND")]
        kind: String,
        #[command(flatten)]
        app: AppArgs,
    },
    /// Print the wx.config object (JSON) for the page at --url, signed with the jsapi ticket
    #[command(after_help = AFTER_HELP)]
    Jssdk {
        /// The page's URL (its #fragment is not signed)
        #[arg(long, value_name = "URL")]
        url: String,
        #[command(flatten)]
        app: AppArgs,
    },
    /// Print the app's state as JSON; without a secret (or with --all),
    /// what the store holds
    #[command(after_help = STATUS_HELP)]
    Status {
        /// Every app in the store, read without any secret
        #[arg(long)]
        all: bool,
        /// A table for people instead of JSON
        #[arg(long)]
        table: bool,
        #[command(flatten)]
        app: AppArgs,
    },
    /// The central control server: apps and clients from one file (docs/serve.md)
    Serve(serve::ServeArgs),
    /// Run the offline WeChat simulator (see: wxtoken mock --help)
    #[command(long_about = mock::LONG_ABOUT)]
    Mock(mock::MockArgs),
}

/// What a command that configures the app then does.
enum Op {
    Token,
    Invalidate(Option<String>),
    Status,
    Ticket(String),
    Jssdk(String),
}

/// The app options of token, invalidate, status, ticket and jssdk. Each is handed to the
/// library as given (it falls back to WXTOKEN_*, checks ranges, and words
/// the errors); numbers stay text so those messages are the library's.
#[derive(Args)]
struct AppArgs {
    /// appid (WeCom: corpid) [env: WXTOKEN_APPID]
    #[arg(long, value_name = "ID")]
    appid: Option<String>,
    /// App name (default: the appid) [env: WXTOKEN_NAME]
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// mp or wecom, default mp [env: WXTOKEN_PLATFORM]
    #[arg(long, value_name = "mp|wecom")]
    platform: Option<String>,
    /// token or stable, default token [env: WXTOKEN_MODE]
    #[arg(long, value_name = "token|stable")]
    mode: Option<String>,
    /// Default the platform's https host; plain http only to loopback [env: WXTOKEN_API_BASE]
    #[arg(long, value_name = "URL")]
    api_base: Option<String>,
    /// file (default: one token for every process of this host, in
    /// /dev/shm/wxtoken-UID), file:/dir, memory, redis://[user@]host:port/db,
    /// rediss://... (a fleet; give a URL with a password through
    /// WXTOKEN_STORE, not here) [env: WXTOKEN_STORE]
    #[arg(long, value_name = "SPEC")]
    store: Option<String>,
    /// Redis key prefix, default wxtoken [env: WXTOKEN_KEY_PREFIX]
    #[arg(long, value_name = "P")]
    key_prefix: Option<String>,
    /// CA of a rediss:// server (PEM) [env: WXTOKEN_REDIS_CA_FILE]
    #[arg(long, value_name = "PATH")]
    redis_ca_file: Option<String>,
    /// Default 300, 0 to 7200 [env: WXTOKEN_REFRESH_MARGIN_S]
    #[arg(long, value_name = "N")]
    refresh_margin_s: Option<String>,
    /// Default 5000, 1 to 60000 [env: WXTOKEN_TIMEOUT_MS]
    #[arg(long, value_name = "N")]
    timeout_ms: Option<String>,
    /// Default 10000, 0 to 600000 [env: WXTOKEN_WAIT_MS]
    #[arg(long, value_name = "N")]
    wait_ms: Option<String>,
    /// Fetches per day (from 00:00 Beijing time), all processes of the store together; default
    /// 500, 1 to 2000 [env: WXTOKEN_DAILY_FETCH_BUDGET]
    #[arg(long, value_name = "N")]
    daily_fetch_budget: Option<String>,
    /// File holding the secret (at most 4096 bytes) [env: WXTOKEN_SECRET_FILE];
    /// or set WXTOKEN_SECRET
    #[arg(long, value_name = "PATH")]
    secret_file: Option<String>,
    /// Refused: a secret on the command line is visible in ps.
    #[arg(long, hide = true, num_args = 0..=1, value_name = "SECRET")]
    secret: Option<Option<String>>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(e),
    };
    set_up_logging(&cli);
    let (op, app) = match cli.command {
        None => {
            let _ = Cli::command().print_help();
            return ExitCode::SUCCESS;
        }
        Some(Command::Mock(args)) => return mock::run(&args),
        Some(Command::Serve(args)) => {
            return match serve::run(&args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(serve::Fatal(code, msg)) => {
                    let rec =
                        wxtoken::LogRecord::new(wxtoken::LogLevel::Error, "serve_failed", "", msg)
                            .with("exit_code", code);
                    tell("wxtoken serve", rec);
                    ExitCode::from(code)
                }
            }
        }
        Some(Command::Token(app)) => (Op::Token, app),
        Some(Command::Ticket { kind, app }) => (Op::Ticket(kind), app),
        Some(Command::Jssdk { url, app }) => (Op::Jssdk(url), app),
        Some(Command::Status { all, table, app }) => {
            if all || !has_secret(&app) {
                return report(store_view(&app, all, table));
            }
            (Op::Status, app)
        }
        Some(Command::Invalidate {
            token,
            token_file,
            app,
        }) => match token_file.map(|p| read_token_file(&p)).transpose() {
            Ok(from_file) => (Op::Invalidate(from_file.or(token)), app),
            Err(err) => return report(Err(err)),
        },
    };
    report(run(op, app))
}

/// clap's help and version as clap prints them; its errors reworded so that
/// they name a flag at most, never a value.
fn clap_exit(e: clap::Error) -> ExitCode {
    match e.kind() {
        ClapKind::DisplayHelp
        | ClapKind::DisplayVersion
        | ClapKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => Some(s.as_str()),
        _ => None,
    };
    // A flag's name (before any '='), never what follows it.
    let flag = arg
        .filter(|a| a.starts_with("--"))
        .map(|a| a.split(['=', ' ']).next().unwrap_or(a));
    let msg = match (e.kind(), flag) {
        (ClapKind::InvalidSubcommand, _) => "unknown command (the first argument must be token, \
             invalidate, status, ticket, jssdk, serve or mock; try: wxtoken --help)"
            .to_string(),
        (ClapKind::UnknownArgument, Some(flag)) => {
            format!("unknown flag '{flag}' (try: wxtoken --help)")
        }
        (ClapKind::UnknownArgument, None) => "unexpected argument (its value is not shown; \
             flags start with --, try: wxtoken --help)"
            .to_string(),
        (ClapKind::InvalidValue, Some(flag)) if matches!(e.get(ContextKind::InvalidValue), Some(ContextValue::String(v)) if v.is_empty()) =>
        {
            format!("{flag} needs a value")
        }
        // A value parser of ours: its message says what the flag takes,
        // never what was given.
        (ClapKind::ValueValidation, Some(flag)) if std::error::Error::source(&e).is_some() => {
            let why = std::error::Error::source(&e).map(ToString::to_string);
            format!("{flag}: {} (try: wxtoken --help)", why.unwrap_or_default())
        }
        (ClapKind::MissingRequiredArgument | ClapKind::MissingSubcommand, _) => {
            // Names only: clap's own text.
            let _ = e.print();
            return ExitCode::from(2);
        }
        (kind, Some(flag)) => format!(
            "{} ('{flag}'; try: wxtoken --help)",
            kind.as_str().unwrap_or("invalid arguments")
        ),
        (kind, None) => format!(
            "{} (try: wxtoken --help)",
            kind.as_str().unwrap_or("invalid arguments")
        ),
    };
    eprintln!("wxtoken: {msg}");
    ExitCode::from(2)
}

fn run(op: Op, app: AppArgs) -> Result<String, Error> {
    let usage = |msg: &str| Error::new(ErrorKind::InvalidArgument, msg);
    if app.secret.is_some() {
        return Err(usage(
            "--secret is refused: a secret on the command line is visible in ps; \
             set WXTOKEN_SECRET or use --secret-file",
        ));
    }
    if let Some(store) = &app.store {
        if url::Url::parse(store).is_ok_and(|u| u.password().is_some()) {
            return Err(usage(
                "--store with a password is refused: a command line is visible in ps; \
                 give the URL in WXTOKEN_STORE",
            ));
        }
    }
    let secret = match &app.secret_file {
        Some(path) => Some(wxtoken::read_secret_file(path)?),
        None => None,
    };
    let cfg = Config::from_options(app.appid.as_deref(), secret.as_deref(), &options(&app))?;
    let name = wxtoken::configure(cfg)?;
    match op {
        Op::Token => wxtoken::get(&name).map(|t| t.to_string()),
        Op::Invalidate(bad_token) => {
            let bad = bad_token
                .ok_or_else(|| usage("invalidate needs --token-file PATH (or --token T)"))?;
            wxtoken::invalidate(&name, &bad).map(|t| t.to_string())
        }
        Op::Ticket(kind) => wxtoken::get_ticket(&name, kind.parse()?).map(|t| t.to_string()),
        Op::Jssdk(url) => wxtoken::jssdk_config(&name, &url).map(|c| c.to_json().to_string()),
        Op::Status => {
            wxtoken::status(&name).map(|s| serde_json::to_string_pretty(&s).unwrap_or_default())
        }
    }
}

const STATUS_HELP: &str = "\
With a secret (WXTOKEN_SECRET, WXTOKEN_SECRET_FILE or --secret-file), status
is this process's view of the app: its settings, the token's timing, the
last error, counters. Without one, or with --all, it is what the store
holds, which needs no secret: per app, the generation, expiry, the next
refresh (at the default 300 s margin), when and by whom (host, pid) the
token was fetched, fetches today and a shared cool-down. Never a token.

The store options (--store, --key-prefix, --redis-ca-file) fall back to
WXTOKEN_STORE, WXTOKEN_KEY_PREFIX and WXTOKEN_REDIS_CA_FILE.";

fn has_secret(app: &AppArgs) -> bool {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    app.secret_file.is_some() || set("WXTOKEN_SECRET") || set("WXTOKEN_SECRET_FILE")
}

/// Prints the outcome as main does for the other commands.
fn report(outcome: Result<String, Error>) -> ExitCode {
    match outcome {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            let code = exit_code(err.kind());
            let rec = wxtoken::LogRecord::new(
                wxtoken::LogLevel::Error,
                "command_failed",
                "",
                format!("{err} [{}]", err.kind().as_str()),
            )
            .with("kind", err.kind().as_str())
            .with("exit_code", code);
            tell("wxtoken", rec);
            ExitCode::from(code)
        }
    }
}

/// What the store holds: every app, or the one --appid names (all of its
/// platforms and modes unless given), as JSON or a table.
fn store_view(app: &AppArgs, all: bool, table: bool) -> Result<String, Error> {
    let mut apps = wxtoken::inspect(&options(app))?;
    if !all {
        let appid = app
            .appid
            .clone()
            .or_else(|| std::env::var("WXTOKEN_APPID").ok())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    "status without a secret shows what the store holds: give --appid, or --all",
                )
            })?;
        let matches = |v: &Value, field: &str, want: &Option<String>| {
            want.as_ref().is_none_or(|w| v[field] == w.as_str())
        };
        apps.retain(|v| {
            v["appid"] == appid.as_str()
                && matches(v, "platform", &app.platform)
                && matches(v, "mode", &app.mode)
        });
    }
    if table {
        return Ok(store_table(&apps));
    }
    Ok(serde_json::to_string_pretty(&apps).unwrap_or_default())
}

fn store_table(apps: &[Value]) -> String {
    let secs = |v: &Value| {
        v.as_u64()
            .map_or("-".to_string(), |ms| format!("{}s", ms / 1000))
    };
    let mut rows = vec![[
        "APPID",
        "PLATFORM",
        "MODE",
        "GEN",
        "EXPIRES IN",
        "REFRESH IN",
        "FETCHED BY",
        "TODAY",
        "COOL-DOWN",
    ]
    .map(String::from)];
    for a in apps {
        let (t, s) = (&a["token"], &a["shared"]);
        let by = &s["last_fetch"];
        rows.push([
            a["appid"].as_str().unwrap_or("?").to_string(),
            a["platform"].as_str().unwrap_or("?").to_string(),
            a["mode"].as_str().unwrap_or("?").to_string(),
            t["generation"]
                .as_u64()
                .map_or("-".into(), |g| g.to_string()),
            secs(&t["expires_in_ms"]),
            secs(&t["refresh_in_ms_at_default_margin"]),
            match (by["host"].as_str(), by["pid"].as_u64()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                _ => "-".into(),
            },
            s["fetches_today"]
                .as_u64()
                .map_or("-".into(), |n| n.to_string()),
            s["cooldown"]["kind"].as_str().unwrap_or("-").to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.pop();
    out
}

/// The refused token from a file or stdin ("-"): at most 64 KiB, without
/// the line end an `echo` adds.
fn read_token_file(path: &Path) -> Result<String, Error> {
    const MAX: u64 = 64 * 1024;
    let usage = |msg: &str| Error::new(ErrorKind::InvalidArgument, msg);
    let shown = path.display();
    let mut text = String::new();
    let read = if path == Path::new("-") {
        std::io::stdin().take(MAX + 1).read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX + 1).read_to_string(&mut text))
    };
    read.map_err(|e| usage(&format!("cannot read the token from {shown}: {}", e.kind())))?;
    if text.len() as u64 > MAX {
        return Err(usage(&format!(
            "{shown} holds over {MAX} bytes: not a token"
        )));
    }
    let token = text.trim_end_matches(['\n', '\r']);
    if token.is_empty() {
        return Err(usage(&format!("{shown} holds no token")));
    }
    Ok(token.to_string())
}

/// The flags given, as library options (their names are OPTION_NAMES).
fn options(app: &AppArgs) -> Map<String, Value> {
    let given = [
        ("name", &app.name),
        ("platform", &app.platform),
        ("mode", &app.mode),
        ("api_base", &app.api_base),
        ("store", &app.store),
        ("key_prefix", &app.key_prefix),
        ("redis_ca_file", &app.redis_ca_file),
        ("refresh_margin_s", &app.refresh_margin_s),
        ("timeout_ms", &app.timeout_ms),
        ("wait_ms", &app.wait_ms),
        ("daily_fetch_budget", &app.daily_fetch_budget),
    ];
    given
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), Value::String(v.clone()?))))
        .collect()
}

/// Writes beside the target, then renames, so a reader never sees a partial file.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn port_file_is_written_whole() {
        let dir = std::env::temp_dir().join(format!("wxtoken-cli-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("url");
        write_atomically(&path, "http://127.0.0.1:1").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "http://127.0.0.1:1"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
