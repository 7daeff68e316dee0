//! `wxtoken serve` over real HTTP: the binary as a process, against the
//! simulator, as a business server in any language meets it.

#[allow(dead_code)]
#[path = "../core/support.rs"]
mod support;

mod harness;
#[allow(dead_code)]
#[path = "../redis/server.rs"]
mod redis_server;

mod api;
mod cli;
mod compat;
mod concurrency;
mod connections;
mod ha;
mod reload;
mod secrecy;
mod tickets;
mod tls;
