//! Cost Explorer rows as the sync writes them, the daily totals kept from
//! them by triggers (`cost_tenant_day`, `cost_service_day`), and the cost
//! anomalies found in them. Days are text as the cache stores them
//! (`YYYY-MM-DD`, UTC): [`crate::cost`] turns dates into days and back.

use sqlx::Row;

use super::*;

/// One day of one service's cost for one tenant ('' = unattributed).
#[derive(Debug, Clone, PartialEq)]
pub struct CostRow {
    pub tenant_id: String,
    pub day: String,
    pub service: String,
    pub source: String,
    /// Unblended.
    pub amount: f64,
    pub amortized: f64,
    pub unit: String,
    pub estimated: bool,
}

/// One kept cost anomaly (`cost_anomaly`), days as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CostAnomalyRow {
    pub tenant_id: String,
    pub service: String,
    pub first_day: String,
    pub last_day: String,
    pub ongoing: bool,
    pub peak: f64,
    pub baseline: f64,
    pub impact: f64,
}

/// The tenants of a JSON array bound as `?3` (each is bound, never
/// spliced into the SQL).
const ONLY_THESE: &str = " AND tenant_id IN (SELECT value FROM json_each(?3))";

impl Cache {
    /// Upsert cost rows, 100 to a statement, in one transaction: a big
    /// fleet's first bill is hundreds of thousands of rows, and a statement
    /// a row (a round trip to SQLite's worker each) took 15 s of it.
    pub async fn put_costs(&self, rows: &[CostRow]) -> Result<(), CacheError> {
        let mut tx = self.pool.begin().await?;
        for chunk in rows.chunks(100) {
            let sql = format!(
                "INSERT INTO cost_daily (tenant_id, day, service, source, amount, amortized, unit, estimated)
                 VALUES {}
                 ON CONFLICT (tenant_id, day, service, source) DO UPDATE SET amount = excluded.amount,
                   amortized = excluded.amortized, unit = excluded.unit, estimated = excluded.estimated",
                placeholders(chunk.len(), "(?, ?, ?, ?, ?, ?, ?, ?)")
            );
            // Built only from placeholders; every value is bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for c in chunk {
                q = q
                    .bind(&c.tenant_id)
                    .bind(&c.day)
                    .bind(&c.service)
                    .bind(&c.source)
                    .bind(c.amount)
                    .bind(c.amortized)
                    .bind(&c.unit)
                    .bind(c.estimated);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Each tenant's total over `[from, until)`: (tenant, total), one row a
    /// tenant, summed from the daily totals; of the tenants in `only` when
    /// given.
    pub async fn tenant_cost_totals(
        &self,
        from: &str,
        until: &str,
        only: Option<&[String]>,
    ) -> Result<Vec<(String, f64)>, CacheError> {
        let sql = "SELECT tenant_id, sum(total) FROM cost_tenant_day WHERE day >= ?1 AND day < ?2";
        let only = only.map(|t| serde_json::json!(t).to_string());
        let q = sqlx::query_as::<_, (String, f64)>(sqlx::AssertSqlSafe(format!(
            "{sql}{} GROUP BY tenant_id",
            if only.is_some() { ONLY_THESE } else { "" }
        )))
        .bind(from)
        .bind(until);
        Ok(match only {
            Some(t) => q.bind(t).fetch_all(&self.pool).await?,
            None => q.fetch_all(&self.pool).await?,
        })
    }

    /// Every tenant's daily total over `[from, to]`: (tenant, day, total),
    /// by tenant and day; of the tenants in `only` when given.
    pub async fn tenant_cost_days(
        &self,
        from: &str,
        to: &str,
        only: Option<&[String]>,
    ) -> Result<Vec<(String, String, f64)>, CacheError> {
        let sql = "SELECT tenant_id, day, total FROM cost_tenant_day WHERE day >= ?1 AND day <= ?2";
        let only = only.map(|t| serde_json::json!(t).to_string());
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{sql}{} ORDER BY tenant_id, day",
            if only.is_some() { ONLY_THESE } else { "" }
        )))
        .bind(from)
        .bind(to);
        let rows = match only {
            Some(t) => q.bind(t).fetch_all(&self.pool).await?,
            None => q.fetch_all(&self.pool).await?,
        };
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }

    /// Whether any tenant (or '', spend no tenant claims) has a daily total
    /// in `[from, to]`.
    pub async fn any_tenant_cost(&self, from: &str, to: &str) -> Result<bool, CacheError> {
        Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM cost_tenant_day WHERE day >= ?1 AND day <= ?2)")
            .bind(from)
            .bind(to)
            .fetch_one(&self.pool)
            .await?)
    }

    /// The daily total over `[from, to]` of one tenant (`Some`) or of the
    /// whole fleet, untagged spend included (`None`): (day, total), by day.
    pub async fn daily_cost(
        &self,
        tenant: Option<&str>,
        from: &str,
        to: &str,
    ) -> Result<Vec<(String, f64)>, CacheError> {
        // Two statements, not `?3 IS NULL OR tenant_id = ?3`: SQLite picks its
        // index before it knows the value, and that OR makes it scan.
        Ok(match tenant {
            Some(t) => sqlx::query_as(
                "SELECT day, total FROM cost_tenant_day WHERE tenant_id = ?3 AND day >= ?1 AND day <= ?2 ORDER BY day",
            )
            .bind(from)
            .bind(to)
            .bind(t),
            None => sqlx::query_as(
                "SELECT day, sum(total) FROM cost_tenant_day WHERE day >= ?1 AND day <= ?2 GROUP BY day ORDER BY day",
            )
            .bind(from)
            .bind(to),
        }
        .fetch_all(&self.pool)
        .await?)
    }

    /// Spend per service from `month_start` to `today` and from
    /// `last_month_start` to before `month_start`, largest this month
    /// first: (service, this month, last month). One tenant's (`Some`,
    /// `Some("")` for untagged spend, from `cost_daily`) or the whole
    /// fleet's (`None`, from the per-service daily totals of 0010).
    pub async fn cost_by_service(
        &self,
        tenant: Option<&str>,
        last_month_start: &str,
        month_start: &str,
        today: &str,
    ) -> Result<Vec<(String, f64, f64)>, CacheError> {
        let sql = match tenant {
            Some(_) => {
                "SELECT service, sum(CASE WHEN day >= ?2 THEN amount ELSE 0.0 END), sum(CASE WHEN day < ?2 THEN amount ELSE 0.0 END)
                 FROM cost_daily WHERE tenant_id = ?4 AND day >= ?1 AND day <= ?3
                 GROUP BY service ORDER BY 2 DESC, 3 DESC, service"
            }
            None => {
                "SELECT service, sum(CASE WHEN day >= ?2 THEN total ELSE 0.0 END), sum(CASE WHEN day < ?2 THEN total ELSE 0.0 END)
                 FROM cost_service_day WHERE day >= ?1 AND day <= ?3
                 GROUP BY service ORDER BY 2 DESC, 3 DESC, service"
            }
        };
        let mut q = sqlx::query_as(sql).bind(last_month_start).bind(month_start).bind(today);
        if let Some(t) = tenant {
            q = q.bind(t);
        }
        Ok(q.fetch_all(&self.pool).await?)
    }

    /// Daily spend per service over `[from, to]`, one tenant's (`Some`) or
    /// the whole fleet's (`None`): (day, service, amount), by day and
    /// service.
    pub async fn daily_cost_by_service(
        &self,
        tenant: Option<&str>,
        from: &str,
        to: &str,
    ) -> Result<Vec<(String, String, f64)>, CacheError> {
        Ok(match tenant {
            Some(t) => sqlx::query_as(
                "SELECT day, service, sum(amount) FROM cost_daily WHERE tenant_id = ?3 AND day >= ?1 AND day <= ?2
                 GROUP BY day, service ORDER BY day, service",
            )
            .bind(from)
            .bind(to)
            .bind(t),
            None => sqlx::query_as(
                "SELECT day, service, total FROM cost_service_day WHERE day >= ?1 AND day <= ?2 ORDER BY day, service",
            )
            .bind(from)
            .bind(to),
        }
        .fetch_all(&self.pool)
        .await?)
    }

    /// The stable daily spend of every tenant on every service over `[from,
    /// to]`: days Cost Explorer calls final, and estimated days up to
    /// `stable_through` (old enough to have settled); tag and account lines
    /// summed, untagged spend left out: (tenant, service, day, amount), by
    /// tenant, service and day.
    pub async fn closed_cost_days(
        &self,
        from: &str,
        to: &str,
        stable_through: &str,
    ) -> Result<Vec<(String, String, String, f64)>, CacheError> {
        let rows = sqlx::query(
            "SELECT tenant_id, service, day, sum(amount) FROM cost_daily
             WHERE day >= ?1 AND day <= ?2 AND tenant_id != '' AND (estimated = 0 OR day <= ?3)
             GROUP BY tenant_id, service, day ORDER BY tenant_id, service, day",
        )
        .bind(from)
        .bind(to)
        .bind(stable_through)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect())
    }

    /// Untagged spend per linked account and day over `[from, to]` (rows of
    /// source `untagged:<account>`): (account, service, day, amount), by
    /// account and day.
    pub async fn untagged_by_account(
        &self,
        from: &str,
        to: &str,
    ) -> Result<Vec<(String, String, String, f64)>, CacheError> {
        let rows = sqlx::query(
            "SELECT substr(source, 10), service, day, amount FROM cost_daily
             WHERE tenant_id = '' AND source LIKE 'untagged:%' AND day >= ?1 AND day <= ?2
             ORDER BY 1, 3",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect())
    }

    /// Whether any cached day in `[from, to)` is still marked estimated (a
    /// month whose invoice had not closed when it was read).
    pub async fn estimated_cost_between(&self, from: &str, to: &str) -> Result<bool, CacheError> {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM cost_daily WHERE day >= ?1 AND day < ?2 AND estimated = 1")
                .bind(from)
                .bind(to)
                .fetch_one(&self.pool)
                .await?;
        Ok(n > 0)
    }

    /// Replace the kept cost anomalies with `rows` and record `day` as the
    /// day they were found on (meta `cost_anomalies_day`), in one
    /// transaction.
    pub async fn replace_cost_anomalies(&self, rows: &[CostAnomalyRow], day: &str) -> Result<(), CacheError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM cost_anomaly").execute(&mut *tx).await?;
        for a in rows {
            sqlx::query(
                "INSERT INTO cost_anomaly (tenant_id, service, first_day, last_day, ongoing, peak, baseline, impact)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .bind(&a.tenant_id)
            .bind(&a.service)
            .bind(&a.first_day)
            .bind(&a.last_day)
            .bind(a.ongoing)
            .bind(a.peak)
            .bind(a.baseline)
            .bind(a.impact)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('cost_anomalies_day', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(day)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The kept cost anomalies whose last day is `since` or later, one
    /// tenant's with `Some`, in no particular order.
    pub async fn cost_anomalies(&self, tenant: Option<&str>, since: &str) -> Result<Vec<CostAnomalyRow>, CacheError> {
        let select = "SELECT tenant_id, service, first_day, last_day, ongoing, peak, baseline, impact FROM cost_anomaly
                  WHERE last_day >= ?1";
        /// tenant, service, first day, last day, ongoing, peak, baseline, impact
        type Kept = (String, String, String, String, bool, f64, f64, f64);
        let rows: Vec<Kept> = match tenant {
            Some(t) => sqlx::query_as(sqlx::AssertSqlSafe(format!("{select} AND tenant_id = ?2"))).bind(since).bind(t),
            None => sqlx::query_as(sqlx::AssertSqlSafe(select.to_string())).bind(since),
        }
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(tenant_id, service, first_day, last_day, ongoing, peak, baseline, impact)| CostAnomalyRow {
                tenant_id,
                service,
                first_day,
                last_day,
                ongoing,
                peak,
                baseline,
                impact,
            })
            .collect())
    }

    /// The oldest day with cost in the cache.
    pub async fn first_cost_day(&self) -> Result<Option<String>, CacheError> {
        Ok(sqlx::query_scalar("SELECT min(day) FROM cost_tenant_day").fetch_one(&self.pool).await?)
    }

    /// Per tenant, its total over `[from, split)` and over `[split, to]`:
    /// (tenant, before, after), from the daily totals.
    pub async fn tenant_cost_windows(
        &self,
        from: &str,
        split: &str,
        to: &str,
    ) -> Result<Vec<(String, f64, f64)>, CacheError> {
        let rows = sqlx::query(
            "SELECT tenant_id, sum(CASE WHEN day < ?2 THEN total ELSE 0.0 END), sum(CASE WHEN day >= ?2 THEN total ELSE 0.0 END)
             FROM cost_tenant_day WHERE day >= ?1 AND day <= ?3 GROUP BY tenant_id",
        )
        .bind(from)
        .bind(split)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get::<String, _>(0), r.get::<f64, _>(1), r.get::<f64, _>(2))).collect())
    }

    /// One tenant's spend per service over `[from, split)` and over
    /// `[split, to]`: (service, before, after), in no particular order.
    pub async fn service_cost_windows(
        &self,
        tenant: &str,
        from: &str,
        split: &str,
        to: &str,
    ) -> Result<Vec<(String, f64, f64)>, CacheError> {
        let rows = sqlx::query(
            "SELECT service, sum(CASE WHEN day < ?3 THEN amount ELSE 0.0 END), sum(CASE WHEN day >= ?3 THEN amount ELSE 0.0 END)
             FROM cost_daily WHERE tenant_id = ?1 AND day >= ?2 AND day <= ?4 GROUP BY service",
        )
        .bind(tenant)
        .bind(from)
        .bind(split)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }

    /// One tenant's daily total over `[from, to]`: (day, total), by day.
    /// The same rows as [`Cache::daily_cost`] with `Some(tenant)`.
    pub async fn tenant_daily_cost(
        &self,
        tenant: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<(String, f64)>, CacheError> {
        Ok(sqlx::query_as::<_, (String, f64)>(
            "SELECT day, total FROM cost_tenant_day WHERE tenant_id = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day",
        )
        .bind(tenant)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?)
    }
}
