//! The `wxtoken` command: token, invalidate and status for shell scripts and
//! cron jobs, `serve`, the control server for every language, and `mock`,
//! the offline WeChat simulator. Conversion only: all token logic is the
//! library's. Arguments are parsed by clap; its errors are rewritten so that
//! no argument's value is ever echoed (it may be a secret typed in the
//! wrong place).

mod mock;
mod serve;

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
}

#[derive(Subcommand)]
enum Command {
    /// Print a valid access_token
    #[command(after_help = AFTER_HELP)]
    Token(AppArgs),
    /// Report T as refused by a business call (40001/40014/42001); print the good token
    #[command(after_help = AFTER_HELP)]
    Invalidate {
        /// The token a business call refused
        #[arg(long, value_name = "T")]
        token: Option<String>,
        #[command(flatten)]
        app: AppArgs,
    },
    /// Print the app's state as JSON
    #[command(after_help = AFTER_HELP)]
    Status(AppArgs),
    /// The central control server: apps and clients from one file (docs/serve.md)
    Serve(serve::ServeArgs),
    /// Run the offline WeChat simulator (see: wxtoken mock --help)
    #[command(long_about = mock::LONG_ABOUT)]
    Mock(mock::MockArgs),
}

/// The app options of token, invalidate and status. Each is handed to the
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
    let (cmd, app, bad_token) = match cli.command {
        None => {
            let _ = Cli::command().print_help();
            return ExitCode::SUCCESS;
        }
        Some(Command::Mock(args)) => return mock::run(&args),
        Some(Command::Serve(args)) => {
            return match serve::run(&args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(serve::Fatal(code, msg)) => {
                    eprintln!("wxtoken serve: {msg}");
                    ExitCode::from(code)
                }
            }
        }
        Some(Command::Token(app)) => ("token", app, None),
        Some(Command::Status(app)) => ("status", app, None),
        Some(Command::Invalidate { token, app }) => ("invalidate", app, token),
    };
    match run(cmd, app, bad_token) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("wxtoken: {err} [{}]", err.kind().as_str());
            ExitCode::from(exit_code(err.kind()))
        }
    }
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
             invalidate, status, serve or mock; try: wxtoken --help)"
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

fn run(cmd: &str, app: AppArgs, bad_token: Option<String>) -> Result<String, Error> {
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
    match cmd {
        "token" => wxtoken::get(&name).map(|t| t.to_string()),
        "invalidate" => {
            let bad = bad_token.ok_or_else(|| usage("invalidate needs --token T"))?;
            wxtoken::invalidate(&name, &bad).map(|t| t.to_string())
        }
        _ => wxtoken::status(&name).map(|s| serde_json::to_string_pretty(&s).unwrap_or_default()),
    }
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
