-- Metric anomalies: each series' online detector carries on from sync to
-- sync, and the episodes it finds are kept for health and the timeline.

-- One detector per series (detect::Detector::to_bytes, CBOR, ~3.5 KB). It
-- has scored every point of the series up to through_ts and none after: a
-- sync feeds it only points newer than that, so the re-read overlap is
-- never scored twice. Written in the transaction that commits the points.
CREATE TABLE detector_state (
    series_id  INTEGER PRIMARY KEY REFERENCES series(id),
    state      BLOB NOT NULL,
    through_ts INTEGER NOT NULL -- epoch s of the last point scored
) STRICT;

-- One anomaly episode (detect::AnomalyEvent) with its explanation for
-- people. "end" is NULL while the episode is ongoing; an ongoing episode is
-- extended in place by the next sync, never inserted twice.
CREATE TABLE anomaly (
    tenant_id   TEXT NOT NULL REFERENCES tenant(id),
    region      TEXT NOT NULL,
    metric_key  TEXT NOT NULL,
    start       INTEGER NOT NULL, -- epoch s of the point that raised it
    "end"       INTEGER,          -- epoch s of its last surprising point; NULL while ongoing
    peak_score  REAL NOT NULL,    -- in [0, 1]
    direction   TEXT NOT NULL CHECK (direction IN ('up', 'down')),
    peak_ts     INTEGER NOT NULL,
    peak_value  REAL NOT NULL,
    expected    REAL NOT NULL,    -- what the detector expected at the peak
    explanation TEXT NOT NULL,
    -- What an ongoing episode needs to be continued and explained again:
    -- its latest point, the learned shape behind the expectation
    -- ('none' | 'daily' | 'weekly'), and the series it was found in.
    through_ts  INTEGER NOT NULL,
    season      TEXT NOT NULL CHECK (season IN ('none', 'daily', 'weekly')),
    series_id   INTEGER NOT NULL REFERENCES series(id),
    PRIMARY KEY (tenant_id, region, metric_key, start)
) STRICT;

-- The ongoing episode of a series, found when its next points are scored.
CREATE INDEX anomaly_open ON anomaly (series_id) WHERE "end" IS NULL;
-- Health and the timeline read recent episodes across the fleet.
CREATE INDEX anomaly_recent ON anomaly (through_ts);
