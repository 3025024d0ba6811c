-- One catalog metric of one tenant in one region over a time range.
-- Parameters: ?1 tenant id, ?2 region, ?3 metric key, ?4 from (epoch s,
-- inclusive), ?5 to (epoch s, exclusive). Columns: ts (epoch s), value.
SELECT d.ts, d.value
FROM datapoint d
JOIN series s ON s.id = d.series_id
WHERE s.tenant_id = ?1 AND s.region = ?2 AND s.metric_key = ?3
  AND d.ts >= ?4 AND d.ts < ?5
ORDER BY d.ts
