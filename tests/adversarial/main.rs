//! Regression tests for the hardening issue: one module per topic, each
//! test against the simulator over real HTTP, the CLI as a real process, or
//! the C ABI, as a user meets the behaviour.

#[allow(dead_code)]
#[path = "../core/support.rs"]
mod support;

mod ffi;
mod file_store;
mod input;
