//! Configuration: one set of option names for every binding (docs/design.md,
//! "Configuration"). Bindings hand options over as a JSON object (C, PHP) or
//! as keyword arguments turned into one (Python); all are parsed here.

use std::fmt;
use std::io::Read;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use url::{Host, Url};

use crate::error::{Error, Result};

pub const DEFAULT_MP_API_BASE: &str = "https://api.weixin.qq.com";
pub const DEFAULT_WECOM_API_BASE: &str = "https://qyapi.weixin.qq.com";

/// The options `configure` accepts, besides appid and secret.
pub const OPTION_NAMES: [&str; 11] = [
    "name",
    "platform",
    "mode",
    "api_base",
    "store",
    "refresh_margin_s",
    "timeout_ms",
    "wait_ms",
    "key_prefix",
    "redis_ca_file",
    "daily_fetch_budget",
];

/// The range of each numeric option (README, "Configuration"). Bounded so
/// that no deadline computed from them can overflow, and so that a typo
/// (an extra digit, a negative number read as huge) is an error, not a
/// token refreshed 384 ms before expiry or a wait that ends at once.
pub const REFRESH_MARGIN_S_RANGE: RangeInclusive<u64> = 0..=7200;
pub const TIMEOUT_MS_RANGE: RangeInclusive<u64> = 1..=60_000;
pub const WAIT_MS_RANGE: RangeInclusive<u64> = 0..=600_000;
/// Fetches per app and platform day (from 00:00 Beijing time), for all processes of a store together. The
/// platform allows 2000 classic tokens a day; the default leaves most of
/// that to whoever else fetches with the same credentials.
pub const DAILY_FETCH_BUDGET_RANGE: RangeInclusive<u64> = 1..=2000;
pub const DEFAULT_DAILY_FETCH_BUDGET: u64 = 500;

/// A secret is 32 (WeChat) or 43 (WeCom) characters; a secret file larger
/// than this is the wrong file (or /dev/zero), and is not read further.
pub const MAX_SECRET_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Official Account or Mini Program: cgi-bin/token or cgi-bin/stable_token.
    Mp,
    /// WeCom (Enterprise WeChat): cgi-bin/gettoken with corpid + corpsecret.
    Wecom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// cgi-bin/token: every fetch issues a new token and kills the previous one.
    Token,
    /// cgi-bin/stable_token: independent callers get the same token.
    Stable,
}

#[derive(Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// This process only.
    Memory,
    /// A directory shared by the processes of one host (None: the default directory).
    File(Option<PathBuf>),
    /// A Redis server shared by a fleet.
    Redis(String),
}

impl fmt::Display for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreSpec::Memory => f.write_str("memory"),
            StoreSpec::File(None) => f.write_str("file"),
            StoreSpec::File(Some(dir)) => write!(f, "file:{}", dir.display()),
            StoreSpec::Redis(url) => f.write_str(&redact_url_password(url)),
        }
    }
}

/// Debug as Display: a Redis URL's password never shows (Config's Debug
/// prints its store).
impl fmt::Debug for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreSpec({self})")
    }
}

/// The app secret. Its Debug and Display never show it; only the upstream
/// client and the WeCom store key (as a hash) read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One app's configuration. Build it with [`Config::new`] and set fields, or
/// parse options with [`Config::from_options`] / [`Config::from_json`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub appid: String,
    pub secret: Secret,
    /// The key callers pass to get/invalidate (default: the appid).
    pub name: String,
    pub platform: Platform,
    pub mode: Mode,
    pub api_base: String,
    pub store: StoreSpec,
    pub refresh_margin: Duration,
    pub timeout: Duration,
    pub wait: Duration,
    /// The Redis store's key prefix (default `wxtoken`).
    pub key_prefix: String,
    /// A PEM file of the CA that signed a `rediss://` server's certificate
    /// (None: the system's roots).
    pub redis_ca_file: Option<PathBuf>,
    /// Fetches per platform day (from 00:00 Beijing time) that the processes sharing the store make at
    /// most (see [`DAILY_FETCH_BUDGET_RANGE`]); past it, a quota error.
    pub daily_fetch_budget: u64,
}

