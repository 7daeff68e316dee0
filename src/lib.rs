//! wxtoken: the "central control" for WeChat access tokens. One refresher per
//! app across threads, processes and hosts; readers of a fresh token pay a
//! map lookup, one atomic load and a copy from their thread's own copy.
//!
//! ```no_run
//! let mut cfg = wxtoken::Config::new("wx1234567890abcdef", "the-app-secret");
//! cfg.store = wxtoken::StoreSpec::Memory;
//! let app = wxtoken::configure(cfg)?;
//! let token = wxtoken::get(&app)?;
//! // ... a business call answers 40001: report the token, get a good one.
//! let token = wxtoken::invalidate(&app, &token)?;
//! # Ok::<(), wxtoken::Error>(())
//! ```
//!
//! Layers, each touching only the one below (docs/design.md): the bindings
//! (`ffi`, the Python crate in bindings/python, the `wxtoken` binary) ->
//! `registry` -> `cell` -> `store` -> `upstream`.

mod cell;
mod clock;
mod config;
mod error;
pub mod ffi;
mod fork;
mod fresh;
mod inspect;
mod log;
mod meta;
mod policy;
mod record;
mod refresh;
mod refresher;
mod registry;
mod stats;
pub mod store;
mod ticket;
mod token;
mod upstream;

pub use config::{
    default_wecom_name, parse_options_json, read_secret_file, Config, Mode, Platform, Secret,
    StoreSpec, DAILY_FETCH_BUDGET_RANGE, DEFAULT_DAILY_FETCH_BUDGET, DEFAULT_MP_API_BASE,
    DEFAULT_WECOM_API_BASE, MAX_SECRET_BYTES, OPTION_NAMES, REFRESH_MARGIN_S_RANGE,
    TIMEOUT_MS_RANGE, WAIT_MS_RANGE,
};
pub use error::{
    classify, is_bad_token_errcode, is_bad_token_errcode_text, Error, ErrorKind, Result,
    BAD_TOKEN_ERRCODES,
};
pub use inspect::inspect;
pub use log::{
    clear_log_sink, drain_log, emit_log, flush_log, log_stderr_format, log_stderr_level,
    set_log_queue, set_log_sink, set_log_stderr, timestamp, undrain_log, LogFormat, LogLevel,
    LogRecord,
};
pub use record::Record;
pub use registry::{
    call, configure, configure_all, fresh_epoch, get, get_ticket, invalidate, invalidate_ticket,
    jssdk_agent_config, jssdk_config, status, unconfigure, with_fresh_token, with_token, AppRef,
    Attempt,
};
pub use ticket::{jssdk_signature, JssdkConfig, TicketKind};
pub use token::Token;

/// The crate version, as the bindings report it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
