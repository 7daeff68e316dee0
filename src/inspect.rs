//! What a store holds, app by app, read without any secret: for
//! `wxtoken status --all` and for a status on a host that has no secret
//! (an operator's shell, a monitoring job). Token timing and shared state
//! only, never a token.

use serde_json::{json, Map, Value};

use crate::clock::precise_now_ms;
use crate::config::Config;
use crate::error::Result;
use crate::store;

/// The margin the next refresh is shown at: the default's, since the
/// refreshing processes' own settings are theirs (a store does not say).
const SHOWN_MARGIN_MS: u64 = 300_000;

/// Every app the store named by `options` holds (its `store`,
/// `key_prefix` and `redis_ca_file`, falling back to `WXTOKEN_*` like any
/// option; the others are ignored), sorted by store key.
pub fn inspect(options: &Map<String, Value>) -> Result<Vec<Value>> {
    let mut store_options = Map::new();
    for k in ["store", "key_prefix", "redis_ca_file"] {
        if let Some(v) = options.get(k) {
            store_options.insert(k.into(), v.clone());
        }
    }
    // The store's settings are all that is used: the appid and secret only
    // satisfy the parser, and never reach the store or the output.
    let cfg = Config::from_options(Some("wxinspect"), Some("unused"), &store_options)?;
    let store = store::open(&cfg)?;
    let now = precise_now_ms();
    let mut apps = Vec::new();
    for key in store.stored_keys()? {
        let token = match store.load(&key)? {
            Some(rec) => json!({
                "present": true,
                "valid": rec.is_valid(now),
                "generation": rec.generation,
                "fetched_at_ms": rec.fetched_at_ms,
                "expires_at_ms": rec.expires_at_ms,
                "expires_in_ms": rec.expires_at_ms.saturating_sub(now),
                "refresh_in_ms_at_default_margin":
                    rec.refresh_at_ms(SHOWN_MARGIN_MS).saturating_sub(now),
                "length": rec.token.len(),
            }),
            None => json!({"present": false}),
        };
        let mut shared = store.load_meta(&key)?.to_status(now, 0);
        // The budget is each process's setting, not the store's.
        shared
            .as_object_mut()
            .map(|m| m.remove("daily_fetch_budget"));
        let mut app = describe_key(&key);
        app.insert("store".into(), store.describe().into());
        app.insert("token".into(), token);
        app.insert("shared".into(), shared);
        apps.push(Value::Object(app));
    }
    Ok(apps)
}

/// A store key's parts (see `Config::store_key`): platform, mode, appid,
/// and whether the api_base was the platform's.
fn describe_key(key: &str) -> Map<String, Value> {
    let (main, other_base) = match key.split_once('@') {
        Some((main, _hash)) => (main, true),
        None => (key, false),
    };
    let (platform, mode, appid) = if let Some(id) = main.strip_prefix("mp-token-") {
        ("mp", "token", id)
    } else if let Some(id) = main.strip_prefix("mp-stable-") {
        ("mp", "stable", id)
    } else if let Some(rest) = main.strip_prefix("wecom-") {
        // corpid, then a hash of the application's secret.
        (
            "wecom",
            "token",
            rest.rsplit_once('-').map_or(rest, |(id, _)| id),
        )
    } else {
        ("unknown", "unknown", main)
    };
    let mut m = Map::new();
    m.insert("key".into(), key.into());
    m.insert("appid".into(), appid.into());
    m.insert("platform".into(), platform.into());
    m.insert("mode".into(), mode.into());
    m.insert("default_api_base".into(), (!other_base).into());
    m
}

#[cfg(test)]
mod tests {
    use super::describe_key;

    #[test]
    fn keys_are_described_without_secrets() {
        let m = describe_key("mp-token-wx12@ab12cd");
        assert_eq!(
            (m["appid"].as_str(), m["mode"].as_str()),
            (Some("wx12"), Some("token"))
        );
        assert_eq!(m["default_api_base"], false);
        let m = describe_key("wecom-ww-corp_1-0a1b2c3d");
        assert_eq!(
            (m["appid"].as_str(), m["platform"].as_str()),
            (Some("ww-corp_1"), Some("wecom"))
        );
        assert_eq!(m["default_api_base"], true);
        assert_eq!(describe_key("mp-stable-wx9")["mode"], "stable");
    }
}
