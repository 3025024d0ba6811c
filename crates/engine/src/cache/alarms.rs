//! CloudWatch alarms: their current state and their state-change history.

use std::collections::{BTreeMap, HashMap};

use sqlx::Row;

use crate::model::Incident;

use super::*;

/// One cached alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmRow {
    pub tenant_id: String,
    pub region: String,
    pub arn: String,
    pub name: String,
    pub state: String,
    pub reason: String,
    pub state_changed_at: Option<i64>,
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub threshold: Option<f64>,
    /// A platform alarm: in a shared account, naming no tenant; kept on
    /// every tenant of the account-region.
    pub platform: bool,
}

/// An `alarm` row selected as (tenant_id, region, arn, name, state, reason,
/// state_changed_at, namespace, metric_name, threshold, platform).
pub(super) fn alarm_row(r: &sqlx::sqlite::SqliteRow) -> AlarmRow {
    AlarmRow {
        tenant_id: r.get(0),
        region: r.get(1),
        arn: r.get(2),
        name: r.get(3),
        state: r.get(4),
        reason: r.get(5),
        state_changed_at: r.get(6),
        namespace: r.get(7),
        metric_name: r.get(8),
        threshold: r.get(9),
        platform: r.get::<i64, _>(10) != 0,
    }
}

/// One state change of an alarm, as kept for a tenant-region.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmChange {
    pub tenant_id: String,
    pub region: String,
    pub alarm_name: String,
    /// Epoch ms.
    pub at: i64,
    /// "Alarm updated from OK to ALARM".
    pub summary: String,
}

/// (from, to) of an alarm history summary, "Alarm updated from OK to ALARM".
pub(super) fn state_change(summary: &str) -> (Option<&str>, Option<&str>) {
    let Some(rest) = summary.split_once(" from ").map(|(_, r)| r) else { return (None, None) };
    match rest.split_once(" to ") {
        Some((from, to)) => (Some(from.trim()), Some(to.trim())),
        None => (Some(rest.trim()), None),
    }
}

