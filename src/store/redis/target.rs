//! Where the store connects: one server named by the URL, or the primary
//! that Redis Sentinel names for a service. The sentinel lookup is done
//! here (not by redis-rs's sentinel client) so that every step of it is
//! bounded by the store's timeouts, and the primary is checked with ROLE
//! (a sentinel can still name the old one for a moment after a failover).

use std::path::Path;
use std::time::Duration;

use redis::{
    Client, Connection, ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo,
    RedisConnectionInfo, RedisResult, TlsCertificates,
};

use crate::error::{Error, Result};

/// The target a store URL names, and its description for status and
/// errors (never the password). redis-rs parses redis:// and rediss://; the
/// url crate parses redis+sentinel://, which redis-rs does not know.
pub(super) fn parse(url: &str, ca_file: Option<&Path>) -> Result<(Target, String)> {
    if url::Url::parse(url).is_ok_and(|u| u.scheme() == SENTINEL_SCHEME) {
        sentinel_target(url, ca_file)
    } else {
        direct_target(url, ca_file)
    }
}

pub(super) enum Target {
    Direct(Client),
    Sentinel(Sentinel),
}

pub(super) struct Sentinel {
    /// Sentinels to ask, in order (host, port).
    pub sentinels: Vec<(String, u16)>,
    /// The monitored service ("master name").
    pub service: String,
    /// Database, user and password for the primary.
    pub node: RedisConnectionInfo,
}

impl Target {
    /// A connection with `timeout` for connecting, reading and writing.
    pub fn connect(&self, timeout: Duration) -> RedisResult<Connection> {
        match self {
            Target::Direct(client) => open(client, timeout),
            Target::Sentinel(s) => s.connect_primary(timeout),
        }
    }
}

fn open(client: &Client, timeout: Duration) -> RedisResult<Connection> {
    let conn = client.get_connection_with_timeout(timeout)?;
    conn.set_read_timeout(Some(timeout))?;
    conn.set_write_timeout(Some(timeout))?;
    Ok(conn)
}

impl Sentinel {
    fn connect_primary(&self, timeout: Duration) -> RedisResult<Connection> {
        let mut last = None;
        for (host, port) in &self.sentinels {
            match self.ask(host, *port, timeout) {
                Ok(conn) => return Ok(conn),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| (ErrorKind::InvalidClientConfig, "no sentinel given").into()))
    }

    /// Asks one sentinel for the primary, connects to it, checks its role.
    fn ask(&self, host: &str, port: u16, timeout: Duration) -> RedisResult<Connection> {
        let sentinel = Client::open(ConnectionInfo {
            addr: ConnectionAddr::Tcp(host.to_string(), port),
            redis: RedisConnectionInfo::default(),
        })?;
        let mut conn = open(&sentinel, timeout)?;
        let primary: Option<(String, u16)> = redis::cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg(&self.service)
            .query(&mut conn)?;
        let Some((host, port)) = primary else {
            return Err((
                ErrorKind::InvalidClientConfig,
                "the sentinel monitors no such service",
            )
                .into());
        };
        let client = Client::open(ConnectionInfo {
            addr: ConnectionAddr::Tcp(host, port),
            redis: self.node.clone(),
        })?;
        let mut conn = open(&client, timeout)?;
        let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut conn)?;
        match role.first() {
            Some(redis::Value::BulkString(r)) if r == b"master" => Ok(conn),
            _ => Err((ErrorKind::ReadOnly, "the named primary is not one (yet)").into()),
        }
    }
}

const SENTINEL_SCHEME: &str = "redis+sentinel";
const SENTINEL_PORT: u16 = 26379;

/// `redis://` or `rediss://`: one server.
fn direct_target(url: &str, ca_file: Option<&Path>) -> Result<(Target, String)> {
    // redis-rs parses the URL (with the url crate); its error would quote
    // it, password included, so it is not passed on.
    let info: ConnectionInfo = url.into_connection_info().map_err(|_| {
        Error::invalid("store is not a valid redis:// or rediss:// URL (redis://[user[:password]@]host[:port][/db])")
    })?;
    let describe = describe(&info);
    let client = match (&info.addr, ca_file) {
        (ConnectionAddr::TcpTls { insecure: true, .. }, _) => {
            return Err(Error::invalid(
                "rediss:// without certificate checks (#insecure) is refused; name the server's CA with redis_ca_file",
            ))
        }
        (ConnectionAddr::TcpTls { .. }, Some(ca)) => {
            let pem = std::fs::read(ca).map_err(|e| {
                Error::invalid(format!("cannot read redis_ca_file {}: {}", ca.display(), e.kind()))
            })?;
            let certs = TlsCertificates {
                client_tls: None,
                root_cert: Some(pem),
            };
            Client::build_with_tls(info, certs)
        }
        (_, Some(_)) => {
            return Err(Error::invalid(
                "redis_ca_file goes with a rediss:// store only",
            ))
        }
        _ => Client::open(info),
    }
    .map_err(|_| Error::invalid(format!("store {describe}: invalid TLS setup (is redis_ca_file a PEM file?)")))?;
    Ok((Target::Direct(client), describe))
}

