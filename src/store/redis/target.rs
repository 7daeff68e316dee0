//! Where the store connects: one server named by the URL, or the primary
//! that Redis Sentinel names for a service. The sentinel lookup is done
//! here (not by redis-rs's sentinel client) so that every step of it is
//! bounded by the store's timeouts, and the primary is checked with ROLE
//! (a sentinel can still name the old one for a moment after a failover).

use std::time::Duration;

use redis::{
    Client, Connection, ConnectionAddr, ConnectionInfo, ErrorKind, RedisConnectionInfo, RedisResult,
};

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
