//! The platform's rules as pure logic over an injected clock (milliseconds since the server
//! started), so token timing can be unit-tested without sockets or sleeping.

use super::config::{MockApp, MockConfig, MockPlatform};
use super::tokens::{TokenBook, Verdict, MAX_TOKEN_LEN, MIN_TOKEN_LEN};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

const SECOND_MS: u64 = 1000;
/// "Day" for quotas: since start or the last reset, no calendar.
const DAY_MS: u64 = 86_400 * SECOND_MS;
const MONTH_MS: u64 = 30 * DAY_MS;
const CLEARS_PER_MONTH: u64 = 10;
/// Per-appid call counters kept at most; further appids are lumped under `OTHER_KEY`, so a
/// client sending random appids cannot grow the stats without bound.
const MAX_STATS_KEYS: usize = 1024;
const OTHER_KEY: &str = "*other*";

/// An errcode answer, with the message the platform would send (before the rid suffix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub code: i64,
    pub msg: String,
}

fn fail<T>(code: i64, msg: impl Into<String>) -> Result<T, ApiError> {
    Err(ApiError {
        code,
        msg: msg.into(),
    })
}

/// A successful token answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Issued {
    pub token: Arc<str>,
    pub expires_in: u64,
}

/// Credentials as the caller sent them (any may be missing).
#[derive(Clone, Copy, Default)]
pub(crate) struct Creds<'a> {
    pub grant_type: Option<&'a str>,
    pub appid: Option<&'a str>,
    pub secret: Option<&'a str>,
}

/// The three token endpoints, for per-app call counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Token = 0,
    Stable = 1,
    GetToken = 2,
}

/// The limits that can change at runtime (`POST /mock/config`).
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub lifetime_s: u64,
    pub overlap_s: u64,
    pub daily_quota: u64,
    pub stable_force_spacing_s: u64,
    pub stable_force_daily: u64,
    pub token_len: usize,
    pub allow_ips: Option<Vec<IpAddr>>,
}

impl Settings {
    fn from_config(cfg: &MockConfig) -> Settings {
        Settings {
            lifetime_s: cfg.lifetime_s.max(1),
            overlap_s: cfg.overlap_s,
            daily_quota: cfg.daily_quota,
            stable_force_spacing_s: cfg.stable_force_spacing_s,
            stable_force_daily: cfg.stable_force_daily,
            token_len: cfg.token_len.clamp(MIN_TOKEN_LEN, MAX_TOKEN_LEN),
            allow_ips: cfg.allow_ips.clone(),
        }
    }

    fn ip_allowed(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.allow_ips
            .as_ref()
            .is_none_or(|list| list.iter().any(|a| a.to_canonical() == ip))
    }

    fn to_json(&self) -> Value {
        json!({
            "lifetime_s": self.lifetime_s,
            "overlap_s": self.overlap_s,
            "daily_quota": self.daily_quota,
            "stable_force_spacing_s": self.stable_force_spacing_s,
            "stable_force_daily": self.stable_force_daily,
            "token_len": self.token_len,
        })
    }

    /// Sets one numeric field by name, checking its range.
    fn set(&mut self, key: &str, n: u64) -> Result<(), String> {
        match key {
            "lifetime_s" if n == 0 => return Err("lifetime_s must be at least 1".into()),
            "lifetime_s" => self.lifetime_s = n,
            "overlap_s" => self.overlap_s = n,
            "daily_quota" => self.daily_quota = n,
            "stable_force_spacing_s" => self.stable_force_spacing_s = n,
            "stable_force_daily" => self.stable_force_daily = n,
            "token_len" => {
                let range = MIN_TOKEN_LEN as u64..=MAX_TOKEN_LEN as u64;
                if !range.contains(&n) {
                    return Err(format!(
                        "token_len must be {MIN_TOKEN_LEN}..={MAX_TOKEN_LEN}"
                    ));
                }
                self.token_len = n as usize;
            }
            _ => return Err(format!("unknown setting {key:?}")),
        }
        Ok(())
    }
}

/// A count that starts over once its period has passed.
#[derive(Default)]
struct Periodic {
    since: u64,
    n: u64,
}

