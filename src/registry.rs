//! The global registry: app name -> token cell, read without locks. Writers
//! (configure) copy the map and swap it in; there are few apps and they are
//! configured rarely.

use std::sync::Arc;

use arc_swap::ArcSwap;
use once_cell::sync::Lazy;
use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::cell::TokenCell;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::refresher;
use crate::store;
use crate::token::Token;

/// FxHash: app names come from the program's own configuration, not from an
/// attacker, and hashing them is most of a fresh get's cost with SipHash.
type Cells = FxHashMap<String, Arc<TokenCell>>;

static CELLS: Lazy<ArcSwap<Cells>> = Lazy::new(|| ArcSwap::from_pointee(Cells::default()));

/// Registers (or replaces) an app; returns the name to pass to [`get`].
/// Re-configuring with other settings swaps in a new cell: calls in flight
/// finish on the old one, and the token survives through the store. The same
/// settings again change nothing, so configuring on every request (as PHP
/// code does) keeps the fresh-read path.
pub fn configure(cfg: Config) -> Result<String> {
    cfg.validate()?;
    let name = cfg.name.clone();
    if CELLS.load().get(&name).is_some_and(|c| c.cfg == cfg) {
        refresher::ensure_running();
        return Ok(name);
    }
    let store = store::open(&cfg)?;
    let cell = TokenCell::new(cfg, store);
    CELLS.rcu(|cells| {
        let mut cells = Cells::clone(cells);
        cells.insert(name.clone(), cell.clone());
        cells
    });
    refresher::ensure_running();
    Ok(name)
}

/// A token the platform accepts now. A fresh one costs a map lookup and a
/// pointer load; see DESIGN.md, "The contract".
pub fn get(app: &str) -> Result<Token> {
    if let Some(fresh) = with_fresh_token(app, Arc::clone) {
        return Ok(Token(fresh));
    }
    cell(app)?.get().map(Token)
}

/// Runs `f` on the token without copying it: the bindings copy it straight
/// into the caller's buffer or string.
pub fn with_token<R>(app: &str, f: impl FnOnce(&str) -> R) -> Result<R> {
    {
        let cells = CELLS.load();
        if let Some(cell) = cells.get(app) {
            let guard = cell.current_guard();
            if let Some(token) = TokenCell::fresh_in(&guard) {
                return Ok(f(token));
            }
        }
    }
    let token = cell(app)?.get()?;
    Ok(f(&token))
}

/// Runs `f` on the token only if a fresh one is at hand, without blocking:
/// None means "take the slow path" ([`get`]). Bindings that must let go of
/// an interpreter lock before they may wait (Python's GIL) try this first.
#[inline]
pub fn with_fresh_token<R>(app: &str, f: impl FnOnce(&Arc<str>) -> R) -> Option<R> {
    let cells = CELLS.load();
    let guard = cells.get(app)?.current_guard();
    TokenCell::fresh_in(&guard).map(f)
}

/// Reports `bad_token` as refused by a business call (40001, 40014, 42001).
/// If it is still current, one refresh runs (however many callers report it);
/// otherwise the current token comes back with no upstream call.
pub fn invalidate(app: &str, bad_token: &str) -> Result<Token> {
    if bad_token.is_empty() {
        return Err(Error::invalid("bad_token is empty"));
    }
    cell(app)?.invalidate(bad_token).map(Token)
}

/// The app's state as JSON: token timing (never the token), refresh state,
/// the last error, and this process's counters.
pub fn status(app: &str) -> Result<Value> {
    Ok(cell(app)?.status())
}

/// What a business call reported, for [`call`].
pub enum Attempt<T> {
    /// Done: whatever the result, it is not about the token.
    Done(T),
    /// The call answered a bad-token errcode (see [`crate::is_bad_token_errcode`]).
    BadToken(T),
}

/// Runs `f(token)`; if it reports a bad token, invalidates that token and
/// runs `f` exactly once more with the new one.
pub fn call<T>(app: &str, mut f: impl FnMut(&str) -> Attempt<T>) -> Result<T> {
    let token = get(app)?;
    match f(&token) {
        Attempt::Done(v) => Ok(v),
        Attempt::BadToken(_) => {
            let fresh = invalidate(app, &token)?;
            match f(&fresh) {
                Attempt::Done(v) | Attempt::BadToken(v) => Ok(v),
            }
        }
    }
}

pub(crate) fn cells() -> Vec<Arc<TokenCell>> {
    CELLS.load().values().cloned().collect()
}

/// The slow-path lookup: also configures an app named by the `WXTOKEN_*`
/// environment on first use, and (re)starts the refresher after a fork.
fn cell(app: &str) -> Result<Arc<TokenCell>> {
    if app.is_empty() {
        return Err(Error::invalid("app name is empty"));
    }
    refresher::ensure_running();
    if let Some(cell) = CELLS.load().get(app) {
        return Ok(cell.clone());
    }
    if let Ok(cfg) = Config::from_env() {
        if cfg.name == app {
            configure(cfg)?;
            if let Some(cell) = CELLS.load().get(app) {
                return Ok(cell.clone());
            }
        }
    }
    Err(Error::new(
        ErrorKind::NotConfigured,
        format!(
            "app '{}' is not configured (call configure, or set WXTOKEN_APPID and WXTOKEN_SECRET)",
            shortened(app)
        ),
    ))
}

/// A caller's string quoted in a message: at most 64 characters of it.
fn shortened(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