impl Config {
    /// The names of the settings in which `self` differs from `other`
    /// (the secret by name only, never its value).
    pub(crate) fn differences(&self, other: &Config) -> Vec<&'static str> {
        let checks = [
            ("appid", self.appid != other.appid),
            ("secret", self.secret != other.secret),
            ("platform", self.platform != other.platform),
            ("mode", self.mode != other.mode),
            ("api_base", self.api_base != other.api_base),
            ("store", self.store != other.store),
            (
                "refresh_margin_s",
                self.refresh_margin != other.refresh_margin,
            ),
            ("timeout_ms", self.timeout != other.timeout),
            ("wait_ms", self.wait != other.wait),
            ("key_prefix", self.key_prefix != other.key_prefix),
            ("redis_ca_file", self.redis_ca_file != other.redis_ca_file),
            (
                "daily_fetch_budget",
                self.daily_fetch_budget != other.daily_fetch_budget,
            ),
        ];
        checks.iter().filter(|(_, d)| *d).map(|(n, _)| *n).collect()
    }

    /// A classic Official Account / Mini Program config with the defaults
    /// (the file store: one token per app for every process of the host).
    pub fn new(appid: impl Into<String>, secret: impl Into<String>) -> Self {
        let appid = appid.into();
        Config {
            name: appid.clone(),
            appid,
            secret: Secret::new(secret),
            platform: Platform::Mp,
            mode: Mode::Token,
            api_base: DEFAULT_MP_API_BASE.to_string(),
            store: StoreSpec::File(None),
            refresh_margin: Duration::from_secs(300),
            timeout: Duration::from_millis(5000),
            wait: Duration::from_millis(10000),
            key_prefix: crate::store::DEFAULT_PREFIX.to_string(),
            redis_ca_file: None,
            daily_fetch_budget: DEFAULT_DAILY_FETCH_BUDGET,
        }
    }

    /// Parses options (the names of [`OPTION_NAMES`]). Anything not given
    /// falls back to its `WXTOKEN_*` environment variable, then to the default.
    /// appid and secret likewise fall back to `WXTOKEN_APPID` and
    /// `WXTOKEN_SECRET` (or a file named by `WXTOKEN_SECRET_FILE`).
    pub fn from_options(
        appid: Option<&str>,
        secret: Option<&str>,
        options: &Map<String, Value>,
    ) -> Result<Config> {
        Self::from_sources(appid, secret, options, &|k| std::env::var(k).ok())
    }

    /// Like [`Config::from_options`], with options as a JSON object text
    /// (an empty or blank text means no options).
    pub fn from_json(
        appid: Option<&str>,
        secret: Option<&str>,
        options_json: &str,
    ) -> Result<Config> {
        let options = parse_options_json(options_json)?;
        Self::from_options(appid, secret, &options)
    }

    /// Everything from the `WXTOKEN_*` environment.
    pub fn from_env() -> Result<Config> {
        Self::from_options(None, None, &Map::new())
    }

    fn from_sources(
        appid: Option<&str>,
        secret: Option<&str>,
        options: &Map<String, Value>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config> {
        for key in options.keys() {
            if key == "appid" || key == "secret" {
                return Err(Error::invalid(format!(
                    "option '{key}' is not an option: pass it as its own argument"
                )));
            }
            if !OPTION_NAMES.contains(&key.as_str()) {
                return Err(Error::invalid(format!(
                    "unknown option '{}' (known: {})",
                    crate::error::shortened(key),
                    OPTION_NAMES.join(", ")
                )));
            }
        }
        let appid = match appid {
            Some(a) => a.to_string(),
            None => env("WXTOKEN_APPID").unwrap_or_default(),
        };
        let secret = match secret {
            Some(s) => s.to_string(),
            None => secret_from_env(env)?,
        };
        if appid.trim().is_empty() {
            return Err(Error::invalid(
                "appid is empty (pass it, or set WXTOKEN_APPID)",
            ));
        }
        if secret.is_empty() {
            return Err(Error::invalid(
                "secret is empty (pass it, or set WXTOKEN_SECRET or WXTOKEN_SECRET_FILE)",
            ));
        }
        let opt = Options {
            given: options,
            env,
        };
        let mut cfg = Config::new(appid, secret);
        if let Some(name) = opt.string("name")? {
            cfg.name = name;
        }
        if let Some(p) = opt.string("platform")? {
            cfg.platform = match p.as_str() {
                "mp" => Platform::Mp,
                "wecom" => Platform::Wecom,
                _ => {
                    return Err(Error::invalid(format!(
                        "platform '{p}' is not one of: mp, wecom"
                    )))
                }
            };
        }
        if cfg.platform == Platform::Wecom {
            cfg.api_base = DEFAULT_WECOM_API_BASE.to_string();
        }
        if let Some(m) = opt.string("mode")? {
            cfg.mode = match m.as_str() {
                "token" => Mode::Token,
                "stable" => Mode::Stable,
                _ => {
                    return Err(Error::invalid(format!(
                        "mode '{m}' is not one of: token, stable"
                    )))
                }
            };
        }
        if let Some(base) = opt.string("api_base")? {
            cfg.api_base = base;
        }
        if let Some(store) = opt.string("store")? {
            cfg.store = parse_store(&store)?;
        }
        if let Some(s) = opt.number("refresh_margin_s", REFRESH_MARGIN_S_RANGE)? {
            cfg.refresh_margin = Duration::from_secs(s);
        }
        if let Some(ms) = opt.number("timeout_ms", TIMEOUT_MS_RANGE)? {
            cfg.timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = opt.number("wait_ms", WAIT_MS_RANGE)? {
            cfg.wait = Duration::from_millis(ms);
        }
        if let Some(n) = opt.number("daily_fetch_budget", DAILY_FETCH_BUDGET_RANGE)? {
            cfg.daily_fetch_budget = n;
        }
        if let Some(prefix) = opt.string("key_prefix")? {
            cfg.key_prefix = prefix;
        }
        if let Some(ca) = opt.string("redis_ca_file")? {
            cfg.redis_ca_file = Some(PathBuf::from(ca));
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks a config built by hand as strictly as a parsed one.
    pub fn validate(&self) -> Result<()> {
        if self.appid.trim().is_empty() || self.appid.len() > 128 {
            return Err(Error::invalid("appid must be 1 to 128 characters"));
        }
        // Store keys and file names are built from the appid: only these
        // characters, so that two appids can never share a key.
        if !self
            .appid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::invalid(
                "appid may hold only letters, digits, '-' and '_'",
            ));
        }
        let secret = self.secret.expose();
        if secret.is_empty() || secret.len() > MAX_SECRET_BYTES {
            return Err(Error::invalid(format!(
                "secret must be 1 to {MAX_SECRET_BYTES} bytes"
            )));
        }
        if secret.chars().any(char::is_control) {
            return Err(Error::invalid(
                "secret holds a control character (NUL, newline...): is it the right value or file?",
            ));
        }
        if self.name.is_empty() || self.name.len() > 256 {
            return Err(Error::invalid("name must be 1 to 256 characters"));
        }
        // C and PHP read names back as NUL-terminated strings, and names
        // end up in log lines: a control character could never round-trip.
        if self.name.chars().any(char::is_control) {
            return Err(Error::invalid(
                "name must not hold control characters (NUL, newline...)",
            ));
        }
        if self.platform == Platform::Wecom && self.mode == Mode::Stable {
            return Err(Error::invalid(
                "mode 'stable' exists only for platform 'mp'",
            ));
        }
        // The same ranges as the options, for configs built by hand.
        check_range(
            "refresh_margin_s",
            self.refresh_margin.as_secs_f64(),
            REFRESH_MARGIN_S_RANGE,
        )?;
        check_range("timeout_ms", duration_ms(self.timeout), TIMEOUT_MS_RANGE)?;
        check_range("wait_ms", duration_ms(self.wait), WAIT_MS_RANGE)?;
        check_range(
            "daily_fetch_budget",
            self.daily_fetch_budget as f64,
            DAILY_FETCH_BUDGET_RANGE,
        )?;
        crate::store::check_prefix(&self.key_prefix)?;
        if self.redis_ca_file.is_some()
            && !matches!(&self.store, StoreSpec::Redis(url) if url.starts_with("rediss://"))
        {
            return Err(Error::invalid(
                "redis_ca_file goes with a rediss:// store only",
            ));
        }
        parse_api_base(&self.api_base).map(drop)
    }

    /// The store key: platform, mode and appid (WeCom: corpid plus a hash of
    /// the secret, since each WeCom application has its own token). A
    /// non-default api_base is part of the key, so a simulator's tokens never
    /// mix with the real platform's.
    pub(crate) fn store_key(&self) -> String {
        let mut key = match (self.platform, self.mode) {
            (Platform::Mp, Mode::Token) => format!("mp-token-{}", self.appid),
            (Platform::Mp, Mode::Stable) => format!("mp-stable-{}", self.appid),
            (Platform::Wecom, _) => {
                format!("wecom-{}-{}", self.appid, short_hash(self.secret.expose()))
            }
        };
        if self.api_base != DEFAULT_MP_API_BASE && self.api_base != DEFAULT_WECOM_API_BASE {
            key.push('@');
            key.push_str(&short_hash(&self.api_base));
        }
        key
    }
}

impl Config {
    /// A short hash of the secret (as WeCom store keys hold): the shared
    /// credentials cool-down holds only for processes with the same secret.
    pub(crate) fn secret_tag(&self) -> String {
        short_hash(self.secret.expose())
    }
}

/// Options given explicitly, else from the environment.
struct Options<'a> {
    given: &'a Map<String, Value>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Options<'_> {
    fn env_name(key: &str) -> String {
        format!("WXTOKEN_{}", key.to_ascii_uppercase())
    }

    fn string(&self, key: &str) -> Result<Option<String>> {
        let (value, source) = match self.given.get(key) {
            Some(Value::String(s)) if !s.is_empty() => (Some(s.clone()), format!("option '{key}'")),
            Some(Value::Null) | None => (
                (self.env)(&Self::env_name(key)).filter(|s| !s.is_empty()),
                Self::env_name(key),
            ),
            Some(other) => {
                return Err(Error::invalid(format!(
                    "option '{key}' must be a non-empty string, got {}",
                    type_name(other)
                )))
            }
        };
        // No option has a use for NUL, newlines or escapes; C and PHP could
        // never pass them back, and they would break log lines.
        if value
            .as_deref()
            .is_some_and(|v| v.chars().any(char::is_control))
        {
            return Err(Error::invalid(format!(
                "{source} must not hold control characters (NUL, newline...)"
            )));
        }
        Ok(value)
    }

    /// A whole number within `range`, given as a JSON number or as text.
    fn number(&self, key: &str, range: RangeInclusive<u64>) -> Result<Option<u64>> {
        let bad = |source: &str, got: &dyn fmt::Display| {
            Error::invalid(format!(
                "{source} must be a whole number from {} to {}, got {got}",
                range.start(),
                range.end()
            ))
        };
        let in_range = |n: Option<u64>, source: &str, got: &dyn fmt::Display| match n {
            Some(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(bad(source, got)),
        };
        let option = format!("option '{key}'");
        match self.given.get(key) {
            Some(Value::Number(n)) => in_range(n.as_u64(), &option, n),
            Some(Value::String(s)) => {
                in_range(s.trim().parse().ok(), &option, &format_args!("'{s}'"))
            }
            Some(Value::Null) | None => match (self.env)(&Self::env_name(key)) {
                Some(v) if !v.is_empty() => in_range(
                    v.trim().parse().ok(),
                    &Self::env_name(key),
                    &format_args!("'{v}'"),
                ),
                _ => Ok(None),
            },
            Some(other) => Err(bad(&option, &type_name(other))),
        }
    }
}

fn duration_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Checks a Duration field of a hand-built config against its option's range.
fn check_range(key: &str, value: f64, range: RangeInclusive<u64>) -> Result<()> {
    if value < *range.start() as f64 || value > *range.end() as f64 {
        return Err(Error::invalid(format!(
            "{key} must be from {} to {}",
            range.start(),
            range.end()
        )));
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "an empty string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses an options text: a JSON object, or nothing. A key given twice is
/// an error: serde_json's Map would keep the last one without a word.
pub fn parse_options_json(text: &str) -> Result<Map<String, Value>> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<unique_keys::UniqueKeys>(text) {
        Ok(unique_keys::UniqueKeys(Value::Object(map))) => Ok(map),
        Ok(_) => Err(Error::invalid("options must be a JSON object")),
        // Data errors are only ours (a duplicate key): their text names the key.
        Err(e) if e.is_data() => Err(Error::invalid(format!("options are not valid: {e}"))),
        Err(e) => Err(Error::invalid(format!(
            "options are not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))),
    }
}

/// A JSON value deserialized like serde_json's own, except that an object
/// holding a key twice (at any depth) is an error.
mod unique_keys {
    use std::fmt;

    use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Value};

    pub(super) struct UniqueKeys(pub(super) Value);

    impl<'de> Deserialize<'de> for UniqueKeys {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(ValueVisitor).map(UniqueKeys)
        }
    }

    struct ValueVisitor;

    impl<'de> Visitor<'de> for ValueVisitor {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_owned()))
        }
        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::new();
            while let Some(UniqueKeys(v)) = seq.next_element()? {
                items.push(v);
            }
            Ok(Value::Array(items))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut out = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                let UniqueKeys(value) = map.next_value()?;
                if out.contains_key(&key) {
                    return Err(A::Error::custom(format_args!("key '{key}' is given twice")));
                }
                out.insert(key, value);
            }
            Ok(Value::Object(out))
        }
    }
}

