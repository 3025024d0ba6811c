//! The cache's own tests: files, migrations, the commit path.

use super::anomalies::*;
use super::series::*;
use super::*;
use crate::detect::{AnomalyEvent, Direction, Hold, Season};
use crate::model::SourceStatus;

#[tokio::test]
async fn a_new_cache_file_and_its_wal_are_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/cache.sqlite");
    let cache = Cache::open(&path).await.unwrap();
    cache.set_meta("k", "v").await.unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("sub")), 0o700);
        assert_eq!(mode(&dir.path().join("sub/cache.sqlite-wal")), 0o600);
    }
    assert_eq!(cache.meta("k").await.unwrap().as_deref(), Some("v"));
}

#[tokio::test]
async fn a_corrupt_cache_is_moved_aside_and_a_fresh_one_built() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite");
    let garbage = b"this is not a database, it is a shopping list: eggs, milk".repeat(200);
    std::fs::write(&path, &garbage).unwrap();
    let cache = Cache::open(&path).await.expect("a fresh cache instead of a crash");
    let r = cache.recovered().expect("the bad file was noticed").clone();
    assert_eq!(std::fs::read(&r.moved_to).unwrap(), garbage, "nothing lost: the bad file is kept as it was");
    assert!(r.reason.contains("not a database"), "{}", r.reason);
    cache.set_meta("k", "v").await.unwrap();
    drop(cache);
    // And the next start is a normal one: no loop of moving aside.
    let again = Cache::open(&path).await.unwrap();
    assert!(again.recovered().is_none());
    assert_eq!(again.meta("k").await.unwrap().as_deref(), Some("v"));
}

#[tokio::test]
async fn a_cache_from_a_newer_fleetdeck_is_refused_not_moved() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite");
    let cache = Cache::open(&path).await.unwrap();
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (9999, 'future', 1, x'00', 0)")
        .execute(cache.pool())
        .await
        .unwrap();
    drop(cache);
    let err = Cache::open(&path).await.unwrap_err();
    assert!(err.to_string().contains("written by a newer fleetdeck (schema version 9999)"), "{err}");
    assert!(path.exists(), "the newer cache stays where it is");
}

