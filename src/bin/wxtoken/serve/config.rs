//! serve.toml: the apps this server manages and the clients that may ask for
//! them (docs/serve.md). Parsed with serde + toml; checked whole before any
//! of it is used, so a bad edit followed by SIGHUP keeps the running set.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

/// The file as written. Unknown keys are errors: a typo must not silently
/// fall back to a default (and `secret = "..."` inline is refused by name).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default = "default_listen")]
    listen: String,
    #[serde(default)]
    store: Option<String>,
    #[serde(default)]
    key_prefix: Option<String>,
    #[serde(default)]
    redis_ca_file: Option<String>,
    /// Unix socket file mode, octal text ("0660"); default 0600.
    #[serde(default)]
    socket_mode: Option<String>,
    #[serde(default)]
    tls: Option<TlsFile>,
    /// Threads answering requests (default: one per CPU); read at start.
    #[serde(default)]
    workers: Option<usize>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    apps: Vec<AppFile>,
    #[serde(default)]
    clients: Vec<ClientFile>,
}

fn default_listen() -> String {
    "127.0.0.1:8700".into()
}

#[derive(Deserialize, Clone, PartialEq, Eq, Debug)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    pub cert_file: String,
    pub key_file: String,
}

/// Connection and abuse limits; every one has a default.
#[derive(Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Open connections at most; when all are taken, the longest-idle ones
    /// are closed for new clients.
    pub max_connections: usize,
    /// A request's headers (and a TLS handshake) must arrive within this,
    /// and an idle keep-alive connection is closed after it: slowloris.
    pub header_timeout_ms: u64,
    /// A request body larger than this is refused with 413.
    pub max_body_bytes: usize,
    /// Invalidations that may trigger a refresh, per client per minute.
    pub invalidations_per_minute: usize,
    /// The compatible endpoint: a second request from one client for the
    /// generation it was served within this window reports that token.
    pub compat_retry_window_s: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            header_timeout_ms: 10_000,
            max_body_bytes: 4096,
            invalidations_per_minute: 30,
            compat_retry_window_s: 30,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppFile {
    name: Option<String>,
    appid: String,
    secret_file: Option<String>,
    secret_env: Option<String>,
    platform: Option<String>,
    mode: Option<String>,
    api_base: Option<String>,
    refresh_margin_s: Option<u64>,
    timeout_ms: Option<u64>,
    wait_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientFile {
    name: String,
    key_sha256: String,
    apps: Vec<String>,
}

/// The whole configuration, checked: every app configurable, every client
/// naming known apps.
pub struct ServeConfig {
    pub listen: String,
    pub socket_mode: u32,
    pub tls: Option<TlsFile>,
    pub workers: Option<usize>,
    pub limits: Limits,
    pub apps: Vec<wxtoken::Config>,
    pub clients: Vec<Client>,
}

pub struct Client {
    pub name: String,
    pub digest: [u8; 32],
    /// None: every app ("*").
    pub apps: Option<HashSet<String>>,
}

impl Client {
    pub fn may_use(&self, app: &str) -> bool {
        self.apps.as_ref().is_none_or(|set| set.contains(app))
    }
}

/// Reads and checks `path`. Errors never quote the file's text: a value in
/// the wrong place may be a secret.
pub fn load(path: &Path) -> Result<ServeConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&text, &|k| std::env::var(k).ok())
}

pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<ServeConfig, String> {
    let file: File = toml::from_str(text).map_err(|e| {
        // toml's Display quotes the offending line; only the message and
        // the line number are shown.
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        match line {
            Some(n) => format!("config line {n}: {}", e.message().trim()),
            None => format!("config: {}", e.message().trim()),
        }
    })?;
    let socket_mode = match &file.socket_mode {
        None => 0o600,
        Some(m) => u32::from_str_radix(m.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o777)
            .ok_or("socket_mode must be an octal file mode such as \"0660\"")?,
    };
    let store = file.store.clone().unwrap_or_else(|| "file".into());
    let mut apps = Vec::new();
    let mut names = HashSet::new();
    for (i, app) in file.apps.iter().enumerate() {
        let label = app.name.clone().unwrap_or_else(|| app.appid.clone());
        let secret = match (&app.secret_file, &app.secret_env) {
            (Some(path), None) => wxtoken::read_secret_file(path)
                .map_err(|e| format!("app '{label}': {}", e.errmsg()))?,
            (None, Some(var)) => env(var)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| format!("app '{label}': environment variable {var} is not set"))?,
            _ => {
                return Err(format!(
                    "app #{} '{label}': give exactly one of secret_file, secret_env \
                     (never the secret itself)",
                    i + 1
                ))
            }
        };
        let mut opts = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                opts.insert(k.into(), v);
            }
        };
        put("name", app.name.clone().map(Value::from));
        put("platform", app.platform.clone().map(Value::from));
        put("mode", app.mode.clone().map(Value::from));
        put("api_base", app.api_base.clone().map(Value::from));
        put("store", Some(Value::from(store.clone())));
        put("key_prefix", file.key_prefix.clone().map(Value::from));
        put("redis_ca_file", file.redis_ca_file.clone().map(Value::from));
        put("refresh_margin_s", app.refresh_margin_s.map(Value::from));
        put("timeout_ms", app.timeout_ms.map(Value::from));
        put("wait_ms", app.wait_ms.map(Value::from));
        let cfg = wxtoken::Config::from_options(Some(&app.appid), Some(&secret), &opts)
            .map_err(|e| format!("app '{label}': {}", e.errmsg()))?;
        if !names.insert(cfg.name.clone()) {
            return Err(format!("app name '{}' is given twice", cfg.name));
        }
        apps.push(cfg);
    }
    let mut clients = Vec::new();
    let mut client_names = HashSet::new();
    let mut digests = HashMap::new();
    for c in &file.clients {
        if !client_names.insert(c.name.clone()) {
            return Err(format!("client name '{}' is given twice", c.name));
        }
        let digest = parse_digest(&c.key_sha256).ok_or_else(|| {
            format!(
                "client '{}': key_sha256 must be 64 hex digits (sha256sum of the key)",
                c.name
            )
        })?;
        // sha256sum of nothing: what `printf %s "$UNSET" | sha256sum` prints.
        if c.key_sha256.eq_ignore_ascii_case(EMPTY_KEY_SHA256) {
            return Err(format!(
                "client '{}': key_sha256 is the digest of an empty key",
                c.name
            ));
        }
        if let Some(other) = digests.insert(digest, c.name.clone()) {
            return Err(format!(
                "clients '{other}' and '{}' have the same key",
                c.name
            ));
        }
        let allowed = if c.apps.iter().any(|a| a == "*") {
            None
        } else {
            for a in &c.apps {
                if !names.contains(a) {
                    return Err(format!("client '{}': no app named '{a}'", c.name));
                }
            }
            Some(c.apps.iter().cloned().collect())
        };
        clients.push(Client {
            name: c.name.clone(),
            digest,
            apps: allowed,
        });
    }
    if file.limits.max_connections == 0 || file.limits.max_body_bytes == 0 {
        return Err("limits: max_connections and max_body_bytes must be positive".into());
    }
    if file.limits.header_timeout_ms == 0 {
        return Err("limits: header_timeout_ms must be positive".into());
    }
    if file.workers.is_some_and(|n| !(1..=1024).contains(&n)) {
        return Err("workers must be 1 to 1024".into());
    }
    Ok(ServeConfig {
        listen: file.listen,
        socket_mode,
        tls: file.tls,
        workers: file.workers,
        limits: file.limits,
        apps,
        clients,
    })
}

