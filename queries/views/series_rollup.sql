-- One catalog metric of one tenant in one region over a time range, as
-- hourly or daily buckets (for charts spanning weeks or months).
-- Parameters: ?1 tenant id, ?2 region, ?3 metric key, ?4 from (epoch s,
-- inclusive), ?5 to (epoch s, exclusive), ?6 bucket width (3600 or 86400).
-- Columns: ts (bucket start, epoch s), lo, hi, mean.
SELECT r.ts, r.lo, r.hi, r.sum / r.n AS mean
FROM rollup r
JOIN series s ON s.id = r.series_id
WHERE s.tenant_id = ?1 AND s.region = ?2 AND s.metric_key = ?3
  AND r.res = ?6 AND r.ts >= ?4 - ?6 + 1 AND r.ts < ?5
ORDER BY r.ts
