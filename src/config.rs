//! Configuration: one set of option names for every binding (DESIGN.md,
//! "Configuration"). Bindings hand options over as a JSON object (C, PHP) or
//! as keyword arguments turned into one (Python); all are parsed here.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub const DEFAULT_MP_API_BASE: &str = "https://api.weixin.qq.com";
pub const DEFAULT_WECOM_API_BASE: &str = "https://qyapi.weixin.qq.com";

/// The options `configure` accepts, besides appid and secret.
pub const OPTION_NAMES: [&str; 10] = [
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
];

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
}

impl Config {
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
                    "unknown option '{key}' (known: {})",
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
        if let Some(s) = opt.number("refresh_margin_s")? {
            cfg.refresh_margin = Duration::from_secs(s);
        }
        if let Some(ms) = opt.number("timeout_ms")? {
            cfg.timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = opt.number("wait_ms")? {
            cfg.wait = Duration::from_millis(ms);
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
        if self.secret.expose().is_empty() {
            return Err(Error::invalid("secret is empty"));
        }
        if self.name.is_empty() || self.name.len() > 256 {
            return Err(Error::invalid("name must be 1 to 256 characters"));
        }
        if self.platform == Platform::Wecom && self.mode == Mode::Stable {
            return Err(Error::invalid(
                "mode 'stable' exists only for platform 'mp'",
            ));
        }
        if self.timeout.is_zero() {
            return Err(Error::invalid("timeout_ms must be at least 1"));
        }
        crate::store::check_prefix(&self.key_prefix)?;
        if self.redis_ca_file.is_some()
            && !matches!(&self.store, StoreSpec::Redis(url) if url.starts_with("rediss://"))
        {
            return Err(Error::invalid(
                "redis_ca_file goes with a rediss:// store only",
            ));
        }
        check_api_base(&self.api_base)
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
        match self.given.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(Value::Null) | None => {
                Ok((self.env)(&Self::env_name(key)).filter(|s| !s.is_empty()))
            }
            Some(other) => Err(Error::invalid(format!(
                "option '{key}' must be a non-empty string, got {}",
                type_name(other)
            ))),
        }
    }

    fn number(&self, key: &str) -> Result<Option<u64>> {
        let parse = |text: &str, source: &str| {
            text.trim().parse::<u64>().map_err(|_| {
                Error::invalid(format!(
                    "{source} must be a whole number >= 0, got '{text}'"
                ))
            })
        };
        match self.given.get(key) {
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| {
                Error::invalid(format!(
                    "option '{key}' must be a whole number >= 0, got {n}"
                ))
            }),
            Some(Value::String(s)) => parse(s, &format!("option '{key}'")).map(Some),
            Some(Value::Null) | None => match (self.env)(&Self::env_name(key)) {
                Some(v) if !v.is_empty() => parse(&v, &Self::env_name(key)).map(Some),
                _ => Ok(None),
            },
            Some(other) => Err(Error::invalid(format!(
                "option '{key}' must be a whole number >= 0, got {}",
                type_name(other)
            ))),
        }
    }
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

/// Parses an options text: a JSON object, or nothing.
pub fn parse_options_json(text: &str) -> Result<Map<String, Value>> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::invalid("options must be a JSON object")),
        Err(e) => Err(Error::invalid(format!(
            "options are not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))),
    }
}

fn secret_from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    if let Some(s) = env("WXTOKEN_SECRET").filter(|s| !s.is_empty()) {
        return Ok(s);
    }
    match env("WXTOKEN_SECRET_FILE").filter(|s| !s.is_empty()) {
        Some(path) => std::fs::read_to_string(&path)
            .map(|s| s.trim().to_string())
            .map_err(|e| Error::invalid(format!("cannot read WXTOKEN_SECRET_FILE {path}: {e}"))),
        None => Ok(String::new()),
    }
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

/// HTTPS anywhere; plain HTTP only to this machine (the simulator), so a
/// secret never crosses a network in clear text.
fn check_api_base(base: &str) -> Result<()> {
    let rest = if let Some(rest) = base.strip_prefix("https://") {
        rest
    } else if let Some(rest) = base.strip_prefix("http://") {
        let host = host_of(rest);
        let loopback = host == "localhost"
            || host
                .trim_matches(|c| c == '[' || c == ']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return Err(Error::invalid(format!(
                "api_base '{base}' uses plain http to a non-loopback host; use https"
            )));
        }
        rest
    } else {
        return Err(Error::invalid(format!(
            "api_base '{base}' must start with https://"
        )));
    };
    if host_of(rest).is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(Error::invalid(format!(
            "api_base '{base}' is not a base URL"
        )));
    }
    Ok(())
}

fn host_of(after_scheme: &str) -> &str {
    let authority = after_scheme.split('/').next().unwrap_or("");
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    }
}

fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A Redis URL may carry a password: never echo it.
fn redact_url_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://***@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_string(),
    }
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
    fn redis_password_is_redacted() {
        let e = parse_store("mysql://u:pw@h").unwrap_err();
        assert!(!e.to_string().contains("pw"), "{e}");
        assert_eq!(
            StoreSpec::Redis("redis://u:pw@h:6379".into()).to_string(),
            "redis://***@h:6379"
        );
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
