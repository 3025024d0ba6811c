-- The fleet's median of each catalog metric per tier and region, by hour
-- and by day: the line a tenant's chart is drawn against ("is it only
-- them?"). Each row is the median, across the tier's tenants in that
-- region, of their hourly (or daily) mean; recomputed by each sync for the
-- buckets it touched, from the rollups (0007), so a chart reads one range
-- here instead of every peer's points.
CREATE TABLE fleet_median (
    metric_key TEXT NOT NULL,
    tier       TEXT NOT NULL,
    region     TEXT NOT NULL,
    res        INTEGER NOT NULL, -- bucket width, seconds: 3600 or 86400
    ts         INTEGER NOT NULL, -- bucket start, epoch s (UTC-aligned)
    median     REAL NOT NULL,
    tenants    INTEGER NOT NULL, -- how many tenants the median is of
    PRIMARY KEY (metric_key, tier, region, res, ts)
) STRICT, WITHOUT ROWID;

-- The role fleetdeck assumes for a tenant (from the fleet file), so the
-- Tenant view can link to the AWS console switched into it. A name, not a
-- credential.
ALTER TABLE tenant ADD COLUMN role_arn TEXT;