impl Periodic {
    fn current(&mut self, now: u64, period: u64) -> u64 {
        if now.saturating_sub(self.since) >= period {
            self.since = now;
            self.n = 0;
        }
        self.n
    }
}

/// Per-app state; classic and stable tokens are independent, as on the platform.
#[derive(Default)]
struct AppState {
    classic: Option<Arc<str>>,
    /// The superseded classic token still inside its overlap.
    classic_prev: Option<Arc<str>>,
    quota: Periodic,
    stable: Option<Arc<str>>,
    last_force: Option<u64>,
    forces: Periodic,
    wecom: Option<Arc<str>>,
    clears: Periodic,
}

#[derive(Default)]
struct Stats {
    calls: BTreeMap<String, [u64; 3]>,
    tokens_issued: u64,
    checks: BTreeMap<&'static str, u64>,
    faults_served: u64,
    superseded: u64,
    quota_clears: u64,
}

/// Everything the simulator knows; the server keeps it under one mutex.
pub(crate) struct State {
    pub settings: Settings,
    apps: Vec<MockApp>,
    per: Vec<AppState>,
    book: TokenBook,
    stats: Stats,
}

impl State {
    pub(crate) fn new(cfg: &MockConfig) -> State {
        State {
            settings: Settings::from_config(cfg),
            apps: cfg.apps.clone(),
            per: cfg.apps.iter().map(|_| AppState::default()).collect(),
            book: TokenBook::default(),
            stats: Stats::default(),
        }
    }

    fn lifetime_ms(&self) -> u64 {
        self.settings.lifetime_s.saturating_mul(SECOND_MS)
    }

    fn overlap_ms(&self) -> u64 {
        self.settings.overlap_s.saturating_mul(SECOND_MS)
    }

    /// Issues a token; `for_client` counts it in `tokens_issued` (supersede does not).
    fn mint(&mut self, now: u64, idx: usize, for_client: bool) -> Arc<str> {
        if for_client {
            self.stats.tokens_issued += 1;
        }
        let (life, len) = (self.lifetime_ms(), self.settings.token_len);
        self.book.issue(now, life, len, idx)
    }

    fn fresh(&self, token: Arc<str>) -> Issued {
        Issued {
            token,
            expires_in: self.settings.lifetime_s,
        }
    }

    /// The still-valid `token` with its remaining life, if any.
    fn reuse(&self, now: u64, token: &Option<Arc<str>>) -> Option<(Issued, u64)> {
        let token = token.as_ref()?;
        let left = self.book.remaining_ms(now, token)?;
        let issued = Issued {
            token: token.clone(),
            expires_in: left / SECOND_MS,
        };
        Some((issued, left))
    }

    /// Checks mp credentials in the platform's order; returns the app's index.
    fn auth_mp(&self, c: &Creds, ip: IpAddr) -> Result<usize, ApiError> {
        if c.grant_type != Some("client_credential") {
            return fail(40002, "invalid grant_type");
        }
        let appid = c.appid.filter(|s| !s.is_empty());
        let Some(appid) = appid else {
            return fail(41002, "appid missing");
        };
        let Some(secret) = c.secret.filter(|s| !s.is_empty()) else {
            return fail(41004, "appsecret missing");
        };
        let Some(idx) = self.find(MockPlatform::Mp, appid) else {
            return fail(40013, "invalid appid");
        };
        if self.apps[idx].secret != secret {
            return fail(40125, "invalid appsecret");
        }
        if !self.settings.ip_allowed(ip) {
            return fail(40164, format!("invalid ip {ip}, not in whitelist"));
        }
        Ok(idx)
    }

    fn find(&self, platform: MockPlatform, appid: &str) -> Option<usize> {
        self.apps
            .iter()
            .position(|a| a.platform == platform && a.appid == appid)
    }

