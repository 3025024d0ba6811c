//! The README's security claims, each proved by a test that fails if the
//! claim breaks (the README's "Security" section maps claim -> test):
//!
//! - read-only: every request is on the allowlist, and every AssumeRole
//!   carries the read-only session policy;
//! - no credential at rest: the cache files and the debug log never hold
//!   the keys or session tokens actually used;
//! - the cache, its WAL and SHM are owner-only in an owner-only folder;
//! - tenant isolation in the views;
//! - untrusted text escaped in chart SVGs, CSV cells and Logs Insights queries;
//! - data residency: no raw lines cached, personal data redacted;
//! - the Tauri window: strict CSP, no plugin, one window's capability, and
//!   chart requests bounded;
//! - bad answers from AWS (truncated, wrong types, NaN, disorder, huge or
//!   non-UTF-8 text) and a skewed clock fail only their own source, with a
//!   clear message, and leave a valid cache.
//!
//! Every test starts its own simulated fleet (or moto) on loopback and its
//! own cache.

use fleetdeck_testkit::world::{epoch_now, World};

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use fleetdeck_engine::aws::{self, AwsAccess, AwsSettings, READ_ACTIONS};
use fleetdeck_engine::cache::{Cache, HealthRow, PointBatch, SeriesKey};
use fleetdeck_engine::catalog::{logs_string_literal, Catalog, LogsQuery};
use fleetdeck_engine::chart::{self, ChartSpec, Line};
use fleetdeck_engine::export::csv_field;
use fleetdeck_engine::fleet::Fleet;
use fleetdeck_engine::model::{ChartRequest, Health, SyncSummary};
use fleetdeck_engine::sync::{self, SyncOptions};
use fleetdeck_engine::view::{self, ViewError};
use fleetdeck_sim::{Malformed, MalformedKind, Model as SimModel, SimFleet, SimKnobs};
use proptest::prelude::*;
use sqlx::{Connection, Row};

/// This file's own ways to start and drive a [`World`].
#[allow(async_fn_in_trait)]
trait Local {
    /// `tenants` tenants placed now.
    async fn start(tenants: usize, catalog: Catalog) -> World;
    async fn sync(&self, cache: &Cache, now: i64) -> SyncSummary;
}

impl Local for World {
    /// `tenants` tenants placed now.
    async fn start(tenants: usize, catalog: Catalog) -> World {
        World::start_with(tenants, catalog, epoch_now()).await
    }

    async fn sync(&self, cache: &Cache, now: i64) -> SyncSummary {
        let aws = self.aws().await;
        sync::run(&self.fleet, &self.catalog, &aws, cache, &SyncOptions::at(now), &|_| {})
            .await
            .expect("sync::run returns Ok: a failing source never fails the sync")
    }
}

/// Every (tenant, region, source) -> status.
async fn statuses(cache: &Cache) -> BTreeMap<(String, String, String), (String, String)> {
    cache
        .all_sources()
        .await
        .unwrap()
        .into_iter()
        .map(|s| ((s.tenant_id, s.region, s.source), (s.status.to_string(), s.error.unwrap_or_default())))
        .collect()
}

/// `PRAGMA integrity_check` through a connection of its own.
async fn assert_integrity(path: &Path, when: &str) {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).create_if_missing(false);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await.expect("open the cache");
    let verdict: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&mut conn).await.unwrap();
    assert_eq!(verdict, ["ok"], "{when}: the cache is damaged");
    conn.close().await.unwrap();
}

/// The cache file and its WAL and SHM, as raw bytes, whichever exist.
fn cache_bytes(path: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{}{suffix}", path.display())))
        .filter(|p| p.exists())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// Which of `needles` (what, value) occur in `haystack`.
fn found<'a>(haystack: &[u8], needles: &'a [(String, String)]) -> Vec<&'a str> {
    needles
        .iter()
        .filter(|(_, v)| !v.is_empty() && haystack.windows(v.len()).any(|w| w == v.as_bytes()))
        .map(|(what, _)| what.as_str())
        .collect()
}

/// The base keys and every session credential the simulator issued.
fn sim_secrets(sim: &SimFleet) -> Vec<(String, String)> {
    let mut out = vec![
        ("base access key id".to_string(), SimFleet::ACCESS_KEY_ID.to_string()),
        ("base secret key".to_string(), SimFleet::SECRET_ACCESS_KEY.to_string()),
    ];
    for (i, r) in sim.assume_role_requests().iter().enumerate() {
        if let Some(c) = &r.issued {
            out.push((format!("session {i} access key id"), c.access_key_id.clone()));
            out.push((format!("session {i} secret key"), c.secret_access_key.clone()));
            out.push((format!("session {i} session token"), c.session_token.clone()));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// 1. Read-only

/// A fleet file of pooled tenants that all carry the same `TenantId`
/// dimension value and the same names: nothing but the tenant id tells them
/// apart.
fn colliding_fleet(ids: &[&str], names: &[String]) -> Fleet {
    let mut toml = String::from("[fleet]\nregion = \"us-east-1\"\nrole_name = \"FleetdeckReadOnly\"\n");
    for (id, name) in ids.iter().zip(names) {
        toml.push_str(&format!(
            "[[tenant]]\nid = \"{id}\"\nname = {}\ntier = \"standard\"\nmodel = \"pooled\"\naccount = \"111111111111\"\n\
             home_region = \"us-east-1\"\nextra_regions = [\"eu-west-1\"]\nselector.dimensions = {{ TenantId = \"shared\" }}\n",
            serde_json::to_string(name).unwrap()
        ));
    }
    Fleet::parse(Path::new("fleet.toml"), &toml, &Catalog::builtin().unwrap()).expect("valid fleet")
}

const NOW: i64 = 1_800_000_000;

/// Writes `points` (per region) of the `requests` series of `tenant` with
/// the colliding key.
async fn write_points(cache: &Cache, tenant: &str, region: &str, points: &[(i64, f64)]) {
    let key = SeriesKey {
        tenant_id: tenant,
        region,
        metric_key: "requests",
        namespace: "SaaS/App",
        metric_name: "Requests",
        dimensions: r#"{"TenantId":"shared"}"#,
        stat: "Sum",
        period: 60,
        unit: "count",
    };
    let (id, _) = cache.series(&key).await.unwrap();
    cache.commit_points(&[PointBatch { series_id: id, points: points.to_vec(), watermark: NOW }]).await.unwrap();
}

fn chart_request(tenant: &str) -> ChartRequest {
    ChartRequest {
        tenant: tenant.into(),
        region: "us-east-1".into(),
        metric: "requests".into(),
        width: 600,
        height: 240,
        hours: Some(6),
        // The tier's median line is an aggregate over tenants by design
        // (and labelled so); isolation is about the tenant's own series.
        ..ChartRequest::default()
    }
}

mod inputs;
mod stories;