fn secret_from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    if let Some(s) = env("WXTOKEN_SECRET").filter(|s| !s.is_empty()) {
        return Ok(s);
    }
    match env("WXTOKEN_SECRET_FILE").filter(|s| !s.is_empty()) {
        Some(path) => read_secret_file(&path),
        None => Ok(String::new()),
    }
}

/// Reads a secret file (`WXTOKEN_SECRET_FILE`, `--secret-file`): at most
/// [`MAX_SECRET_BYTES`], UTF-8, surrounding whitespace trimmed. Reading stops
/// past the limit, so the wrong path (/dev/zero, a log) costs nothing.
pub fn read_secret_file(path: &str) -> Result<String> {
    let cannot = |why: &dyn fmt::Display| {
        Error::invalid(format!("cannot read the secret file {path}: {why}"))
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SECRET_BYTES as u64 + 1).read_to_end(&mut bytes))
        .map_err(|e| cannot(&e))?;
    if bytes.len() > MAX_SECRET_BYTES {
        return Err(cannot(&format_args!(
            "larger than {MAX_SECRET_BYTES} bytes (a secret file holds only the secret)"
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| cannot(&"not UTF-8 text"))?;
    Ok(text.trim().to_string())
}

fn parse_store(spec: &str) -> Result<StoreSpec> {
    match spec {
        "memory" => Ok(StoreSpec::Memory),
        "file" => Ok(StoreSpec::File(None)),
        _ if spec.starts_with("file:") => {
            let dir = &spec["file:".len()..];
            if !dir.starts_with('/') {
                return Err(Error::invalid(
                    "store 'file:DIR' needs an absolute directory",
                ));
            }
            Ok(StoreSpec::File(Some(PathBuf::from(dir))))
        }
        _ if spec.starts_with("redis://")
            || spec.starts_with("rediss://")
            || spec.starts_with("redis+sentinel://") =>
        {
            Ok(StoreSpec::Redis(spec.to_string()))
        }
        _ => Err(Error::invalid(format!(
            "store '{}' is not one of: memory, file, file:/dir, redis://..., rediss://...",
            redact_url_password(spec)
        ))),
    }
}

/// Parses api_base as the HTTP client will, and decides on the host it will
/// connect to: HTTPS anywhere, plain HTTP only to this machine (the
/// simulator), so a secret never crosses a network in clear text. Errors
/// quote the host at most, never the text: it may hold a password.
pub(crate) fn parse_api_base(base: &str) -> Result<Url> {
    // The URL parser drops tabs and newlines and trims spaces: text that
    // needs such repairs is not what the user meant to connect to.
    if base.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid(
            "api_base must not hold spaces or control characters",
        ));
    }
    let url =
        Url::parse(base).map_err(|e| Error::invalid(format!("api_base is not a URL: {e}")))?;
    // http://127.0.0.1:1@evil.example/ goes to evil.example, with an
    // Authorization header made of the rest: no user info, ever.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid(
            "api_base must not hold a user name or password (user:pass@host)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid(
            "api_base must not hold a query or fragment ('?', '#')",
        ));
    }
    let host = url.host_str().unwrap_or("");
    match url.scheme() {
        "https" if !host.is_empty() => Ok(url),
        "http" if is_loopback(url.host()) => Ok(url),
        "http" => Err(Error::invalid(format!(
            "api_base uses plain http to '{host}', which is not loopback; use https"
        ))),
        scheme => Err(Error::invalid(format!(
            "api_base must start with https:// (or http:// to loopback), not {scheme}:"
        ))),
    }
}

