//! What the simulator serves: its apps and the platform's tunable limits.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Which platform an app lives on: decides its token endpoint and its error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MockPlatform {
    /// Official Account or Mini Program: `cgi-bin/token` and `cgi-bin/stable_token`.
    Mp,
    /// WeCom application: `cgi-bin/gettoken`.
    Wecom,
}

impl MockPlatform {
    /// Parses the option spelling used everywhere in wxtoken (`mp`, `wecom`).
    pub fn parse(s: &str) -> Option<MockPlatform> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mp" => Some(MockPlatform::Mp),
            "wecom" => Some(MockPlatform::Wecom),
            _ => None,
        }
    }

    /// The option spelling of this platform.
    pub fn as_str(self) -> &'static str {
        match self {
            MockPlatform::Mp => "mp",
            MockPlatform::Wecom => "wecom",
        }
    }
}

/// One set of credentials the simulator accepts.
///
/// For WeCom `appid` is the corpid; one corpid may appear several times with different
/// secrets, each being one WeCom application with its own token.
#[derive(Clone, PartialEq, Eq)]
pub struct MockApp {
    pub appid: String,
    pub secret: String,
    pub platform: MockPlatform,
}

impl MockApp {
    /// An Official Account / Mini Program app.
    pub fn mp(appid: impl Into<String>, secret: impl Into<String>) -> Self {
        MockApp {
            appid: appid.into(),
            secret: secret.into(),
            platform: MockPlatform::Mp,
        }
    }

    /// A WeCom application: the corp's id and that application's secret.
    pub fn wecom(corpid: impl Into<String>, secret: impl Into<String>) -> Self {
        MockApp {
            appid: corpid.into(),
            secret: secret.into(),
            platform: MockPlatform::Wecom,
        }
    }

    /// The app served when none is configured, so `wxtoken mock` works out of the box.
    pub fn demo() -> Self {
        MockApp::mp("wx0000000000demo", "demo-secret-not-real")
    }
}

/// Written by hand so that a secret can never reach a log through `{:?}`.
impl fmt::Debug for MockApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockApp")
            .field("appid", &self.appid)
            .field("secret", &"***")
            .field("platform", &self.platform)
            .finish()
    }
}

/// The simulator's settings; the defaults are the platform's documented values.
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// Where to listen; port 0 picks a free port (see `MockServer::addr`).
    pub listen: SocketAddr,
    pub apps: Vec<MockApp>,
    /// `expires_in` of issued tokens.
    pub lifetime_s: u64,
    /// Classic: how long a superseded token keeps working (capped by its own expiry).
    /// Stable: the final window of a token's life in which a normal call renews it.
    pub overlap_s: u64,
    /// Classic `cgi-bin/token` successes per app per day before 45009.
    pub daily_quota: u64,
    /// Minimum spacing of effective stable force refreshes.
    pub stable_force_spacing_s: u64,
    /// Effective stable force refreshes per app per day before 45009.
    pub stable_force_daily: u64,
    /// Length of issued tokens (clamped to 24..=16384).
    pub token_len: usize,
    /// `None` allows every caller; otherwise others get 40164 (mp) / 60020 (WeCom).
    pub allow_ips: Option<Vec<IpAddr>>,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            apps: vec![MockApp::demo()],
            lifetime_s: 7200,
            overlap_s: 300,
            daily_quota: 2000,
            stable_force_spacing_s: 30,
            stable_force_daily: 20,
            token_len: 136,
            allow_ips: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let shown = format!("{:?}", MockConfig::default());
        assert!(shown.contains("wx0000000000demo"));
        assert!(!shown.contains("demo-secret-not-real"));
        assert!(shown.contains("***"));
    }

    #[test]
    fn platform_spellings_round_trip() {
        for p in [MockPlatform::Mp, MockPlatform::Wecom] {
            assert_eq!(MockPlatform::parse(p.as_str()), Some(p));
        }
        assert_eq!(MockPlatform::parse("WeCom"), Some(MockPlatform::Wecom));
        assert_eq!(MockPlatform::parse("qq"), None);
    }
}
