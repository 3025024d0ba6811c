//! Anomaly episodes (each series' own and peer departures), the detectors'
//! saved state, and the incidents timeline built from them.

use std::collections::HashMap;

use sqlx::{Row, Sqlite, Transaction};

use crate::clock;
use crate::detect::{AnomalyEvent, Direction, Hold, Season};
use crate::model::Incident;

use super::*;

/// A series' saved anomaly detector and its ongoing episode, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedDetector {
    pub series_id: i64,
    /// [`crate::detect::Detector::to_bytes`].
    pub state: Vec<u8>,
    /// Epoch seconds of the last point the detector scored.
    pub through_ts: i64,
    pub open: Option<AnomalyEvent>,
    /// What holds the ongoing episode open ([`crate::detect::Hold`]); `None`
    /// for an episode stored before holds were (it ends the old way).
    pub hold: Option<Hold>,
}

/// A series' detector after scoring new points, and the episodes to store:
/// new ones, and the ongoing one extended or closed.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredSeries {
    pub series_id: i64,
    pub state: Vec<u8>,
    pub through_ts: i64,
    /// Points scored.
    pub points: u64,
    pub episodes: Vec<AnomalyRow>,
    /// What holds the last episode open, when it is ongoing.
    pub hold: Option<Hold>,
}

/// One anomaly episode of a tenant-region's metric.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyRow {
    pub series_id: i64,
    pub tenant_id: String,
    pub region: String,
    pub metric_key: String,
    /// Times in epoch seconds.
    pub event: AnomalyEvent,
    pub explanation: String,
}

/// Which kind of peer anomaly a [`PeerRow`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerKind {
    /// One tenant-region departs from its tier's peers (incident kind `peer`).
    Peer,
    /// Most tenant-regions of a region or a tier moved together (incident
    /// kind `fleet`).
    Fleet,
    /// A tenant's load rose while its pool-mates slowed down with it
    /// (incident kind `neighbour`): the members are the pool-mates.
    Neighbour,
}

impl PeerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PeerKind::Peer => "peer",
            PeerKind::Fleet => "fleet",
            PeerKind::Neighbour => "neighbour",
        }
    }
}

/// One peer departure or fleet-wide shift ([`crate::peers`]). Times in
/// epoch seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerRow {
    pub kind: PeerKind,
    /// The departing tenant; `*` for a fleet shift.
    pub tenant_id: String,
    /// Its region; a fleet shift's region, or `*` for a tier's shift.
    pub region: String,
    /// The peers' tier; `*` for a region's shift.
    pub tier: String,
    pub metric_key: String,
    pub direction: Direction,
    pub start: i64,
    /// `None` while ongoing.
    pub end: Option<i64>,
    pub through: i64,
    /// At the peak: the tenant's change against its usual level (peer), or
    /// the group's median change (fleet); and the peers' median change.
    pub change: f64,
    pub peer_change: f64,
    /// Fleet: tenant-regions that moved, of `compared` in the group. Peer:
    /// 1, and the number of peers compared with.
    pub moved: u32,
    pub compared: u32,
    pub title: String,
    /// Fleet: the (tenant, region)s that moved, sorted; peer: empty.
    pub members: Vec<(String, String)>,
}

impl PeerRow {
    /// What identifies an episode across syncs (with its start).
    pub fn subject(&self) -> (PeerKind, &str, &str, &str, &str) {
        (self.kind, &self.tenant_id, &self.region, &self.tier, &self.metric_key)
    }
}

/// An anomaly episode as the heatmap paints it: where, and from when to
/// when (epoch s; an ongoing one to its latest point).
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalySpan {
    pub tenant_id: String,
    pub region: String,
    pub metric_key: String,
    pub start: i64,
    pub end: i64,
    pub direction: Direction,
}

/// The columns [`anomaly_row`] reads, in its order.
pub(super) const ANOMALY_COLUMNS: &str =
    "series_id, tenant_id, region, metric_key, start, \"end\", through_ts, peak_score, \
     direction, peak_ts, peak_value, expected, season, explanation";