/// A cache written by each earlier release (every schema version before
/// the latest, as that release's migrations left it, with data in it)
/// opens in this one: the missing migrations are applied and nothing is
/// lost, and what the newest migration added (episode holds, peer
/// anomalies) works on it.
#[tokio::test]
async fn a_cache_from_each_earlier_schema_is_migrated_and_keeps_its_data() {
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap();
    assert!(latest >= 4);
    for version in 1..latest {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        {
            let options = SqliteConnectOptions::new().filename(&path).create_if_missing(true);
            let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap();
            MIGRATOR.run_to(version, &pool).await.unwrap();
            for sql in [
                "INSERT INTO tenant (id, name, tier, model, account, home_region, regions) VALUES ('a','A','t','silo','111111111111','us-east-1','[\"us-east-1\"]')",
                "INSERT INTO series (id, tenant_id, region, metric_key, namespace, metric_name, dimensions, stat, period, unit, watermark)
                 VALUES (7, 'a', 'us-east-1', 'errors', 'N', 'M', '{}', 'Sum', 60, 'count', 180)",
                "INSERT INTO datapoint (series_id, ts, value) VALUES (7, 60, 1.5), (7, 120, 2.5)",
                "INSERT INTO alarm (tenant_id, region, arn, name, state, reason, synced_at) VALUES ('a','us-east-1','arn:x','a-errors','ALARM','r',1)",
            ] {
                sqlx::query(sql).execute(&pool).await.unwrap();
            }
            if version >= 8 {
                // A fleet shift and its member (0015 rebuilds both tables).
                sqlx::query("INSERT INTO peer_anomaly (id, kind, tenant_id, region, tier, metric_key, direction, start, \"end\", through_ts, change, peer_change, moved, compared, title)
                             VALUES (3, 'fleet', '*', 'us-east-1', '*', 'requests', 'up', 5000, 5600, 5600, 2.0, 2.0, 1, 1, 'shift')")
                    .execute(&pool)
                    .await
                    .unwrap();
                sqlx::query("INSERT INTO fleet_member (peer_id, tenant_id, region) VALUES (3, 'a', 'us-east-1')")
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            if version >= 3 {
                sqlx::query("INSERT INTO alarm_history (tenant_id, region, alarm_name, at, summary) VALUES ('a','us-east-1','a-errors',1000,'Alarm updated from OK to ALARM')")
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            pool.close().await;
        }
        let cache = Cache::open(&path).await.unwrap_or_else(|e| panic!("schema {version}: {e}"));
        assert!(cache.recovered().is_none(), "schema {version}: the old cache was moved aside");
        let applied: i64 =
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations").fetch_one(cache.pool()).await.unwrap();
        assert_eq!(applied, latest, "schema {version}");
        assert_eq!(cache.latest_points("a", "us-east-1", "errors", 5).await.unwrap(), vec![(120, 2.5), (60, 1.5)]);
        assert_eq!(cache.alarms("a", "us-east-1").await.unwrap().len(), 1, "schema {version}");
        if version >= 8 {
            let peers = cache.recent_peer_anomalies(0).await.unwrap();
            let kept: Vec<(&str, &[(String, String)])> =
                peers.iter().map(|p| (p.title.as_str(), p.members.as_slice())).collect();
            assert_eq!(kept, [("shift", &[("a".to_string(), "us-east-1".to_string())][..])], "schema {version}");
        }
        // The points written before rollups existed are summarised (0007).
        let hours: Vec<(i64, i64, f64, f64)> =
            sqlx::query_as("SELECT res, n, lo, hi FROM rollup WHERE series_id = 7 ORDER BY res")
                .fetch_all(cache.pool())
                .await
                .unwrap();
        if version < 7 {
            assert_eq!(hours, vec![(3600, 2, 1.5, 2.5), (86_400, 2, 1.5, 2.5)], "schema {version}");
        }
        // The new tables are there and usable.
        let (id, wm) = cache
            .series(&SeriesKey {
                tenant_id: "a",
                region: "us-east-1",
                metric_key: "errors",
                namespace: "N",
                metric_name: "M",
                dimensions: "{}",
                stat: "Sum",
                period: 60,
                unit: "count",
            })
            .await
            .unwrap();
        assert_eq!((id, wm), (7, Some(180)), "schema {version}");
        let event = AnomalyEvent {
            start: 120,
            end: None,
            through: 120,
            peak_score: 0.9,
            direction: Direction::Up,
            peak_ts: 120,
            peak_value: 2.5,
            expected: 1.0,
            season: Season::None,
        };
        let scored = ScoredSeries {
            series_id: 7,
            state: vec![1, 2, 3],
            through_ts: 120,
            points: 2,
            episodes: vec![AnomalyRow {
                series_id: 7,
                tenant_id: "a".into(),
                region: "us-east-1".into(),
                metric_key: "errors".into(),
                event: event.clone(),
                explanation: "errors 2.5x".into(),
            }],
            hold: Some(Hold { track: 1, level: 1.0, spread: 0.5, bar: 7.0 }),
        };
        cache.commit_points_scored(&[], &[scored]).await.unwrap();
        let saved = cache.saved_detectors(&[7]).await.unwrap();
        assert_eq!(saved[&7].open.as_ref(), Some(&event), "schema {version}");
        assert_eq!(saved[&7].hold, Some(Hold { track: 1, level: 1.0, spread: 0.5, bar: 7.0 }), "schema {version}");
        let incidents = cache.incidents(0, 1_000).await.unwrap();
        let kinds: Vec<&str> = incidents.iter().map(|i| i.kind.as_str()).collect();
        let want: &[&str] = if version >= 3 { &["anomaly", "alarm"] } else { &["anomaly"] };
        assert_eq!(kinds, want, "schema {version}: {incidents:?}");

        let departure = PeerRow {
            kind: PeerKind::Peer,
            tenant_id: "a".into(),
            region: "us-east-1".into(),
            tier: "t".into(),
            metric_key: "errors".into(),
            direction: Direction::Up,
            start: 60,
            end: None,
            through: 180,
            change: 6.0,
            peer_change: 1.0,
            moved: 1,
            compared: 5,
            title: "errors 6x the t tier's median change".into(),
            members: vec![],
        };
        let shift = PeerRow {
            kind: PeerKind::Fleet,
            tenant_id: "*".into(),
            region: "us-east-1".into(),
            tier: "*".into(),
            change: 2.0,
            peer_change: 2.0,
            moved: 4,
            title: "errors 2x across us-east-1".into(),
            members: vec![("a".into(), "us-east-1".into())],
            start: 100,
            through: 240,
            ..departure.clone()
        };
        cache.put_peer_anomalies(&[departure.clone(), shift.clone()]).await.unwrap();
        assert_eq!(cache.open_peer_anomalies().await.unwrap(), vec![shift, departure], "schema {version}");
        let kinds: Vec<String> =
            cache.incidents(0, 1_000).await.unwrap().iter().map(|i| format!("{} {}", i.kind, i.tenant)).collect();
        // The anomaly of tenant a overlaps the shift it moved with: told once, by the shift.
        let want: &[&str] = if version >= 3 { &["fleet *", "peer a", "alarm a"] } else { &["fleet *", "peer a"] };
        assert_eq!(kinds, want, "schema {version}");
    }
}

#[tokio::test]
async fn re_committing_points_updates_instead_of_duplicating() {
    let cache = Cache::in_memory().await.unwrap();
    sqlx::query("INSERT INTO tenant (id, name, tier, model, account, home_region, regions) VALUES ('a','A','t','silo','111111111111','us-east-1','[]')")
        .execute(cache.pool())
        .await
        .unwrap();
    let key = SeriesKey {
        tenant_id: "a",
        region: "us-east-1",
        metric_key: "errors",
        namespace: "N",
        metric_name: "M",
        dimensions: "{}",
        stat: "Sum",
        period: 60,
        unit: "count",
    };
    let (id, wm) = cache.series(&key).await.unwrap();
    assert_eq!(wm, None);
    cache
        .commit_points(&[PointBatch { series_id: id, points: vec![(60, 1.0), (120, 2.0)], watermark: 180 }])
        .await
        .unwrap();
    cache
        .commit_points(&[PointBatch { series_id: id, points: vec![(120, 5.0), (180, 3.0)], watermark: 240 }])
        .await
        .unwrap();
    assert_eq!(cache.datapoint_count().await.unwrap(), 3);
    let (same, wm) = cache.series(&key).await.unwrap();
    assert_eq!((same, wm), (id, Some(240)));
    assert_eq!(cache.latest_points("a", "us-east-1", "errors", 2).await.unwrap(), vec![(180, 3.0), (120, 5.0)]);
}

type Hour = (i64, i64, f64, f64, f64);

/// A series' hourly rollup (start, n, sum, lo, hi) as kept, and as
/// computed afresh from its raw rows.
async fn hours_kept_and_from_rows(cache: &Cache, id: i64) -> (Vec<Hour>, Vec<Hour>) {
    buckets_kept_and_from_rows(cache, id, 3600).await
}

/// [`hours_kept_and_from_rows`] for buckets of `res` seconds.
async fn buckets_kept_and_from_rows(cache: &Cache, id: i64, res: i64) -> (Vec<Hour>, Vec<Hour>) {
    let kept = sqlx::query_as("SELECT ts, n, sum, lo, hi FROM rollup WHERE series_id = ?1 AND res = ?2 ORDER BY ts")
        .bind(id)
        .bind(res)
        .fetch_all(cache.pool())
        .await
        .unwrap();
    let raw = sqlx::query_as(
        "SELECT ts - ts % ?2, count(*), sum(value), min(value), max(value) FROM datapoint WHERE series_id = ?1
         GROUP BY ts - ts % ?2 ORDER BY 1",
    )
    .bind(id)
    .bind(res)
    .fetch_all(cache.pool())
    .await
    .unwrap();
    (kept, raw)
}

/// A sync re-reads its last minutes: a point delivered again with a
/// corrected value replaces the old one in its hour's summary (the
/// hour is recomputed from the rows), while the new hours are summed
/// from the points in hand, and both agree with the raw rows.
#[tokio::test]
async fn a_corrected_point_replaces_its_old_value_in_the_hours_summary() {
    let cache = Cache::in_memory().await.unwrap();
    crate::testkit::add_tenant(&cache, "acme", "premium").await;
    let id = crate::testkit::add_series(&cache, "acme", "errors", "HTTPCode_Target_5XX_Count").await;
    let t0 = 1_800_000_000; // on the hour
    let first: Vec<(i64, f64)> = (0..90).map(|m| (t0 + m * 60, 1.0)).collect();
    cache.commit_points(&[PointBatch { series_id: id, points: first, watermark: t0 + 90 * 60 }]).await.unwrap();
    // The next sync: minute 85 corrected to 50, then 60 new minutes.
    let second: Vec<(i64, f64)> = (80..150).map(|m| (t0 + m * 60, if m == 85 { 50.0 } else { 2.0 })).collect();
    cache.commit_points(&[PointBatch { series_id: id, points: second, watermark: t0 + 150 * 60 }]).await.unwrap();
    let (hours, raw) = hours_kept_and_from_rows(&cache, id).await;
    assert_eq!(hours, raw);
    assert_eq!(hours[1], (t0 + 3600, 60, 20.0 + 9.0 * 2.0 + 50.0 + 30.0 * 2.0, 1.0, 50.0), "{hours:?}");
    let day: (i64, f64) = sqlx::query_as("SELECT n, sum FROM rollup WHERE series_id = ?1 AND res = 86400")
        .bind(id)
        .fetch_one(cache.pool())
        .await
        .unwrap();
    assert_eq!(day, (150, raw.iter().map(|h| h.2).sum()));
}

/// With values whose sums round, the hours kept (new ones summed in hand,
/// re-delivered ones recomputed) agree with SQLite's own sum of the rows to
/// the last bit, however the points came (here newest first, as CloudWatch
/// sends them by default).
#[tokio::test]
async fn hours_summed_in_hand_or_recomputed_agree_with_the_rows_to_the_last_bit() {
    let cache = Cache::in_memory().await.unwrap();
    crate::testkit::add_tenant(&cache, "acme", "premium").await;
    let id = crate::testkit::add_series(&cache, "acme", "latency", "TargetResponseTime").await;
    let t0 = 1_800_000_000 + 1_200; // twenty minutes past the hour
    let value = |m: i64, salt: f64| 0.1 * m as f64 + salt / (m as f64 + 3.0) + 1e7 * ((m % 7) as f64);
    let first: Vec<(i64, f64)> = (0..95).rev().map(|m| (t0 + m * 60, value(m, 0.3))).collect();
    cache.commit_points(&[PointBatch { series_id: id, points: first, watermark: t0 + 95 * 60 }]).await.unwrap();
    // Ten minutes again, three of them corrected, and new ones.
    let second: Vec<(i64, f64)> =
        (85..160).rev().map(|m| (t0 + m * 60, value(m, if m % 4 == 0 && m < 95 { 0.7 } else { 0.3 }))).collect();
    cache.commit_points(&[PointBatch { series_id: id, points: second, watermark: t0 + 160 * 60 }]).await.unwrap();
    let (hours, raw) = hours_kept_and_from_rows(&cache, id).await;
    assert_eq!(hours.len(), 3, "{hours:?}");
    for (kept, rows) in hours.iter().zip(&raw) {
        assert_eq!(
            (kept.0, kept.1, kept.2.to_bits(), kept.3, kept.4),
            (rows.0, rows.1, rows.2.to_bits(), rows.3, rows.4)
        );
    }
}

/// The usual re-sync: the last ten minutes again, unchanged, and five new
/// ones in an hour that already holds points. The hour is brought up to
/// date from the new points alone (its rows are not read again), and it
/// still agrees with the rows: the same count, lowest and highest, and a
/// sum equal but for rounding in the last place.
#[tokio::test]
async fn an_hour_that_gains_new_points_behind_unchanged_ones_agrees_with_its_rows() {
    let cache = Cache::in_memory().await.unwrap();
    crate::testkit::add_tenant(&cache, "acme", "premium").await;
    let id = crate::testkit::add_series(&cache, "acme", "latency", "TargetResponseTime").await;
    let t0 = 1_800_000_000; // on the hour
    let value = |m: i64| 0.1 * m as f64 + 1.0 / (m as f64 + 3.0) + 1e7 * ((m % 7) as f64);
    let first: Vec<(i64, f64)> = (0..25).rev().map(|m| (t0 + m * 60, value(m))).collect();
    cache.commit_points(&[PointBatch { series_id: id, points: first, watermark: t0 + 25 * 60 }]).await.unwrap();
    // Syncs 5 minutes apart, each re-reading 10, through the next hour.
    for end in (30..=95).step_by(5) {
        let again: Vec<(i64, f64)> = (end - 15..end).rev().map(|m| (t0 + m * 60, value(m))).collect();
        let n = again.len() as u64;
        let written = cache
            .commit_points(&[PointBatch { series_id: id, points: again, watermark: t0 + end * 60 }])
            .await
            .unwrap();
        assert_eq!(written, n, "every point delivered counts as written, re-delivered ones too");
    }
    let (hours, raw) = hours_kept_and_from_rows(&cache, id).await;
    assert_eq!(hours.len(), 2, "{hours:?}");
    for (kept, rows) in hours.iter().zip(&raw) {
        assert_eq!((kept.0, kept.1, kept.3, kept.4), (rows.0, rows.1, rows.3, rows.4));
        assert!((kept.2 - rows.2).abs() <= 1e-12 * rows.2.abs(), "{kept:?} against {rows:?}");
    }
    assert_eq!(hours[0].1, 60);
    assert_eq!(hours[1].1, 35);
    assert_days_agree_with_rows(&cache, id).await;
}

/// A series' daily buckets agree with its rows: count, lowest, highest
/// exactly, the sum but for rounding.
async fn assert_days_agree_with_rows(cache: &Cache, id: i64) {
    let (kept, raw) = buckets_kept_and_from_rows(cache, id, 86_400).await;
    assert_eq!(kept.len(), raw.len(), "{kept:?} against {raw:?}");
    for (kept, rows) in kept.iter().zip(&raw) {
        assert_eq!((kept.0, kept.1, kept.3, kept.4), (rows.0, rows.1, rows.3, rows.4));
        assert!((kept.2 - rows.2).abs() <= 1e-12 * rows.2.abs(), "{kept:?} against {rows:?}");
    }
}

/// Syncs 5 minutes apart across midnight UTC: the old day gets its last
/// minutes added, the new day starts from the new points, and a value
/// corrected in the old day's last hour after midnight recomputes that day.
#[tokio::test]
async fn days_stay_true_across_midnight_and_a_late_correction() {
    let cache = Cache::in_memory().await.unwrap();
    crate::testkit::add_tenant(&cache, "acme", "premium").await;
    let id = crate::testkit::add_series(&cache, "acme", "requests", "RequestCount").await;
    let midnight = 1_800_000_000 / 86_400 * 86_400 + 86_400;
    let value = |m: i64| 3.0 + (m % 11) as f64 * 0.7;
    let at = |m: i64| midnight + m * 60;
    let first: Vec<(i64, f64)> = (-90..-20).map(|m| (at(m), value(m))).collect();
    cache.commit_points(&[PointBatch { series_id: id, points: first, watermark: at(-20) }]).await.unwrap();
    for end in (-15..=20).step_by(5) {
        let again: Vec<(i64, f64)> = (end - 15..end).map(|m| (at(m), value(m))).collect();
        cache.commit_points(&[PointBatch { series_id: id, points: again, watermark: at(end) }]).await.unwrap();
        assert_days_agree_with_rows(&cache, id).await;
    }
    // 23:58 corrected, read again at 00:25 with the last minutes.
    let late: Vec<(i64, f64)> = (-2..25).map(|m| (at(m), if m == -2 { 500.0 } else { value(m) })).collect();
    cache.commit_points(&[PointBatch { series_id: id, points: late, watermark: at(25) }]).await.unwrap();
    assert_days_agree_with_rows(&cache, id).await;
    let (hours, raw) = hours_kept_and_from_rows(&cache, id).await;
    assert_eq!(hours.len(), raw.len());
    let day_before: (i64, f64) =
        sqlx::query_as("SELECT n, hi FROM rollup WHERE series_id = ?1 AND res = 86400 AND ts = ?2")
            .bind(id)
            .bind(midnight - 86_400)
            .fetch_one(cache.pool())
            .await
            .unwrap();
    assert_eq!(day_before, (90, 500.0));
}

/// A minute CloudWatch had no datapoint for comes late: it lands behind
/// the watermark in an hour that holds points already, and the hour
/// counts it.
#[tokio::test]
async fn a_late_point_behind_the_watermark_is_counted_in_its_hour() {
    let cache = Cache::in_memory().await.unwrap();
    crate::testkit::add_tenant(&cache, "acme", "premium").await;
    let id = crate::testkit::add_series(&cache, "acme", "errors", "HTTPCode_Target_5XX_Count").await;
    let t0 = 1_800_000_000; // on the hour
                            // Minute 17 missing.
    let first: Vec<(i64, f64)> = (0..20).filter(|m| *m != 17).map(|m| (t0 + m * 60, 1.0)).collect();
    cache.commit_points(&[PointBatch { series_id: id, points: first, watermark: t0 + 20 * 60 }]).await.unwrap();
    let second: Vec<(i64, f64)> = (10..25).map(|m| (t0 + m * 60, if m == 17 { 40.0 } else { 1.0 })).collect();
    cache.commit_points(&[PointBatch { series_id: id, points: second, watermark: t0 + 25 * 60 }]).await.unwrap();
    let (hours, raw) = hours_kept_and_from_rows(&cache, id).await;
    assert_eq!(hours, raw);
    assert_eq!(hours, vec![(t0, 25, 64.0, 1.0, 40.0)]);
}

/// One GetMetricData answer carries many series, and a long one comes
/// in pages, so a series can be in a batch twice. However the batch is
/// packed into statements, every series ends with its own rows (the
/// later delivery of a minute winning), its furthest watermark, and
/// hours that agree with its rows.
#[tokio::test]
async fn a_batch_of_many_series_one_of_them_paged_keeps_each_series_true() {
    let cache = Cache::in_memory().await.unwrap();
    crate::testkit::add_tenant(&cache, "acme", "premium").await;
    let t0 = 1_800_000_000; // on the hour
    let mut ids = Vec::new();
    for n in 0..40 {
        ids.push(crate::testkit::add_series(&cache, "acme", &format!("m{n}"), &format!("M{n}")).await);
    }
    let minutes = |id: i64, from: i64, to: i64, value: f64| PointBatch {
        series_id: id,
        points: (from..to).map(|m| (t0 + m * 60, value + id as f64)).collect(),
        watermark: t0 + to * 60,
    };
    // First sync: 90 minutes of each (more rows than one statement holds).
    let first: Vec<PointBatch> = ids.iter().map(|&id| minutes(id, 0, 90, 1.0)).collect();
    cache.commit_points(&first).await.unwrap();
    // The next: each series re-delivers minutes 80-89 with new values and
    // brings 60 new ones; the first series comes in two overlapping pages.
    let mut second: Vec<PointBatch> = ids.iter().map(|&id| minutes(id, 80, 150, 2.0)).collect();
    second[0] = minutes(ids[0], 80, 120, 3.0);
    second.push(minutes(ids[0], 110, 150, 4.0));
    cache.commit_points(&second).await.unwrap();

    assert_eq!(cache.datapoint_count().await.unwrap(), 40 * 150);
    for &id in &ids {
        let wm: Option<i64> = sqlx::query_scalar("SELECT watermark FROM series WHERE id = ?1")
            .bind(id)
            .fetch_one(cache.pool())
            .await
            .unwrap();
        assert_eq!(wm, Some(t0 + 150 * 60), "series {id}");
        let (hours, raw) = hours_kept_and_from_rows(&cache, id).await;
        assert_eq!(hours, raw, "series {id}");
    }
    // The paged series: the second page's minutes 110-119 won.
    let at = |m: i64| {
        sqlx::query_scalar::<_, f64>("SELECT value FROM datapoint WHERE series_id = ?1 AND ts = ?2")
            .bind(ids[0])
            .bind(t0 + m * 60)
            .fetch_one(cache.pool())
    };
    let base = ids[0] as f64;
    assert_eq!(
        (at(85).await.unwrap(), at(115).await.unwrap(), at(140).await.unwrap()),
        (3.0 + base, 4.0 + base, 4.0 + base)
    );
}

/// A write waits for SQLite's one writer however long another write holds
/// it, within reason. A sync commits metrics from several calls at once,
/// beside alarms, logs and cost, and each waits for the others through
/// SQLite's busy timeout. The bug this pins: that timeout was 10 s, and a
/// big sync on a loaded machine (CI, 2026-12-07: 320 tenants, two weeks)
/// failed a metrics source with "database is locked". Here another
/// connection holds the writer for 11 s (the hold is what is tested, not
/// a wait for something to happen) while a write of the cache waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_outwaits_another_holding_the_cache_past_ten_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite");
    let cache = Cache::open(&path).await.unwrap();
    let other = Cache::open(&path).await.unwrap();
    let mut held = other.pool().begin_with("BEGIN IMMEDIATE").await.unwrap();
    sqlx::query("INSERT INTO meta (key, value) VALUES ('held', '1')").execute(&mut *held).await.unwrap();
    let waiting = tokio::spawn(async move { cache.set_meta("after", "2").await });
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    held.commit().await.unwrap();
    waiting.await.unwrap().expect("the write waited for the writer");
    assert_eq!(other.meta("after").await.unwrap().as_deref(), Some("2"));
}

#[tokio::test]
async fn sources_written_many_at_once_keep_each_ones_last_state_and_its_last_success() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    let state = |tenant: String, status: SourceStatus| SourceState {
        tenant_id: tenant,
        region: "us-east-1".into(),
        source: "metrics".into(),
        status,
        error: (status != SourceStatus::Ok).then(|| "boom".into()),
        remediation: None,
        last_ok: None,
    };
    // 250 sources: more than one statement's worth.
    let all: Vec<SourceState> = (0..250).map(|i| state(format!("t{i:03}"), SourceStatus::Ok)).collect();
    cache.put_sources(&all, 1_000).await.unwrap();
    // Then t007 fails, twice in one write (the later wins), and t200
    // fails then recovers within one write.
    let again = vec![
        state("t007".into(), SourceStatus::Throttled),
        state("t200".into(), SourceStatus::Error),
        state("t007".into(), SourceStatus::Error),
        state("t200".into(), SourceStatus::Ok),
    ];
    cache.put_sources(&again, 2_000).await.unwrap();
    let got = cache.all_sources().await.unwrap();
    assert_eq!(got.len(), 250);
    let of = |t: &str| got.iter().find(|s| s.tenant_id == t).unwrap().clone();
    assert_eq!((of("t007").status, of("t007").last_ok), (SourceStatus::Error, Some(1_000)));
    assert_eq!(of("t007").error.as_deref(), Some("boom"));
    assert_eq!((of("t200").status, of("t200").last_ok, of("t200").error), (SourceStatus::Ok, Some(2_000), None));
    assert_eq!((of("t249").status, of("t249").last_ok), (SourceStatus::Ok, Some(1_000)));
}
