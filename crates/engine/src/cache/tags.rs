//! Tenants' resources found by their cost allocation tag ([`crate::tags`]).

use sqlx::Row;

use super::{Cache, CacheError};
use crate::tags::TaggedResource;

impl Cache {
    /// Replace what is known of one account-region's tagged resources, and
    /// note when it was read (epoch s) and for which tenants (`for_tenants`,
    /// their ids joined by commas).
    pub async fn put_tagged(
        &self,
        account: &str,
        region: &str,
        found: &[TaggedResource],
        read_at: i64,
        for_tenants: &str,
    ) -> Result<(), CacheError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM tagged_resource WHERE account = ?1 AND region = ?2")
            .bind(account)
            .bind(region)
            .execute(&mut *tx)
            .await?;
        for r in found {
            sqlx::query(
                "INSERT OR REPLACE INTO tagged_resource (account, region, tenant_id, arn, dimension, value)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .bind(account)
            .bind(region)
            .bind(&r.tenant)
            .bind(&r.arn)
            .bind(&r.dimension)
            .bind(&r.value)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")
            .bind(format!("tags_read_at:{account}:{region}"))
            .bind(format!("{read_at}|{for_tenants}"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// When one account-region's tags were last read (epoch s), and for
    /// which tenants.
    pub async fn tags_read(&self, account: &str, region: &str) -> Result<Option<(i64, String)>, CacheError> {
        let value = self.meta(&format!("tags_read_at:{account}:{region}")).await?;
        Ok(value.and_then(|v| {
            let (at, who) = v.split_once('|')?;
            Some((at.parse().ok()?, who.to_string()))
        }))
    }

    /// The tagged resources of one account-region, every tenant's.
    pub async fn tagged(&self, account: &str, region: &str) -> Result<Vec<TaggedResource>, CacheError> {
        let rows = sqlx::query(
            "SELECT tenant_id, region, arn, dimension, value FROM tagged_resource
             WHERE account = ?1 AND region = ?2 ORDER BY tenant_id, arn",
        )
        .bind(account)
        .bind(region)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(tagged_row).collect())
    }

    /// Every tenant's tagged resources.
    pub async fn all_tagged(&self) -> Result<Vec<TaggedResource>, CacheError> {
        let rows = sqlx::query("SELECT tenant_id, region, arn, dimension, value FROM tagged_resource")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(tagged_row).collect())
    }

    /// One tenant's tagged resources in every region.
    pub async fn tenant_tagged(&self, tenant: &str) -> Result<Vec<TaggedResource>, CacheError> {
        let rows = sqlx::query(
            "SELECT tenant_id, region, arn, dimension, value FROM tagged_resource
             WHERE tenant_id = ?1 ORDER BY region, arn",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(tagged_row).collect())
    }
}

fn tagged_row(r: &sqlx::sqlite::SqliteRow) -> TaggedResource {
    TaggedResource { tenant: r.get(0), region: r.get(1), arn: r.get(2), dimension: r.get(3), value: r.get(4) }
}