    /// `cgi-bin/token`: every success issues a new token; the previous one keeps working for
    /// the overlap, and the one before that (if still in its overlap) stops at once, so at
    /// most two classic tokens per app are ever valid.
    pub(crate) fn classic_token(
        &mut self,
        now: u64,
        c: &Creds,
        ip: IpAddr,
    ) -> Result<Issued, ApiError> {
        let idx = self.auth_mp(c, ip)?;
        let quota = self.settings.daily_quota;
        let st = &mut self.per[idx];
        if st.quota.current(now, DAY_MS) >= quota {
            return fail(45009, "reach max api daily quota limit");
        }
        st.quota.n += 1;
        let token = self.mint(now, idx, true);
        let overlap_end = now.saturating_add(self.overlap_ms());
        let st = &mut self.per[idx];
        if let Some(older) = st.classic_prev.take() {
            self.book.revoke(&older, now);
        }
        if let Some(prev) = st.classic.replace(token.clone()) {
            self.book.revoke(&prev, overlap_end);
            st.classic_prev = Some(prev);
        }
        Ok(self.fresh(token))
    }

    /// `cgi-bin/stable_token`, normal or force mode.
    pub(crate) fn stable_token(
        &mut self,
        now: u64,
        c: &Creds,
        force: bool,
        ip: IpAddr,
    ) -> Result<Issued, ApiError> {
        let idx = self.auth_mp(c, ip)?;
        if force {
            self.stable_force(now, idx)
        } else {
            Ok(self.stable_normal(now, idx))
        }
    }

    /// The current token while it has more than the overlap left; otherwise a new one, the
    /// old one staying valid until its own expiry.
    fn stable_normal(&mut self, now: u64, idx: usize) -> Issued {
        if let Some((same, left)) = self.reuse(now, &self.per[idx].stable) {
            if left > self.overlap_ms() {
                return same;
            }
        }
        self.replace_stable(now, idx, false, true)
    }

    /// A force inside the spacing is a normal call; past the daily budget it is 45009.
    fn stable_force(&mut self, now: u64, idx: usize) -> Result<Issued, ApiError> {
        let spacing = self
            .settings
            .stable_force_spacing_s
            .saturating_mul(SECOND_MS);
        let daily = self.settings.stable_force_daily;
        let st = &mut self.per[idx];
        if st
            .last_force
            .is_some_and(|t| now.saturating_sub(t) < spacing)
        {
            return Ok(self.stable_normal(now, idx));
        }
        if st.forces.current(now, DAY_MS) >= daily {
            return fail(45009, "reach max api daily quota limit");
        }
        st.forces.n += 1;
        st.last_force = Some(now);
        Ok(self.replace_stable(now, idx, true, true))
    }

    fn replace_stable(&mut self, now: u64, idx: usize, revoke: bool, client: bool) -> Issued {
        let token = self.mint(now, idx, client);
        if let Some(old) = self.per[idx].stable.replace(token.clone()) {
            if revoke {
                self.book.revoke(&old, now);
            }
        }
        self.fresh(token)
    }

    /// WeCom `gettoken`: one token per (corpid, secret), the same one until it expires.
    pub(crate) fn wecom_token(
        &mut self,
        now: u64,
        corpid: Option<&str>,
        secret: Option<&str>,
        ip: IpAddr,
    ) -> Result<Issued, ApiError> {
        let Some(corpid) = corpid.filter(|s| !s.is_empty()) else {
            return fail(41002, "corpid missing");
        };
        let Some(secret) = secret.filter(|s| !s.is_empty()) else {
            return fail(41004, "corpsecret missing");
        };
        if self.find(MockPlatform::Wecom, corpid).is_none() {
            return fail(40013, "invalid corpid");
        }
        let idx = self.apps.iter().position(|a| {
            a.platform == MockPlatform::Wecom && a.appid == corpid && a.secret == secret
        });
        let Some(idx) = idx else {
            return fail(40001, "invalid secret");
        };
        if !self.settings.ip_allowed(ip) {
            return fail(60020, "not allow to access from your ip");
        }
        if let Some((same, _)) = self.reuse(now, &self.per[idx].wecom) {
            return Ok(same);
        }
        Ok(self.replace_wecom(now, idx, true))
    }

    fn replace_wecom(&mut self, now: u64, idx: usize, client: bool) -> Issued {
        let token = self.mint(now, idx, client);
        if let Some(old) = self.per[idx].wecom.replace(token.clone()) {
            self.book.revoke(&old, now);
        }
        self.fresh(token)
    }