const EMPTY_KEY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn env(k: &str) -> Option<String> {
        (k == "SHOP_SECRET").then(|| "the-shop-secret".to_string())
    }

    #[test]
    fn a_full_file_parses() {
        let cfg = parse(
            &format!(
                r#"
listen = "127.0.0.1:0"
store = "memory"
[[apps]]
name = "shop"
appid = "wx0000000000shop"
secret_env = "SHOP_SECRET"
mode = "stable"
[[clients]]
name = "billing"
key_sha256 = "{KEY_HASH}"
apps = ["shop"]
"#
            ),
            &env,
        )
        .unwrap();
        assert_eq!(cfg.apps[0].name, "shop");
        assert_eq!(cfg.apps[0].mode, wxtoken::Mode::Stable);
        assert!(cfg.clients[0].may_use("shop") && !cfg.clients[0].may_use("other"));
        assert_eq!(cfg.limits, Limits::default());
    }

    #[test]
    fn workers_are_bounded() {
        let app = "[[apps]]\nappid = \"wx1\"\nsecret_env = \"SHOP_SECRET\"\n";
        assert_eq!(
            parse(&format!("workers = 3\n{app}"), &env)
                .ok()
                .unwrap()
                .workers,
            Some(3)
        );
        assert_eq!(parse(app, &env).ok().unwrap().workers, None);
        for bad in ["workers = 0", "workers = 5000"] {
            let e = parse(&format!("{bad}\n{app}"), &env).err().unwrap();
            assert!(e.contains("workers must be 1 to 1024"), "{e}");
        }
        let e = parse(&format!("workers = -1\n{app}"), &env).err().unwrap();
        assert!(e.starts_with("config line 1"), "{e}");
    }

    #[test]
    fn the_digest_of_an_empty_key_is_refused() {
        let app = "[[apps]]\nappid = \"wx1\"\nsecret_env = \"SHOP_SECRET\"\n";
        let e = parse(
            &format!(
                "{app}[[clients]]\nname = \"c\"\nkey_sha256 = \"{EMPTY_KEY_SHA256}\"\napps = [\"*\"]\n"
            ),
            &env,
        )
        .err()
        .unwrap();
        assert!(e.contains("empty key"), "{e}");
    }

    #[test]
    fn an_inline_secret_is_refused_without_being_quoted() {
        let err = parse(
            "[[apps]]\nappid = \"wx1\"\nsecret = \"inline-secret-value\"\n",
            &env,
        )
        .err()
        .unwrap();
        assert!(err.contains("secret") && err.contains("line 3"), "{err}");
        assert!(!err.contains("inline-secret-value"), "{err}");
    }

    #[test]
    fn clients_must_name_known_apps_and_hex_digests() {
        let app = "[[apps]]\nappid = \"wx1\"\nsecret_env = \"SHOP_SECRET\"\n";
        let e = parse(
            &format!(
                "{app}[[clients]]\nname = \"c\"\nkey_sha256 = \"{KEY_HASH}\"\napps = [\"nope\"]\n"
            ),
            &env,
        )
        .err()
        .unwrap();
        assert!(e.contains("no app named 'nope'"), "{e}");
        let e = parse(
            &format!("{app}[[clients]]\nname = \"c\"\nkey_sha256 = \"abc\"\napps = [\"*\"]\n"),
            &env,
        )
        .err()
        .unwrap();
        assert!(e.contains("64 hex digits"), "{e}");
    }
}
