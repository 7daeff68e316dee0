//! The Redis store against a real redis-server (Debian's `redis-server`,
//! started per test on a free loopback port; scripts/test-redis.sh installs
//! it). Processes are the `wxtoken` CLI against the simulator, as a fleet of
//! hosts would be: they share nothing but Redis.

#[path = "../core/support.rs"]
#[allow(dead_code)]
mod support;

mod server;

mod clocks;
mod fleet;
mod locks;
mod outage;
mod secrecy;
mod sentinel;
mod shared_state;
mod tls;