/// `redis+sentinel://[user[:password]@]host[:port]/service[/db][?sentinel=host:port...]`:
/// the primary that the sentinels name for `service`; user and password
/// are the primary's (the sentinels are asked without).
fn sentinel_target(url: &str, ca_file: Option<&Path>) -> Result<(Target, String)> {
    let bad = || {
        Error::invalid(
            "store is not a valid redis+sentinel:// URL \
             (redis+sentinel://[user[:password]@]host[:port]/service[/db][?sentinel=host:port...])",
        )
    };
    if ca_file.is_some() {
        return Err(Error::invalid(
            "redis_ca_file goes with a rediss:// store only (TLS through Sentinel is not supported yet)",
        ));
    }
    let url = url::Url::parse(url).map_err(|_| bad())?;
    let mut sentinels = vec![host_port(&url).ok_or_else(bad)?];
    for (name, value) in url.query_pairs() {
        if name != "sentinel" {
            return Err(Error::invalid(
                "redis+sentinel:// URL: the only parameter is sentinel=host:port",
            ));
        }
        let extra = url::Url::parse(&format!("redis://{value}")).map_err(|_| bad())?;
        sentinels.push(host_port(&extra).ok_or_else(bad)?);
    }
    let mut path = url
        .path_segments()
        .ok_or_else(bad)?
        .filter(|s| !s.is_empty());
    let service = path.next().ok_or_else(bad)?.to_string();
    let db: i64 = match path.next() {
        Some(db) => db.parse().map_err(|_| bad())?,
        None => 0,
    };
    if path.next().is_some() {
        return Err(bad());
    }
    // The primary's user and password, decoded by redis-rs from a redis://
    // URL with the same (still percent-encoded) user info.
    let userinfo = match (url.username(), url.password()) {
        (user, Some(pw)) => format!("{user}:{pw}@"),
        ("", None) => String::new(),
        (user, None) => format!("{user}@"),
    };
    let node = format!("redis://{userinfo}sentinel-named-primary/{db}")
        .as_str()
        .into_connection_info()
        .map_err(|_| bad())?
        .redis;
    let user = node
        .username
        .as_deref()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let list: Vec<String> = sentinels
        .iter()
        .map(|(h, p)| host_and_port(h, *p))
        .collect();
    let describe = format!("redis+sentinel://{user}{}/{service}/{db}", list.join(","));
    let target = Target::Sentinel(Sentinel {
        sentinels,
        service,
        node,
    });
    Ok((target, describe))
}

/// `host:port`, an IPv6 address in brackets.
fn host_and_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn host_port(url: &url::Url) -> Option<(String, u16)> {
    let host = match url.host()? {
        url::Host::Domain(d) => d.to_string(),
        url::Host::Ipv4(a) => a.to_string(),
        url::Host::Ipv6(a) => a.to_string(),
    };
    Some((host, url.port().unwrap_or(SENTINEL_PORT)))
}

/// For status and errors: scheme, user, host, port, db; never the password.
fn describe(info: &ConnectionInfo) -> String {
    let user = info
        .redis
        .username
        .as_deref()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let db = info.redis.db;
    match &info.addr {
        ConnectionAddr::Tcp(host, port) => {
            format!("redis://{user}{}/{db}", host_and_port(host, *port))
        }
        ConnectionAddr::TcpTls { host, port, .. } => {
            format!("rediss://{user}{}/{db}", host_and_port(host, *port))
        }
        ConnectionAddr::Unix(path) => format!("redis+unix://{user}{}?db={db}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(url: &str) -> String {
        parse(url, None)
            .map(|(_, d)| d)
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn descriptions_name_the_server_never_the_password() {
        assert_eq!(described("redis://u:pw1@h:6380/2"), "redis://u@h:6380/2");
        assert_eq!(described("redis://:pw1@h"), "redis://h:6379/0");
        assert_eq!(described("rediss://u:pw1@h/1"), "rediss://u@h:6379/1");
        assert_eq!(
            described("redis+sentinel://u:p%40w1@s1/main/3?sentinel=s2:26380&sentinel=[::1]"),
            "redis+sentinel://u@s1:26379,s2:26380,[::1]:26379/main/3"
        );
    }

    #[test]
    fn sentinel_credentials_are_decoded_for_the_primary() {
        let (target, _) = parse("redis+sentinel://u:p%40w1@s1/main", None).unwrap();
        let Target::Sentinel(s) = target else {
            panic!("not a sentinel target")
        };
        assert_eq!(s.node.username.as_deref(), Some("u"));
        assert_eq!(s.node.password.as_deref(), Some("p@w1"));
        assert_eq!((s.service.as_str(), s.node.db), ("main", 0));
    }

    #[test]
    fn bad_urls_are_refused_without_echoing_them() {
        for url in [
            "redis://u:pw1@h:notaport/0",
            "redis+sentinel://u:pw1@s1",
            "redis+sentinel://u:pw1@s1/main/x",
            "redis+sentinel://u:pw1@s1/main/0/extra",
            "redis+sentinel://u:pw1@s1/main?password=pw1",
            "rediss://u:pw1@h/0#insecure",
        ] {
            let err = parse(url, None)
                .err()
                .unwrap_or_else(|| panic!("{url} accepted"));
            assert!(!err.to_string().contains("pw1"), "{err}");
        }
        let err = parse("redis://u:pw1@h/0", Some(Path::new("/ca.pem")))
            .err()
            .unwrap();
        assert!(err.to_string().contains("rediss://"), "{err}");
    }
}
