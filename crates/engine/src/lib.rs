//! fleetdeck's engine: everything the console, the CLI and the reports do,
//! headless. It builds and tests without Tauri, clap or an HTTP server, and
//! knows nothing of the simulated fleet (the program hands the demo in through
//! [`session::DemoLauncher`]).
//!
//! - [`fleet`] reads the fleet file: tenants, isolation models, selectors.
//! - [`catalog`] reads `queries/`: metrics per model, health rules, Logs
//!   Insights queries, the views' SQL.
//! - [`aws`] builds clients and credentials (AssumeRole with ExternalId and a
//!   read-only session policy) and classifies AWS errors.
//! - [`pace`] keeps every account-region under its AWS quotas; [`reach`]
//!   stops a sync from retrying every call when AWS is unreachable.
//! - [`plan`] packs metric reads into the fewest GetMetricData calls;
//!   [`collect`] makes the calls ([`insights`] splits a Logs Insights
//!   question over more than 50 log groups and merges the answers);
//!   [`sync`] runs a whole sync into the [`cache`] (SQLite via sqlx).
//! - [`housekeeping`] (in [`cache`]) keeps the cache small: retention after a sync (once an hour), and
//!   `fleetdeck cache` (sizes per table and tenant, compact, drop a tenant).
//! - [`redact`] strips personal data and secrets from text cached for
//!   data-residency tenants.
//! - [`cost`] sums per-tenant cost and forecasts the month end.
//! - [`detect`] scores metric points for anomalies, online, one series at a
//!   time, and folds the scores into explained anomaly episodes;
//!   [`analysis`] runs each series' detector on the points a sync commits.
//! - [`peers`] compares each series' recent change with its tier's and
//!   region's: a tenant departing from its peers, a fleet-wide shift.
//! - [`health`] folds alarms, thresholds, anomalies, peers and freshness
//!   into tenant health by the rules of `queries/health.toml`;
//!   [`view`] reads the views from the cache; [`chart`] draws SVG charts.
//! - [`export`] escapes cells of exported CSV (formula injection included).
//! - [`discover`] drafts fleet-file entries from AWS Organizations tags.
//! - [`check`] tries each tenant's role and one cheap read per service, and
//!   generates the IAM policies a tenant grants fleetdeck.
//! - [`files`] writes files whole or not at all, owner-only; [`clock`] is
//!   the one source of "now" and of day arithmetic.
//! - [`session`] ties a run together.

pub mod analysis;
pub mod aws;
pub mod cache;
pub mod catalog;
pub mod chart;
pub mod check;
pub mod clock;
pub mod collect;
pub mod cost;
pub mod detect;
pub mod discover;
pub mod export;
pub mod files;
/// The cache's own stores, at the paths the rest of the engine knows them by.
pub use cache::{fleet_median, housekeeping};
pub mod fleet;
pub mod health;
pub mod input;
pub mod insights;
pub mod ledger;
pub mod logging;
pub mod model;
pub mod pace;
pub mod peers;
pub mod plan;
pub mod reach;
pub mod redact;
pub mod report;
pub mod session;
pub mod settings;
pub mod signin;
pub mod spend;
pub mod sync;
pub mod tags;
#[cfg(test)]
mod testkit;
pub mod view;