impl Cache {
    /// Alarm episodes (from a change into ALARM to the change out of it,
    /// open while none is seen) overlapping `[since, until]` (epoch s),
    /// from the alarm history; one tenant's with `Some`. A platform alarm
    /// is kept for each tenant it reaches: one tenant's incidents hold it,
    /// the fleet's hold it once, naming every tenant it reaches.
    pub async fn alarm_episodes(
        &self,
        tenant: Option<&str>,
        since: i64,
        until: i64,
    ) -> Result<Vec<Incident>, CacheError> {
        let tenant_filter = tenant;
        let mut out = Vec::new();
        let order = "ORDER BY tenant_id, region, alarm_name, at";
        // Whether the alarm is a platform alarm, from its current row.
        let columns = "tenant_id, region, alarm_name, at, summary, coalesce((SELECT max(a.platform) FROM alarm a
                       WHERE a.tenant_id = h.tenant_id AND a.region = h.region AND a.name = h.alarm_name), 0)";
        let history = match tenant {
            Some(t) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {columns} FROM alarm_history h WHERE tenant_id = ?2 AND at <= ?1 {order}"
            )))
            .bind(crate::clock::ms(until))
            .bind(t),
            None => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {columns} FROM alarm_history h WHERE at <= ?1 {order}"
            )))
            .bind(crate::clock::ms(until)),
        }
        .fetch_all(&self.pool)
        .await?;
        let changes: Vec<(String, String, String, i64, String, i64)> =
            history.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5))).collect();
        // A platform alarm's episodes, once for the fleet: (region, name,
        // start) -> the incident and the tenants it reaches.
        let mut platform: BTreeMap<(String, String, i64), (Incident, Vec<String>)> = BTreeMap::new();
        for alarm in changes.chunk_by(|a, b| (&a.0, &a.1, &a.2) == (&b.0, &b.1, &b.2)) {
            let (tenant, region, name) = (&alarm[0].0, &alarm[0].1, &alarm[0].2);
            let is_platform = alarm[0].5 != 0;
            let mut open: Option<(i64, &str)> = None;
            let mut episodes: Vec<(i64, Option<i64>, &str)> = Vec::new();
            for (_, _, _, at, summary, _) in alarm {
                let (from, to) = state_change(summary);
                if to == Some("ALARM") {
                    if let Some((start, s)) = open.take() {
                        episodes.push((start, Some(*at), s));
                    }
                    open = Some((*at, summary));
                } else if from == Some("ALARM") || open.is_some() {
                    match open.take() {
                        Some((start, s)) => episodes.push((start, Some(*at), s)),
                        None => episodes.push((*at, Some(*at), summary)),
                    }
                }
            }
            if let Some((start, s)) = open {
                episodes.push((start, None, s));
            }
            for (start, end, summary) in episodes {
                if end.is_some_and(|e| e < crate::clock::ms(since)) {
                    continue;
                }
                let incident = Incident {
                    tenant: tenant.clone(),
                    region: region.clone(),
                    kind: crate::model::IncidentKind::Alarm,
                    subject: name.clone(),
                    start,
                    end,
                    title: if is_platform {
                        format!("platform alarm {name}: {summary}")
                    } else {
                        format!("alarm {name}: {summary}")
                    },
                    evidence: Vec::new(),
                };
                if is_platform && tenant_filter.is_none() {
                    let slot =
                        platform.entry((region.clone(), name.clone(), start)).or_insert_with(|| (incident, Vec::new()));
                    slot.1.push(tenant.clone());
                } else {
                    out.push(incident);
                }
            }
        }
        for (_, (mut incident, mut tenants)) in platform {
            tenants.sort();
            tenants.dedup();
            incident.tenant = tenants[0].clone();
            incident.title = format!(
                "platform alarm {} (shared account, reaches {} tenant{}: {}): {}",
                incident.subject,
                tenants.len(),
                if tenants.len() == 1 { "" } else { "s" },
                tenants.join(", "),
                incident.title.split_once(": ").map_or("", |(_, s)| s)
            );
            out.push(incident);
        }
        Ok(out)
    }

    /// Replace the alarms of the given tenant-regions with what was read.
    pub async fn replace_alarms(
        &self,
        scope: &[(String, String)],
        alarms: &[AlarmRow],
        now_ms: i64,
    ) -> Result<(), CacheError> {
        let mut tx = self.pool.begin().await?;
        for (tenant, region) in scope {
            sqlx::query("DELETE FROM alarm WHERE tenant_id = ?1 AND region = ?2")
                .bind(tenant)
                .bind(region)
                .execute(&mut *tx)
                .await?;
        }
        for a in alarms {
            sqlx::query(
                "INSERT OR REPLACE INTO alarm (tenant_id, region, arn, name, state, reason, state_changed_at, namespace, metric_name, threshold, synced_at, platform)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )
            .bind(&a.tenant_id)
            .bind(&a.region)
            .bind(&a.arn)
            .bind(&a.name)
            .bind(&a.state)
            .bind(&a.reason)
            .bind(a.state_changed_at)
            .bind(&a.namespace)
            .bind(&a.metric_name)
            .bind(a.threshold)
            .bind(now_ms)
            .bind(i64::from(a.platform))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Add alarms' state changes (already known ones are kept once).
    pub async fn put_alarm_history(&self, items: &[AlarmChange]) -> Result<(), CacheError> {
        let mut tx = self.pool.begin().await?;
        for c in items {
            sqlx::query(
                "INSERT OR REPLACE INTO alarm_history (tenant_id, region, alarm_name, at, summary) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .bind(&c.tenant_id)
            .bind(&c.region)
            .bind(&c.alarm_name)
            .bind(c.at)
            .bind(&c.summary)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The newest state change on record (epoch ms) of every alarm, by
    /// (tenant, region) and alarm name: where the next history read of an
    /// account-region starts. One read for the whole fleet (per
    /// tenant-region it took a second of the F200 re-sync).
    pub async fn alarm_history_newest(&self) -> Result<HashMap<(String, String), HashMap<String, i64>>, CacheError> {
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT tenant_id, region, alarm_name, max(at) FROM alarm_history GROUP BY tenant_id, region, alarm_name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: HashMap<(String, String), HashMap<String, i64>> = HashMap::new();
        for (tenant, region, name, at) in rows {
            out.entry((tenant, region)).or_default().insert(name, at);
        }
        Ok(out)
    }

    pub async fn alarms(&self, tenant: &str, region: &str) -> Result<Vec<AlarmRow>, CacheError> {
        let rows = sqlx::query(
            "SELECT tenant_id, region, arn, name, state, reason, state_changed_at, namespace, metric_name, threshold, platform
             FROM alarm WHERE tenant_id = ?1 AND region = ?2 ORDER BY name",
        )
        .bind(tenant)
        .bind(region)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(alarm_row).collect())
    }

    /// Every cached alarm, by tenant, region and name.
    pub async fn all_alarms(&self) -> Result<Vec<AlarmRow>, CacheError> {
        let rows = sqlx::query(
            "SELECT tenant_id, region, arn, name, state, reason, state_changed_at, namespace, metric_name, threshold, platform
             FROM alarm ORDER BY tenant_id, region, name",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(alarm_row).collect())
    }

    /// A tenant-region's alarms on one CloudWatch metric that have a
    /// threshold, the first four by name: (name, state, threshold).
    pub async fn metric_alarms(
        &self,
        tenant: &str,
        region: &str,
        namespace: &str,
        metric_name: &str,
    ) -> Result<Vec<(String, String, f64)>, CacheError> {
        Ok(sqlx::query_as(
            "SELECT name, state, threshold FROM alarm
             WHERE tenant_id = ?1 AND region = ?2 AND namespace = ?3 AND metric_name = ?4 AND threshold IS NOT NULL
             ORDER BY name LIMIT 4",
        )
        .bind(tenant)
        .bind(region)
        .bind(namespace)
        .bind(metric_name)
        .fetch_all(&self.pool)
        .await?)
    }

    /// How many alarms of active tenants are in ALARM.
    pub async fn open_alarm_count(&self) -> Result<i64, CacheError> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM alarm a JOIN tenant t ON t.id = a.tenant_id WHERE a.state = 'ALARM' AND t.active = 1",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Every alarm in ALARM: (tenant, region, epoch ms of its last state
    /// change, or `now` (epoch s) in ms when none is known).
    pub async fn alarms_in_alarm(&self, now: i64) -> Result<Vec<(String, String, i64)>, CacheError> {
        Ok(sqlx::query_as(
            "SELECT tenant_id, region, coalesce(state_changed_at, ?1 * 1000) FROM alarm WHERE state = 'ALARM'",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A tenant's alarms, those in ALARM first, then by region and name:
    /// (region, name, state, reason, state changed at (epoch ms),
    /// namespace, metric name, threshold).
    #[allow(clippy::type_complexity)]
    pub async fn tenant_alarms(
        &self,
        tenant: &str,
    ) -> Result<
        Vec<(String, String, String, String, Option<i64>, Option<String>, Option<String>, Option<f64>)>,
        CacheError,
    > {
        let rows = sqlx::query(
            "SELECT region, name, state, reason, state_changed_at, namespace, metric_name, threshold FROM alarm
             WHERE tenant_id = ?1 ORDER BY state != 'ALARM', region, name",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|a| (a.get(0), a.get(1), a.get(2), a.get(3), a.get(4), a.get(5), a.get(6), a.get(7)))
            .collect())
    }
}