    /// "Someone else fetched": every current token of `appid` is replaced and the old ones
    /// stop at once. Not an upstream call: no quota, no call or issue counters.
    /// Returns false when no app has that appid.
    pub(crate) fn supersede(&mut self, now: u64, appid: &str) -> bool {
        let idxs: Vec<usize> = (0..self.apps.len())
            .filter(|&i| self.apps[i].appid == appid)
            .collect();
        for &idx in &idxs {
            match self.apps[idx].platform {
                MockPlatform::Mp => self.supersede_mp(now, idx),
                MockPlatform::Wecom if self.per[idx].wecom.is_some() => {
                    self.replace_wecom(now, idx, false);
                }
                MockPlatform::Wecom => {}
            }
        }
        if !idxs.is_empty() {
            self.stats.superseded += 1;
        }
        !idxs.is_empty()
    }

    fn supersede_mp(&mut self, now: u64, idx: usize) {
        let token = self.mint(now, idx, false);
        let st = &mut self.per[idx];
        let old = [st.classic_prev.take(), st.classic.replace(token)];
        for t in old.iter().flatten() {
            self.book.revoke(t, now);
        }
        if self.per[idx].stable.is_some() {
            self.replace_stable(now, idx, true, false);
        }
    }

    /// A business call: is `token` accepted now? Counted in `checks`.
    pub(crate) fn check(&mut self, now: u64, token: Option<&str>) -> Result<(), ApiError> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            self.count_check("41001");
            return fail(41001, "access_token missing");
        };
        match self.book.verdict(now, token).error() {
            None => {
                self.count_check("ok");
                Ok(())
            }
            Some((code, msg)) => {
                self.count_check(check_key(code));
                fail(code, msg)
            }
        }
    }

    fn count_check(&mut self, key: &'static str) {
        *self.stats.checks.entry(key).or_default() += 1;
    }

    /// `cgi-bin/clear_quota`: authorised by a valid token of the app named in the body.
    pub(crate) fn clear_quota(
        &mut self,
        now: u64,
        token: Option<&str>,
        appid: Option<&str>,
    ) -> Result<(), ApiError> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return fail(41001, "access_token missing");
        };
        let owner = match self.book.verdict(now, token) {
            Verdict::Valid(owner) => owner,
            bad => {
                let (code, msg) = bad.error().unwrap_or((40014, "invalid access_token"));
                return fail(code, msg);
            }
        };
        let Some(appid) = appid.filter(|s| !s.is_empty()) else {
            return fail(41002, "appid missing");
        };
        let app = &self.apps[owner];
        if app.platform != MockPlatform::Mp || app.appid != appid {
            return fail(40013, "invalid appid");
        }
        self.clear(now, owner)
    }

    /// `cgi-bin/clear_quota/v2`: authorised by appid + appsecret, for when no token can be had.
    pub(crate) fn clear_quota_v2(
        &mut self,
        now: u64,
        appid: Option<&str>,
        secret: Option<&str>,
    ) -> Result<(), ApiError> {
        let Some(appid) = appid.filter(|s| !s.is_empty()) else {
            return fail(41002, "appid missing");
        };
        let Some(secret) = secret.filter(|s| !s.is_empty()) else {
            return fail(41004, "appsecret missing");
        };
        let Some(idx) = self.find(MockPlatform::Mp, appid) else {
            return fail(40013, "invalid appid");
        };
        if self.apps[idx].secret != secret {
            return fail(40125, "invalid appsecret");
        }
        self.clear(now, idx)
    }

    fn clear(&mut self, now: u64, idx: usize) -> Result<(), ApiError> {
        let st = &mut self.per[idx];
        if st.clears.current(now, MONTH_MS) >= CLEARS_PER_MONTH {
            return fail(48006, "forbid to clear quota because of reaching the limit");
        }
        st.clears.n += 1;
        st.quota.n = 0;
        self.stats.quota_clears += 1;
        Ok(())
    }

    /// Starts a new "day": classic quotas and stable force budgets start over.
    pub(crate) fn new_day(&mut self) {
        for st in &mut self.per {
            st.quota.n = 0;
            st.forces.n = 0;
            st.last_force = None;
        }
    }

    /// Counts a token-endpoint call (failed or faulted ones too) under the appid sent.
    pub(crate) fn count_call(&mut self, ep: Endpoint, appid: &str) {
        let key = if self.stats.calls.contains_key(appid) || self.stats.calls.len() < MAX_STATS_KEYS
        {
            appid
        } else {
            OTHER_KEY
        };
        let counters = self.stats.calls.entry(key.to_owned()).or_default();
        counters[ep as usize] += 1;
    }

    pub(crate) fn note_fault(&mut self) {
        self.stats.faults_served += 1;
    }

    pub(crate) fn reset_stats(&mut self) {
        self.stats = Stats::default();
    }

    pub(crate) fn token_calls(&self, appid: &str) -> u64 {
        self.stats.calls.get(appid).map_or(0, |c| c.iter().sum())
    }

    pub(crate) fn stats_json(&self) -> Value {
        let s = &self.stats;
        let calls: Map<String, Value> = s
            .calls
            .iter()
            .map(|(k, c)| {
                let v = json!({"token": c[0], "stable_token": c[1], "gettoken": c[2]});
                (k.clone(), v)
            })
            .collect();
        let mut checks = json!({"ok": 0, "40001": 0, "40014": 0, "42001": 0, "41001": 0});
        for (k, n) in &s.checks {
            checks[*k] = json!(n);
        }
        json!({
            "token_calls": calls,
            "tokens_issued": s.tokens_issued,
            "checks": checks,
            "faults_served": s.faults_served,
            "superseded": s.superseded,
            "quota_clears": s.quota_clears,
            "config": self.settings.to_json(),
        })
    }

    /// Applies `{"lifetime_s":..,...}` atomically: all keys valid, or nothing changes.
    pub(crate) fn apply_config(&mut self, v: &Value) -> Result<Value, String> {
        let obj = v.as_object().ok_or("expected a JSON object")?;
        let mut next = self.settings.clone();
        for (key, val) in obj {
            let n = val
                .as_u64()
                .ok_or_else(|| format!("{key} must be a non-negative integer"))?;
            next.set(key, n)?;
        }
        self.settings = next;
        Ok(self.settings.to_json())
    }
}

