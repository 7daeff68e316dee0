//! Offline WeChat simulator: a small in-process HTTP/1.1 server that behaves like the
//! platform's token endpoints (docs/wechat-api.md, section 7), so tests, benchmarks and demos
//! can live through refresh cycles, quota exhaustion and failures in seconds, offline.
//! It serves with hyper on a tokio runtime of its own thread, the stack of `wxtoken serve`;
//! its API is synchronous. Not a dependency of the wxtoken library.
//!
//! ```no_run
//! use wxtoken_mock::{Fault, MockConfig, MockServer};
//! let srv = MockServer::start(MockConfig { lifetime_s: 5, overlap_s: 2, ..Default::default() })?;
//! let base = srv.base_url(); // point the client's api_base here
//! srv.set_fault(Fault::Busy, Some(1)); // the next token call gets errcode -1
//! # Ok::<(), std::io::Error>(())
//! ```

mod config;
mod fault;
mod http;
mod rng;
mod routes;
mod server;
mod state;
mod tokens;

pub use config::{MockApp, MockConfig, MockPlatform};
pub use fault::Fault;
pub use server::MockServer;
