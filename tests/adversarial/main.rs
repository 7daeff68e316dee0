//! Regression tests for the hardening issue, one module per topic, over real
//! HTTP against the simulator.

#[path = "../core/support.rs"]
#[allow(dead_code)] // each topic uses a part of the core helpers
mod support;

mod credentials;
mod fork;
mod quota;
mod registry;