fn check_key(code: i64) -> &'static str {
    match code {
        40001 => "40001",
        42001 => "42001",
        _ => "40014",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const S: u64 = 1000;
    const IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    const APPID: &str = "wxapp";
    const SECRET: &str = "s3cret";

    fn state() -> State {
        let cfg = MockConfig {
            apps: vec![
                MockApp::mp(APPID, SECRET),
                MockApp::wecom("corp", "sa"),
                MockApp::wecom("corp", "sb"),
            ],
            lifetime_s: 100,
            overlap_s: 10,
            daily_quota: 3,
            token_len: 40,
            ..MockConfig::default()
        };
        State::new(&cfg)
    }

    fn creds() -> Creds<'static> {
        Creds {
            grant_type: Some("client_credential"),
            appid: Some(APPID),
            secret: Some(SECRET),
        }
    }

    fn classic(st: &mut State, now: u64) -> Arc<str> {
        st.classic_token(now, &creds(), IP).unwrap().token
    }

    fn stable(st: &mut State, now: u64, force: bool) -> Issued {
        st.stable_token(now, &creds(), force, IP).unwrap()
    }

    fn code(st: &mut State, now: u64, token: &str) -> i64 {
        st.check(now, Some(token)).err().map_or(0, |e| e.code)
    }

    #[test]
    fn classic_overlap_then_40001_expiry_42001_unknown_40014() {
        let mut st = state();
        let a = classic(&mut st, 0);
        assert_eq!(a.len(), 40);
        let b = classic(&mut st, 50 * S);
        assert_ne!(a, b);
        assert_eq!(code(&mut st, 59 * S, &a), 0, "old one valid in the overlap");
        assert_eq!(code(&mut st, 60 * S, &a), 40001);
        assert_eq!(code(&mut st, 60 * S, &b), 0);
        assert_eq!(code(&mut st, 150 * S, &b), 42001);
        assert_eq!(code(&mut st, 0, "made-up"), 40014);
        let stats = st.stats_json();
        assert_eq!(stats["checks"]["ok"], 2);
        assert_eq!(stats["checks"]["40001"], 1);
        assert_eq!(stats["tokens_issued"], 2);
    }

    #[test]
    fn classic_overlap_capped_by_own_expiry_and_only_two_valid() {
        let mut st = state();
        let a = classic(&mut st, 0);
        let b = classic(&mut st, 95 * S);
        assert_eq!(code(&mut st, 99 * S, &a), 0);
        assert_eq!(code(&mut st, 100 * S, &a), 40001, "own expiry comes first");
        let c = classic(&mut st, 96 * S);
        assert_eq!(code(&mut st, 96 * S, &b), 0);
        assert_eq!(code(&mut st, 96 * S, &c), 0);
        assert_eq!(code(&mut st, 96 * S, &a), 40001);
    }

    #[test]
    fn classic_quota_and_credential_errors() {
        let mut st = state();
        for _ in 0..3 {
            classic(&mut st, 0);
        }
        let err = st.classic_token(1, &creds(), IP).unwrap_err();
        assert_eq!(err.code, 45009);
        assert_eq!(st.stats_json()["tokens_issued"], 3);
        assert!(st.classic_token(DAY_MS, &creds(), IP).is_ok(), "a new day");
        let bad = |c: Creds| state().classic_token(0, &c, IP).unwrap_err().code;
        assert_eq!(
            bad(Creds {
                grant_type: None,
                ..creds()
            }),
            40002
        );
        assert_eq!(
            bad(Creds {
                appid: Some("wxother"),
                ..creds()
            }),
            40013
        );
        assert_eq!(
            bad(Creds {
                appid: Some("corp"),
                ..creds()
            }),
            40013
        );
        assert_eq!(
            bad(Creds {
                secret: Some("nope"),
                ..creds()
            }),
            40125
        );
        assert_eq!(
            bad(Creds {
                appid: None,
                ..creds()
            }),
            41002
        );
        assert_eq!(
            bad(Creds {
                secret: None,
                ..creds()
            }),
            41004
        );
    }

    #[test]
    fn ip_allow_list() {
        let mut st = state();
        st.settings.allow_ips = Some(vec!["10.0.0.1".parse().unwrap()]);
        let e = st.classic_token(0, &creds(), IP).unwrap_err();
        assert_eq!(e.code, 40164);
        let e = st.wecom_token(0, Some("corp"), Some("sa"), IP).unwrap_err();
        assert_eq!(e.code, 60020);
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert!(st.classic_token(0, &creds(), mapped).is_ok());
    }

    #[test]
    fn clear_quota_resets_and_is_limited_per_month() {
        let mut st = state();
        for _ in 0..3 {
            classic(&mut st, 0);
        }
        assert!(st.classic_token(0, &creds(), IP).is_err());
        assert!(st.clear_quota_v2(0, Some(APPID), Some(SECRET)).is_ok());
        let t = classic(&mut st, 0);
        assert!(st.clear_quota(0, Some(&t), Some(APPID)).is_ok());
        assert_eq!(
            st.clear_quota(0, Some(&t), Some("x")).unwrap_err().code,
            40013
        );
        assert_eq!(
            st.clear_quota(0, Some("x"), Some(APPID)).unwrap_err().code,
            40014
        );
        let v2 = st.clear_quota_v2(0, Some(APPID), Some("bad"));
        assert_eq!(v2.unwrap_err().code, 40125);
        for _ in 2..10 {
            assert!(st.clear_quota_v2(0, Some(APPID), Some(SECRET)).is_ok());
        }
        let spent = st.clear_quota_v2(0, Some(APPID), Some(SECRET));
        assert_eq!(spent.unwrap_err().code, 48006);
    }

    #[test]
    fn stable_same_token_then_renewed_in_last_window() {
        let mut st = state();
        let a = stable(&mut st, 0, false);
        assert_eq!(a.expires_in, 100);
        let again = stable(&mut st, 30 * S, false);
        assert_eq!(again.token, a.token);
        assert_eq!(again.expires_in, 70);
        let b = stable(&mut st, 90 * S, false);
        assert_ne!(b.token, a.token, "last overlap window: new token");
        assert_eq!(b.expires_in, 100);
        assert_eq!(
            code(&mut st, 95 * S, &a.token),
            0,
            "old valid to its expiry"
        );
        assert_eq!(code(&mut st, 100 * S, &a.token), 42001);
        assert_eq!(stable(&mut st, 91 * S, false).token, b.token);
        assert_eq!(st.stats_json()["tokens_issued"], 2);
    }

    #[test]
    fn stable_force_spacing_and_daily_limit() {
        let mut st = state();
        st.settings.stable_force_daily = 2;
        let a = stable(&mut st, 0, false);
        let b = stable(&mut st, S, true);
        assert_ne!(a.token, b.token);
        assert_eq!(
            code(&mut st, S, &a.token),
            40001,
            "force invalidates at once"
        );
        let c = stable(&mut st, 20 * S, true);
        assert_eq!(c.token, b.token, "too soon: unchanged");
        let d = stable(&mut st, 31 * S, true);
        assert_ne!(d.token, b.token);
        let e = st.stable_token(70 * S, &creds(), true, IP).unwrap_err();
        assert_eq!(e.code, 45009);
        assert_eq!(stable(&mut st, 70 * S, false).token, d.token);
    }

    #[test]
    fn stable_and_classic_are_independent() {
        let mut st = state();
        let s = stable(&mut st, 0, false);
        let c1 = classic(&mut st, 0);
        classic(&mut st, 0);
        classic(&mut st, 0);
        assert_eq!(code(&mut st, 0, &s.token), 0);
        assert_eq!(code(&mut st, 0, &c1), 40001);
    }

    #[test]
    fn wecom_same_token_per_secret_until_expiry() {
        let mut st = state();
        let get = |st: &mut State, now, secret| st.wecom_token(now, Some("corp"), Some(secret), IP);
        let a = get(&mut st, 0, "sa").unwrap();
        let b = get(&mut st, 0, "sb").unwrap();
        assert_ne!(a.token, b.token);
        let a2 = get(&mut st, 40 * S, "sa").unwrap();
        assert_eq!(a2.token, a.token);
        assert_eq!(a2.expires_in, 60);
        let a3 = get(&mut st, 100 * S, "sa").unwrap();
        assert_ne!(a3.token, a.token);
        assert_eq!(get(&mut st, 0, "sc").unwrap_err().code, 40001);
        let e = st
            .wecom_token(0, Some("nocorp"), Some("sa"), IP)
            .unwrap_err();
        assert_eq!(e.code, 40013);
        assert_eq!(
            st.wecom_token(0, Some(APPID), Some(SECRET), IP)
                .unwrap_err()
                .code,
            40013
        );
    }

    #[test]
    fn supersede_replaces_every_current_token_at_once() {
        let mut st = state();
        let c = classic(&mut st, 0);
        let s = stable(&mut st, 0, false);
        let w = st.wecom_token(0, Some("corp"), Some("sa"), IP).unwrap();
        assert!(st.supersede(S, APPID));
        assert!(st.supersede(S, "corp"));
        assert!(!st.supersede(S, "nobody"));
        for t in [&c, &s.token, &w.token] {
            assert_eq!(code(&mut st, S, t), 40001);
        }
        let s2 = stable(&mut st, S, false);
        assert_ne!(s2.token, s.token);
        assert_eq!(code(&mut st, S, &s2.token), 0);
        let stats = st.stats_json();
        assert_eq!(stats["tokens_issued"], 3, "supersede is not a fetch");
        assert_eq!(stats["superseded"], 2);
        assert_eq!(st.per[0].quota.n, 1);
    }

    #[test]
    fn call_counters_and_config() {
        let mut st = state();
        st.count_call(Endpoint::Token, APPID);
        st.count_call(Endpoint::Stable, APPID);
        st.count_call(Endpoint::GetToken, "corp");
        assert_eq!(st.token_calls(APPID), 2);
        assert_eq!(st.stats_json()["token_calls"]["corp"]["gettoken"], 1);
        st.reset_stats();
        assert_eq!(st.token_calls(APPID), 0);
        assert!(st
            .apply_config(&json!({"lifetime_s": 5, "bogus": 1}))
            .is_err());
        assert_eq!(st.settings.lifetime_s, 100, "atomic: nothing applied");
        assert!(st.apply_config(&json!({"token_len": 3})).is_err());
        let cfg = st
            .apply_config(&json!({"lifetime_s": 5, "token_len": 600}))
            .unwrap();
        assert_eq!(cfg["lifetime_s"], 5);
        let t = stable(&mut st, 0, false);
        assert_eq!((t.expires_in, t.token.len()), (5, 600));
    }
}