pub(super) fn anomaly_row(r: &sqlx::sqlite::SqliteRow) -> AnomalyRow {
    let direction = match r.get::<&str, _>(8) {
        "down" => Direction::Down,
        _ => Direction::Up,
    };
    let season = match r.get::<&str, _>(12) {
        "daily" => Season::Daily,
        "weekly" => Season::Weekly,
        _ => Season::None,
    };
    AnomalyRow {
        series_id: r.get(0),
        tenant_id: r.get(1),
        region: r.get(2),
        metric_key: r.get(3),
        event: AnomalyEvent {
            start: r.get(4),
            end: r.get(5),
            through: r.get(6),
            peak_score: r.get(7),
            direction,
            peak_ts: r.get(9),
            peak_value: r.get(10),
            expected: r.get(11),
            season,
        },
        explanation: r.get(13),
    }
}

/// Save detectors, 200 a statement. A state never replaces a newer one.
pub(super) async fn put_detectors(tx: &mut Transaction<'_, Sqlite>, scored: &[ScoredSeries]) -> Result<(), CacheError> {
    for chunk in scored.chunks(200) {
        let sql = format!(
            "INSERT INTO detector_state (series_id, state, through_ts) VALUES {}
             ON CONFLICT (series_id) DO UPDATE SET state = excluded.state, through_ts = excluded.through_ts
             WHERE excluded.through_ts > detector_state.through_ts",
            placeholders(chunk.len(), "(?,?,?)")
        );
        // Built only from placeholders; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for s in chunk {
            q = q.bind(s.series_id).bind(&s.state).bind(s.through_ts);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Upsert anomaly episodes on (tenant, region, metric, start), 50 a
/// statement: an ongoing episode is updated in place.
pub(super) async fn put_anomalies(
    tx: &mut Transaction<'_, Sqlite>,
    episodes: &[(&AnomalyRow, Option<Hold>)],
) -> Result<(), CacheError> {
    for chunk in episodes.chunks(40) {
        let sql = format!(
            "INSERT INTO anomaly (tenant_id, region, metric_key, start, \"end\", peak_score, direction, peak_ts,
               peak_value, expected, explanation, through_ts, season, series_id,
               hold_track, hold_level, hold_spread, hold_bar) VALUES {}
             ON CONFLICT (tenant_id, region, metric_key, start) DO UPDATE SET \"end\" = excluded.\"end\",
               peak_score = excluded.peak_score, direction = excluded.direction, peak_ts = excluded.peak_ts,
               peak_value = excluded.peak_value, expected = excluded.expected, explanation = excluded.explanation,
               through_ts = excluded.through_ts, season = excluded.season, series_id = excluded.series_id,
               hold_track = excluded.hold_track, hold_level = excluded.hold_level,
               hold_spread = excluded.hold_spread, hold_bar = excluded.hold_bar",
            placeholders(chunk.len(), "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
        );
        // Built only from placeholders; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (a, hold) in chunk {
            let e = &a.event;
            let direction = match e.direction {
                Direction::Up => "up",
                Direction::Down => "down",
            };
            let season = match e.season {
                Season::None => "none",
                Season::Daily => "daily",
                Season::Weekly => "weekly",
            };
            q = q
                .bind(&a.tenant_id)
                .bind(&a.region)
                .bind(&a.metric_key)
                .bind(e.start)
                .bind(e.end)
                .bind(e.peak_score)
                .bind(direction)
                .bind(e.peak_ts)
                .bind(e.peak_value)
                .bind(e.expected)
                .bind(&a.explanation)
                .bind(e.through)
                .bind(season)
                .bind(a.series_id)
                .bind(hold.map(|h| i64::from(h.track)))
                .bind(hold.map(|h| h.level))
                .bind(hold.map(|h| h.spread))
                .bind(hold.map(|h| h.bar));
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// How long before a fleet-wide shift's start a member's own episode may
/// end and still be that shift, told again (see [`Cache::incidents_for`]).
pub const FLEET_SHIFT_LEAD_SECS: i64 = 10 * 60;

/// An anomaly episode `a` that is not a fleet-wide shift told again: a
/// member's own episode is the shift told again when it overlaps the shift,
/// or ends just before it, by up to [`FLEET_SHIFT_LEAD_SECS`] (the shift is
/// judged on 20-minute medians, so it starts minutes after the members' own
/// detectors fire). Built only from constants.
fn not_a_fleet_shift_told_again() -> String {
    format!(
        "NOT EXISTS (
           SELECT 1 FROM fleet_member m JOIN peer_anomaly p ON p.id = m.peer_id
           WHERE m.tenant_id = a.tenant_id AND m.region = a.region AND p.kind = 'fleet'
             AND p.metric_key = a.metric_key AND p.direction = a.direction
             AND a.start <= p.through_ts AND a.through_ts >= p.start - {FLEET_SHIFT_LEAD_SECS})"
    )
}

impl Cache {
    /// The saved detectors of these series (those that have one), each with
    /// its ongoing episode. Two statements per thousand series.
    pub async fn saved_detectors(&self, series: &[i64]) -> Result<HashMap<i64, SavedDetector>, CacheError> {
        let mut out: HashMap<i64, SavedDetector> = HashMap::with_capacity(series.len());
        // Within SQLite's bound-parameter limit with room to spare.
        for chunk in series.chunks(1000) {
            let ids = placeholders(chunk.len(), "?");
            let sql = format!("SELECT series_id, state, through_ts FROM detector_state WHERE series_id IN ({ids})");
            // Built only from placeholders; every value is bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await? {
                let id: i64 = r.get(0);
                out.insert(
                    id,
                    SavedDetector { series_id: id, state: r.get(1), through_ts: r.get(2), open: None, hold: None },
                );
            }
            let sql = format!(
                "SELECT {ANOMALY_COLUMNS}, hold_track, hold_level, hold_spread, hold_bar FROM anomaly
                 WHERE \"end\" IS NULL AND series_id IN ({ids})"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id);
            }
            // A series has at most one ongoing episode; should two ever be
            // found (a crash between versions), the newest is continued.
            let mut rows: Vec<(AnomalyRow, Option<Hold>)> = q
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| {
                    let hold = match (r.get::<Option<i64>, _>(14), r.get(15), r.get(16), r.get(17)) {
                        (Some(track), Some(level), Some(spread), Some(bar)) => {
                            Some(Hold { track: u8::try_from(track).unwrap_or(0).min(2), level, spread, bar })
                        }
                        _ => None,
                    };
                    (anomaly_row(r), hold)
                })
                .collect();
            rows.sort_by_key(|(a, _)| (a.series_id, a.event.start));
            for (a, hold) in rows {
                if let Some(saved) = out.get_mut(&a.series_id) {
                    saved.open = Some(a.event);
                    saved.hold = hold;
                }
            }
        }
        Ok(out)
    }

    /// Anomaly episodes of the whole fleet whose latest point is at or after
    /// `since` (epoch s): ongoing ones, and those that ended since. One
    /// statement, by tenant, region, metric and start.
    pub async fn recent_anomalies(&self, since: i64) -> Result<Vec<AnomalyRow>, CacheError> {
        let sql = format!(
            "SELECT {ANOMALY_COLUMNS} FROM anomaly WHERE through_ts >= ?1 ORDER BY tenant_id, region, metric_key, start"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(since).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(anomaly_row).collect())
    }

    /// Peer departures and fleet shifts whose latest window ended at or
    /// after `since` (epoch s), ongoing or not, with their members.
    pub async fn recent_peer_anomalies(&self, since: i64) -> Result<Vec<PeerRow>, CacheError> {
        self.peer_rows("through_ts >= ?1", Some(since)).await
    }

    /// The ongoing peer departures and fleet shifts, for the next sync to
    /// continue or close.
    pub async fn open_peer_anomalies(&self) -> Result<Vec<PeerRow>, CacheError> {
        self.peer_rows("\"end\" IS NULL", None).await
    }

    pub(super) async fn peer_rows(&self, condition: &str, bound: Option<i64>) -> Result<Vec<PeerRow>, CacheError> {
        // `condition` is one of this module's constants, never input.
        let sql = format!(
            "SELECT id, kind, tenant_id, region, tier, metric_key, direction, start, \"end\", through_ts, change,
                    peer_change, moved, compared, title
             FROM peer_anomaly WHERE {condition} ORDER BY kind, tenant_id, region, tier, metric_key, start"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(bound) = bound {
            q = q.bind(bound);
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut out: Vec<(i64, PeerRow)> = rows
            .iter()
            .map(|r| {
                let row = PeerRow {
                    kind: match r.get::<&str, _>(1) {
                        "fleet" => PeerKind::Fleet,
                        "neighbour" => PeerKind::Neighbour,
                        _ => PeerKind::Peer,
                    },
                    tenant_id: r.get(2),
                    region: r.get(3),
                    tier: r.get(4),
                    metric_key: r.get(5),
                    direction: if r.get::<&str, _>(6) == "down" { Direction::Down } else { Direction::Up },
                    start: r.get(7),
                    end: r.get(8),
                    through: r.get(9),
                    change: r.get(10),
                    peer_change: r.get(11),
                    moved: r.get::<i64, _>(12) as u32,
                    compared: r.get::<i64, _>(13) as u32,
                    title: r.get(14),
                    members: Vec::new(),
                };
                (r.get(0), row)
            })
            .collect();
        let fleet: Vec<i64> = out.iter().filter(|(_, p)| p.kind != PeerKind::Peer).map(|(id, _)| *id).collect();
        for chunk in fleet.chunks(500) {
            let sql = format!(
                "SELECT peer_id, tenant_id, region FROM fleet_member WHERE peer_id IN ({}) ORDER BY 1, 2, 3",
                placeholders(chunk.len(), "?")
            );
            // Built only from placeholders; every value is bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await? {
                let id: i64 = r.get(0);
                if let Some((_, p)) = out.iter_mut().find(|(i, _)| *i == id) {
                    p.members.push((r.get(1), r.get(2)));
                }
            }
        }
        Ok(out.into_iter().map(|(_, p)| p).collect())
    }

    /// Store what one analysis pass found, in one transaction: new episodes
    /// inserted, ongoing ones extended or closed in place (upsert on kind,
    /// tenant, region, tier, metric and start); a fleet shift's members are
    /// added to, never taken from.
    pub async fn put_peer_anomalies(&self, rows: &[PeerRow]) -> Result<(), CacheError> {
        let mut tx = self.pool.begin().await?;
        for p in rows {
            let direction = match p.direction {
                Direction::Up => "up",
                Direction::Down => "down",
            };
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO peer_anomaly (kind, tenant_id, region, tier, metric_key, direction, start, \"end\",
                   through_ts, change, peer_change, moved, compared, title)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                 ON CONFLICT (kind, tenant_id, region, tier, metric_key, start) DO UPDATE SET
                   direction = excluded.direction, \"end\" = excluded.\"end\", through_ts = excluded.through_ts,
                   change = excluded.change, peer_change = excluded.peer_change, moved = excluded.moved,
                   compared = excluded.compared, title = excluded.title
                 RETURNING id",
            )
            .bind(p.kind.as_str())
            .bind(&p.tenant_id)
            .bind(&p.region)
            .bind(&p.tier)
            .bind(&p.metric_key)
            .bind(direction)
            .bind(p.start)
            .bind(p.end)
            .bind(p.through)
            .bind(p.change)
            .bind(p.peer_change)
            .bind(i64::from(p.moved))
            .bind(i64::from(p.compared))
            .bind(&p.title)
            .fetch_one(&mut *tx)
            .await?;
            for (tenant, region) in &p.members {
                sqlx::query("INSERT OR IGNORE INTO fleet_member (peer_id, tenant_id, region) VALUES (?1, ?2, ?3)")
                    .bind(id)
                    .bind(tenant)
                    .bind(region)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The incident timeline between `since` and `until` (epoch s): anomaly
    /// episodes, peer departures (kind `peer`), fleet-wide shifts (kind
    /// `fleet`, tenant `*`, region the region or `*`) and alarm episodes
    /// (from the alarms' state changes) that overlap it, newest first.
    ///
    /// A fleet shift is one incident for everybody: the anomalies of its
    /// members on its metric, in its direction and overlapping it, are not
    /// listed again one by one.
    ///
    /// An alarm episode runs from a change into ALARM to the next change out
    /// of it; one still in ALARM has no end. A change out of ALARM whose
    /// start is older than the history kept is shown as that change alone.
    pub async fn incidents(&self, since: i64, until: i64) -> Result<Vec<Incident>, CacheError> {
        self.incidents_for(None, since, until).await
    }

    /// [`Cache::incidents`] of one tenant (`Some`): its own episodes, and
    /// the fleet-wide shifts it moved with.
    pub async fn incidents_for(
        &self,
        tenant: Option<&str>,
        since: i64,
        until: i64,
    ) -> Result<Vec<Incident>, CacheError> {
        let mut out = Vec::new();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT a.tenant_id, a.region, a.metric_key, a.start, a.\"end\", a.through_ts, a.explanation FROM anomaly a
                 WHERE a.start <= ?2 AND a.through_ts >= ?1 AND (?3 IS NULL OR a.tenant_id = ?3) AND {}",
            not_a_fleet_shift_told_again()
        )))
        .bind(since)
        .bind(until)
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            out.push(Incident {
                tenant: r.get(0),
                region: r.get(1),
                kind: crate::model::IncidentKind::Anomaly,
                subject: r.get(2),
                start: clock::ms(r.get(3)),
                end: r.get::<Option<i64>, _>(4).map(clock::ms),
                title: r.get(6),
                evidence: Vec::new(),
            });
        }
        let rows = sqlx::query(
            "SELECT p.kind, p.tenant_id, p.region, p.metric_key, p.start, p.\"end\", p.title FROM peer_anomaly p
             WHERE p.start <= ?2 AND p.through_ts >= ?1
               AND (?3 IS NULL OR p.tenant_id = ?3
                    OR EXISTS (SELECT 1 FROM fleet_member m WHERE m.peer_id = p.id AND m.tenant_id = ?3))",
        )
        .bind(since)
        .bind(until)
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            out.push(Incident {
                kind: match r.get::<&str, _>(0) {
                    "fleet" => crate::model::IncidentKind::Fleet,
                    "neighbour" => crate::model::IncidentKind::Neighbour,
                    _ => crate::model::IncidentKind::Peer,
                },
                tenant: r.get(1),
                region: r.get(2),
                subject: r.get(3),
                start: clock::ms(r.get(4)),
                end: r.get::<Option<i64>, _>(5).map(clock::ms),
                title: r.get(6),
                evidence: Vec::new(),
            });
        }

        out.extend(self.alarm_episodes(tenant, since, until).await?);
        out.sort_by(|a, b| {
            (b.start, &a.tenant, &a.region, a.kind.as_str(), &a.subject).cmp(&(
                a.start,
                &b.tenant,
                &b.region,
                b.kind.as_str(),
                &b.subject,
            ))
        });
        Ok(out)
    }

    /// The anomaly episodes of a tenant-region's metric that overlap
    /// `[from, to)` (epoch s), as (start, end) by start; an ongoing one runs
    /// to its latest point, and each is `period` seconds longer (a
    /// one-point episode still covers its period).
    pub async fn anomaly_spans(
        &self,
        tenant: &str,
        region: &str,
        metric_key: &str,
        (from, to): (i64, i64),
        period: i64,
    ) -> Result<Vec<(i64, i64)>, CacheError> {
        Ok(sqlx::query_as(
            "SELECT start, coalesce(\"end\", through_ts) + ?6 FROM anomaly
             WHERE tenant_id = ?1 AND region = ?2 AND metric_key = ?3 AND start < ?5 AND coalesce(\"end\", through_ts) >= ?4
             ORDER BY start",
        )
        .bind(tenant)
        .bind(region)
        .bind(metric_key)
        .bind(from)
        .bind(to)
        .bind(period)
        .fetch_all(&self.pool)
        .await?)
    }

    /// How many anomaly episodes of active tenants the timeline of
    /// `[since, until]` (epoch s) shows: those that overlap it, less the
    /// fleet-wide shifts told again (as [`Cache::incidents`] leaves them
    /// out). The Fleet view's count opens the Incidents view: it must
    /// count what that view lists.
    pub async fn active_anomalies_between(&self, since: i64, until: i64) -> Result<i64, CacheError> {
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM anomaly a JOIN tenant t ON t.id = a.tenant_id
             WHERE a.start <= ?2 AND a.through_ts >= ?1 AND t.active = 1 AND {}",
            not_a_fleet_shift_told_again()
        )))
        .bind(since)
        .bind(until)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Every anomaly episode that overlaps `[since, until)` (epoch s), in
    /// no particular order.
    pub async fn anomaly_spans_between(&self, since: i64, until: i64) -> Result<Vec<AnomalySpan>, CacheError> {
        let rows = sqlx::query(
            "SELECT tenant_id, region, metric_key, start, coalesce(\"end\", through_ts), direction FROM anomaly
             WHERE start < ?2 AND coalesce(\"end\", through_ts) >= ?1",
        )
        .bind(since)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| AnomalySpan {
                tenant_id: r.get(0),
                region: r.get(1),
                metric_key: r.get(2),
                start: r.get(3),
                end: r.get(4),
                direction: if r.get::<&str, _>(5) == "down" { Direction::Down } else { Direction::Up },
            })
            .collect())
    }
}
