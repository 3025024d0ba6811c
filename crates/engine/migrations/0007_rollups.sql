-- Hourly and daily summaries of every series, kept by the sync in the same
-- transaction as the points they summarise: a chart over weeks or months
-- reads a few hundred rows instead of tens of thousands of raw points, and
-- keeps each bucket's extremes (lo, hi), so a one-minute spike still shows.
-- They outlive raw points (retention per resolution).
CREATE TABLE rollup (
    series_id INTEGER NOT NULL REFERENCES series(id),
    res       INTEGER NOT NULL, -- bucket width, seconds: 3600 or 86400
    ts        INTEGER NOT NULL, -- bucket start, epoch s (UTC-aligned)
    n         INTEGER NOT NULL, -- raw points in the bucket
    sum       REAL NOT NULL,
    lo        REAL NOT NULL,
    hi        REAL NOT NULL,
    PRIMARY KEY (series_id, res, ts)
) STRICT, WITHOUT ROWID;

INSERT INTO rollup (series_id, res, ts, n, sum, lo, hi)
SELECT series_id, 3600, ts - ts % 3600, count(*), sum(value), min(value), max(value)
FROM datapoint GROUP BY series_id, ts - ts % 3600;

INSERT INTO rollup (series_id, res, ts, n, sum, lo, hi)
SELECT series_id, 86400, ts - ts % 86400, sum(n), sum(sum), min(lo), max(hi)
FROM rollup WHERE res = 3600 GROUP BY series_id, ts - ts % 86400;