fn is_loopback(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Domain(name)) => name == "localhost",
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.to_canonical().is_loopback(),
        None => false,
    }
}

/// The name of a WeCom application when none is given: the corp id, `-`,
/// and a short hash of the application's secret (as in its store key), so
/// two applications of one corp, each with its own secret and token, never
/// share a name. `configure` itself still defaults to the corp id; this is
/// for the SDK clients (wechatpy's, EasyWeChat's), where one client object
/// is one application.
pub fn default_wecom_name(corpid: &str, secret: &str) -> String {
    format!("{corpid}-{}", short_hash(secret))
}

fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A Redis URL may carry a user and password: never echo them. Text that
/// is not a URL with a host is not echoed past its scheme (it could be
/// anything, a password included).
fn redact_url_password(text: &str) -> String {
    let Ok(mut url) = Url::parse(text) else {
        return "(not a URL)".to_string();
    };
    if url.host().is_none() {
        return format!("{}:...", url.scheme());
    }
    if !url.username().is_empty() || url.password().is_some() {
        // These fail only for URLs without a host, ruled out above.
        let _ = url.set_password(None);
        let _ = url.set_username("***");
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(options: Value) -> Result<Config> {
        let map = options.as_object().unwrap().clone();
        Config::from_sources(Some("wxapp"), Some("s3cr3t"), &map, &no_env)
    }

    #[test]
    fn defaults() {
        let c = parse(json!({})).unwrap();
        assert_eq!(c.name, "wxapp");
        assert_eq!(c.platform, Platform::Mp);
        assert_eq!(c.mode, Mode::Token);
        assert_eq!(c.api_base, DEFAULT_MP_API_BASE);
        assert_eq!(c.refresh_margin, Duration::from_secs(300));
        assert_eq!(c.timeout, Duration::from_millis(5000));
        assert_eq!(c.wait, Duration::from_millis(10000));
    }

    #[test]
    fn an_unknown_option_is_quoted_shortened() {
        let key = "k".repeat(1 << 20);
        let e = parse(json!({ key: 1 })).unwrap_err().to_string();
        assert!(e.len() < 400, "{} bytes", e.len());
    }

    #[test]
    fn rejects_unknown_mistyped_and_misplaced_options() {
        let e = parse(json!({"refresh_margin": 3})).unwrap_err();
        assert!(
            e.to_string().contains("unknown option 'refresh_margin'"),
            "{e}"
        );
        let e = parse(json!({"timeout_ms": -1})).unwrap_err();
        assert!(e.to_string().contains("timeout_ms"), "{e}");
        let e = parse(json!({"timeout_ms": true})).unwrap_err();
        assert!(e.to_string().contains("a boolean"), "{e}");
        let e = parse(json!({"secret": "x"})).unwrap_err();
        assert!(e.to_string().contains("its own argument"), "{e}");
        let e = parse(json!({"platform": "qq"})).unwrap_err();
        assert!(e.to_string().contains("mp, wecom"), "{e}");
        assert!(parse(json!({"platform": "wecom", "mode": "stable"})).is_err());
        assert!(Config::from_json(Some("a"), Some("b"), "[1]").is_err());
        assert!(Config::from_json(Some("a"), Some("b"), "{").is_err());
        assert!(Config::from_json(Some("a"), Some("b"), "  ").is_ok());
    }

    #[test]
    fn appids_that_could_alias_a_store_key_are_refused() {
        for bad in ["wx:1", "wx/../x", "wx 1", "wx.1", "微信"] {
            let e = Config::from_sources(Some(bad), Some("s"), &Map::new(), &no_env).unwrap_err();
            assert!(e.to_string().contains("only letters, digits"), "{bad}: {e}");
        }
        assert!(Config::from_sources(Some("ww_corp-1"), Some("s"), &Map::new(), &no_env).is_ok());
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(parse(json!({"api_base": "http://127.0.0.1:8080"})).is_ok());
        assert!(parse(json!({"api_base": "http://localhost:1"})).is_ok());
        assert!(parse(json!({"api_base": "http://[::1]:1"})).is_ok());
        assert!(parse(json!({"api_base": "https://example.com"})).is_ok());
        assert!(parse(json!({"api_base": "http://10.0.0.1"})).is_err());
        assert!(parse(json!({"api_base": "http://127.0.0.1.evil.com"})).is_err());
        assert!(parse(json!({"api_base": "ftp://x"})).is_err());
        // The host judged is the host after any '@': and user info is refused.
        for bad in [
            "http://127.0.0.1:1@evil.example:18080/ok",
            "http://[::1]@evil.example",
            "http://u:p@127.0.0.1",
            "https://u@example.com",
            "http://127.0.0.1/?q=1",
            "http://127.0.0.1/#f",
            "http:// 127.0.0.1",
        ] {
            let e = parse(json!({ "api_base": bad })).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{bad}");
            assert!(!e.to_string().contains("evil") || bad.contains('@'), "{e}");
        }
        let e = parse(json!({"api_base": "http://u:pw@127.0.0.1"})).unwrap_err();
        assert!(!e.to_string().contains("pw"), "{e}");
    }

    #[test]
    fn numbers_are_bounded_and_strings_free_of_control_characters() {
        assert!(
            parse(json!({"wait_ms": 600_000, "timeout_ms": 60_000, "refresh_margin_s": 7200}))
                .is_ok()
        );
        for (key, over) in [
            ("wait_ms", 600_001u64),
            ("timeout_ms", 60_001),
            ("refresh_margin_s", 7201),
        ] {
            let e = parse(json!({ key: over })).unwrap_err();
            assert!(
                e.to_string().contains(key) && e.to_string().contains(" to "),
                "{e}"
            );
            assert!(parse(json!({ key: u64::MAX })).is_err());
        }
        assert!(parse(json!({"timeout_ms": 0})).is_err());
        assert!(parse(json!({"name": "a\0b"})).is_err());
        assert!(parse(json!({"mode": "token\n"})).is_err());
        let mut c = parse(json!({})).unwrap();
        c.secret = Secret::new("s\0");
        assert!(c.validate().is_err());
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        let e = parse_options_json(r#"{"wait_ms":1,"wait_ms":1}"#).unwrap_err();
        assert!(e.to_string().contains("'wait_ms' is given twice"), "{e}");
        assert!(parse_options_json(r#"{"name":{"a":1,"a":2}}"#).is_err());
        assert!(parse_options_json(r#"{"a":[1,{"b":null}],"c":1.5,"d":-1}"#).is_ok());
        let e = parse_options_json(r#""a-secret-by-mistake""#).unwrap_err();
        assert!(!e.to_string().contains("a-secret"), "{e}");
    }

    #[test]
    fn env_fallbacks_fill_what_is_not_given() {
        let env = |k: &str| match k {
            "WXTOKEN_APPID" => Some("envapp".to_string()),
            "WXTOKEN_SECRET" => Some("envsecret".to_string()),
            "WXTOKEN_WAIT_MS" => Some("250".to_string()),
            "WXTOKEN_STORE" => Some("memory".to_string()),
            _ => None,
        };
        let c = Config::from_sources(None, None, &Map::new(), &env).unwrap();
        assert_eq!(c.appid, "envapp");
        assert_eq!(c.wait, Duration::from_millis(250));
        let given = json!({"wait_ms": 5}).as_object().unwrap().clone();
        let c = Config::from_sources(None, None, &given, &env).unwrap();
        assert_eq!(c.wait, Duration::from_millis(5));
    }

    #[test]
    fn secret_never_in_debug_or_store_key() {
        let mut c = parse(json!({"platform": "wecom"})).unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert!(!c.store_key().contains("s3cr3t"));
        let other = {
            c.secret = Secret::new("another");
            c.store_key()
        };
        assert_ne!(
            parse(json!({"platform": "wecom"})).unwrap().store_key(),
            other
        );
    }

    #[test]
    fn default_wecom_name_is_the_corp_and_a_secret_tag() {
        let name = default_wecom_name("wwcorp", "s3cr3t");
        let c = parse(json!({"platform": "wecom"})).unwrap();
        assert_eq!(name, format!("wwcorp-{}", c.secret_tag()));
        assert!(!name.contains("s3cr3t"));
        assert_eq!(name, default_wecom_name("wwcorp", "s3cr3t"), "stable");
        assert_ne!(
            name,
            default_wecom_name("wwcorp", "another"),
            "one name per secret"
        );
        assert_ne!(name, default_wecom_name("wwother", "s3cr3t"));
    }

    #[test]
    fn redis_password_is_redacted() {
        let e = parse_store("mysql://u:pw@h").unwrap_err();
        assert!(!e.to_string().contains("pw"), "{e}");
        assert_eq!(
            StoreSpec::Redis("redis://u:pw@h:6379".into()).to_string(),
            "redis://***@h:6379"
        );
        assert_eq!(
            StoreSpec::Redis("rediss://:p%40ss@h/0".into()).to_string(),
            "rediss://***@h/0"
        );
        assert_eq!(
            StoreSpec::Redis("redis://h".into()).to_string(),
            "redis://h"
        );
        assert!(!parse_store("redis:x:pw@[")
            .unwrap_err()
            .to_string()
            .contains("pw"));
    }

    #[test]
    fn redis_options() {
        let c = parse(json!({
            "store": "rediss://h:6380/0",
            "key_prefix": "prod",
            "redis_ca_file": "/etc/wx-ca.pem",
        }))
        .unwrap();
        assert_eq!(c.key_prefix, "prod");
        assert_eq!(c.redis_ca_file, Some(PathBuf::from("/etc/wx-ca.pem")));
        assert_eq!(parse(json!({})).unwrap().key_prefix, "wxtoken");
        assert!(parse(json!({"key_prefix": "a{b"})).is_err());
        assert!(parse(json!({"store": "redis://h/0", "redis_ca_file": "/ca"})).is_err());
        let sentinel = parse(json!({"store": "redis+sentinel://:pw9@s/main"})).unwrap();
        assert!(!format!("{sentinel:?}").contains("pw9"));
    }
}
