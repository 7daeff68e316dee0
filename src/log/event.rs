//! The catalogue of records: one stable name and one level per kind of
//! thing wxtoken reports. Programs alert on the names (docs/logging.md),
//! so a name, once shipped, never changes meaning.

use super::LogLevel;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// This process fetched a new token (generation, expires_in_s, duration_ms).
    TokenRefreshed,
    /// This process fetched a new ticket (as TokenRefreshed, with `ticket`).
    TicketRefreshed,
    /// A refresh ended in failure (kind, errcode, failures_in_row, cooldown_ms).
    RefreshFailed,
    /// The first refresh that succeeded after failures (failures, failed_for_ms).
    Recovered,
    /// One upstream attempt failed and is retried (attempt, delay_ms, kind, errcode).
    RefreshRetry,
    /// The platform rejected this process's appid/secret (errcode).
    CredentialsRejected,
    /// Refreshes pause after a failure (cooldown_ms, kind, errcode, shared).
    CooldownBegan,
    /// A refresh starts again after a cool-down (cooldown_ms).
    CooldownEnded,
    /// A reported bad token was still current: one refresh runs for it.
    TokenInvalidated,
    /// A newer record another process or host wrote was taken from the store.
    RecordAdopted,
    /// A token another process stored is served; this process's secret is unproven.
    SecretUnverified,
    /// The local fetch ceiling refused an upstream call.
    FetchCeilingReached,
    /// The store's daily fetch budget is spent.
    DailyBudgetSpent,
    /// Another process's failure is shared through the store: no upstream call.
    SharedCooldown,
    /// Stable mode: a force was asked too soon after the last; a normal fetch instead.
    StableForceSpaced,
    /// The store could not be written, read or used as asked.
    StoreError,
    /// The store is unreachable and stable mode fetches on its own.
    StoreUnreachable,
    /// Something about the store an operator should know (another user's directory...).
    StoreNotice,
    /// The app was configured again with other settings (changed).
    AppReconfigured,
    /// A ticket fetch was refused for a bad token: the token is reported.
    TicketTokenRefused,
    /// A thread wxtoken needs could not be started.
    ThreadStartFailed,
    /// The program's sink fell behind: records were dropped (count).
    LogRecordsDropped,
}

impl Event {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Event::TokenRefreshed => "token_refreshed",
            Event::TicketRefreshed => "ticket_refreshed",
            Event::RefreshFailed => "refresh_failed",
            Event::Recovered => "recovered",
            Event::RefreshRetry => "refresh_retry",
            Event::CredentialsRejected => "credentials_rejected",
            Event::CooldownBegan => "cooldown_began",
            Event::CooldownEnded => "cooldown_ended",
            Event::TokenInvalidated => "token_invalidated",
            Event::RecordAdopted => "record_adopted",
            Event::SecretUnverified => "secret_unverified",
            Event::FetchCeilingReached => "fetch_ceiling_reached",
            Event::DailyBudgetSpent => "daily_budget_spent",
            Event::SharedCooldown => "shared_cooldown",
            Event::StableForceSpaced => "stable_force_spaced",
            Event::StoreError => "store_error",
            Event::StoreUnreachable => "store_unreachable",
            Event::StoreNotice => "store_notice",
            Event::AppReconfigured => "app_reconfigured",
            Event::TicketTokenRefused => "ticket_token_refused",
            Event::ThreadStartFailed => "thread_start_failed",
            Event::LogRecordsDropped => "log_records_dropped",
        }
    }

    pub(crate) fn level(self) -> LogLevel {
        use LogLevel::{Debug, Error, Info, Warn};
        match self {
            Event::CredentialsRejected | Event::ThreadStartFailed => Error,
            Event::RefreshFailed
            | Event::FetchCeilingReached
            | Event::DailyBudgetSpent
            | Event::StoreError
            | Event::StoreUnreachable
            | Event::StoreNotice
            | Event::LogRecordsDropped => Warn,
            Event::TokenRefreshed
            | Event::TicketRefreshed
            | Event::Recovered
            | Event::RefreshRetry
            | Event::CooldownBegan
            | Event::CooldownEnded
            | Event::TokenInvalidated
            | Event::SecretUnverified
            | Event::SharedCooldown
            | Event::AppReconfigured
            | Event::TicketTokenRefused => Info,
            Event::RecordAdopted | Event::StableForceSpaced => Debug,
        }
    }
}
