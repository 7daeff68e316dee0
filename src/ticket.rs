//! Tickets: credentials an app fetches with its access_token (the JS-SDK's
//! jsapi_ticket, the card ticket, WeCom's agent_config ticket), with the
//! token's whole contract (docs/design.md, "Credentials beyond the token"),
//! and the JS-SDK signature that uses them (docs/wechat-api.md section 8).

use std::fmt;
use std::str::FromStr;

use sha1::{Digest, Sha1};

use crate::config::Platform;
use crate::error::{Error, Result};

/// A ticket kind. Official Accounts have `Jsapi` and `WxCard`; WeCom has
/// `Jsapi` (the corp's, for `wx.config`) and `AgentConfig` (the
/// application's, for `wx.agentConfig`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TicketKind {
    Jsapi,
    WxCard,
    AgentConfig,
}

impl TicketKind {
    pub const ALL: [TicketKind; 3] = [
        TicketKind::Jsapi,
        TicketKind::WxCard,
        TicketKind::AgentConfig,
    ];

    /// The name in every binding: "jsapi", "wx_card", "agent_config".
    pub fn as_str(self) -> &'static str {
        match self {
            TicketKind::Jsapi => "jsapi",
            TicketKind::WxCard => "wx_card",
            TicketKind::AgentConfig => "agent_config",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The endpoint under `/cgi-bin/` and its `type` query value, or an
    /// error for a kind the platform does not have.
    pub(crate) fn endpoint(
        self,
        platform: Platform,
    ) -> Result<(&'static [&'static str], Option<&'static str>)> {
        match (platform, self) {
            (Platform::Mp, TicketKind::Jsapi) => Ok((&["ticket", "getticket"], Some("jsapi"))),
            (Platform::Mp, TicketKind::WxCard) => Ok((&["ticket", "getticket"], Some("wx_card"))),
            (Platform::Wecom, TicketKind::Jsapi) => Ok((&["get_jsapi_ticket"], None)),
            (Platform::Wecom, TicketKind::AgentConfig) => {
                Ok((&["ticket", "get"], Some("agent_config")))
            }
            (Platform::Mp, TicketKind::AgentConfig) => Err(Error::invalid(
                "the agent_config ticket is WeCom's (platform = \"wecom\"); Official Accounts have jsapi and wx_card",
            )),
            (Platform::Wecom, TicketKind::WxCard) => Err(Error::invalid(
                "the wx_card ticket is an Official Account's; WeCom has jsapi and agent_config",
            )),
        }
    }
}

impl fmt::Display for TicketKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TicketKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<TicketKind> {
        TicketKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "unknown ticket kind '{}': jsapi, wx_card or agent_config",
                    crate::error::shortened(s)
                ))
            })
    }
}

/// The name a ticket's cell goes by: its app's, and the kind.
pub(crate) fn cell_name(app: &str, kind: TicketKind) -> String {
    format!("{app} ({kind} ticket)")
}

/// The app and ticket kind of a cell's name ([`cell_name`]); a token
/// cell's name is its app's.
pub(crate) fn split_cell_name(name: &str) -> (&str, Option<TicketKind>) {
    for kind in TicketKind::ALL {
        let app = name
            .strip_suffix(" ticket)")
            .and_then(|n| n.strip_suffix(kind.as_str()))
            .and_then(|n| n.strip_suffix(" ("));
        if let Some(app) = app {
            return (app, Some(kind));
        }
    }
    (name, None)
}

/// The JS-SDK signature: SHA-1 (lower-case hex) of
/// `jsapi_ticket=T&noncestr=N&timestamp=TS&url=URL`, the URL without its
/// `#fragment` (the page signs the URL it was loaded from, which the
/// browser sends without one). WeCom's agentConfig signs the same string
/// with the agent_config ticket.
pub fn jssdk_signature(ticket: &str, noncestr: &str, timestamp: u64, url: &str) -> String {
    let url = url.split_once('#').map_or(url, |(before, _)| before);
    let text = format!("jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}");
    Sha1::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What a page passes to `wx.config` (or `wx.agentConfig`, adding its
/// agentid): the app's id, a timestamp, a fresh nonce and the signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JssdkConfig {
    pub app_id: String,
    pub timestamp: u64,
    pub nonce_str: String,
    pub signature: String,
}

impl JssdkConfig {
    /// `{"appId", "timestamp", "nonceStr", "signature"}`, the names
    /// `wx.config` takes.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "appId": self.app_id,
            "timestamp": self.timestamp,
            "nonceStr": self.nonce_str,
            "signature": self.signature,
        })
    }
}

/// 16 characters from the kernel's CSPRNG: a nonce a page cannot predict.
pub(crate) fn nonce() -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 16];
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: the pointer and length describe the unfilled rest of `bytes`.
        let n = unsafe {
            libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::new(
                crate::error::ErrorKind::Upstream,
                format!("no random bytes for the nonce: {}", e.kind()),
            ));
        }
        filled += n as usize;
    }
    // 256 % 62 != 0: rejection would be exact, but 4 bits of bias in a
    // 16-character nonce (95 bits) does not matter for its purpose.
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The platform's documented example.
    #[test]
    fn the_documented_signature() {
        let ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg";
        let sig = jssdk_signature(
            ticket,
            "Wm3WZYTPz0wzccnW",
            1414587457,
            "http://mp.weixin.qq.com?params=value",
        );
        assert_eq!(sig, "0f9de62fce790f9a083d5c99e95740ceb90c27ed");
        let with_fragment = jssdk_signature(
            ticket,
            "Wm3WZYTPz0wzccnW",
            1414587457,
            "http://mp.weixin.qq.com?params=value#section",
        );
        assert_eq!(with_fragment, sig, "the fragment is not signed");
    }

    #[test]
    fn kinds_parse_and_name_the_platform() {
        assert_eq!("wx_card".parse::<TicketKind>().unwrap(), TicketKind::WxCard);
        assert!("JSAPI".parse::<TicketKind>().is_err());
        assert!(TicketKind::AgentConfig.endpoint(Platform::Mp).is_err());
        assert!(TicketKind::WxCard.endpoint(Platform::Wecom).is_err());
        let n = nonce().unwrap();
        assert_eq!(n.len(), 16);
        assert_ne!(n, nonce().unwrap());
        let name = cell_name("a (b)", TicketKind::WxCard);
        assert_eq!(split_cell_name(&name), ("a (b)", Some(TicketKind::WxCard)));
        assert_eq!(split_cell_name("a (b)"), ("a (b)", None));
    }
}
