//! The core contract, over real HTTP against the simulator. One binary with
//! a module per behaviour; every test uses its own simulator and appid, since
//! the registry is process-wide.

mod support;

mod cli;
mod cold_start;
mod configure;
mod faults;
mod file_store;
mod fresh_read;
mod invalidate;
mod logging;
mod refresh_cycles;
mod rejections;
mod secrecy;
mod shared_state;
mod stable;
mod tickets;
mod wecom;
