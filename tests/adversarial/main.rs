//! Regression tests for the hardening issue: one module per topic, each
//! test against the simulator over real HTTP, the CLI as a real process, or
//! the C ABI, as a user meets the behaviour.

#[allow(dead_code)] // each topic uses a part of the core helpers
#[path = "../core/support.rs"]
mod support;

mod credentials;
mod expiry;
mod ffi;
mod file_store;
mod fork;
mod input;
mod quota;
mod registry;
mod store_fork;
