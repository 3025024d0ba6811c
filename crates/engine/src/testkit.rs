//! Fixtures the engine's unit tests share: a tenant and its series in an
//! in-memory cache, written the way the sync writes them.

use crate::cache::{Cache, SeriesKey};

/// A silo tenant `id` of `tier` in us-east-1.
pub(crate) async fn add_tenant(cache: &Cache, id: &str, tier: &str) {
    sqlx::query(
        "INSERT INTO tenant (id, name, tier, model, account, home_region, regions)
         VALUES (?1, ?1, ?2, 'silo', '111111111111', 'us-east-1', '[\"us-east-1\"]')",
    )
    .bind(id)
    .bind(tier)
    .execute(cache.pool())
    .await
    .expect("tenant row");
}

/// The id of tenant `tenant`'s series of catalog metric `metric_key`
/// (an ALB metric named `metric_name`, one-minute sums) in us-east-1.
pub(crate) async fn add_series(cache: &Cache, tenant: &str, metric_key: &str, metric_name: &str) -> i64 {
    let key = SeriesKey {
        tenant_id: tenant,
        region: "us-east-1",
        metric_key,
        namespace: "AWS/ApplicationELB",
        metric_name,
        dimensions: "{}",
        stat: "Sum",
        period: 60,
        unit: "count",
    };
    cache.series(&key).await.expect("series row").0
}
