-- Peer anomalies, and anomaly episodes that stay open while their metric
-- stays far from where it was before them.

-- What holds an ongoing episode open once the detector has learned its new
-- level (detect::Hold): the forecast it was measured against at its alarm
-- (0 recent level, 1 daily shape, 2 weekly shape), that forecast's level
-- then, its usual miss and its bar. NULL on ended episodes, and on episodes
-- stored before this migration (they end the old way).
ALTER TABLE anomaly ADD COLUMN hold_track INTEGER;
ALTER TABLE anomaly ADD COLUMN hold_level REAL;
ALTER TABLE anomaly ADD COLUMN hold_spread REAL;
ALTER TABLE anomaly ADD COLUMN hold_bar REAL;

-- Found after each sync (peers.rs) by comparing each series' last minutes
-- with its own usual level at that time of day, across the fleet:
--   'peer'  one tenant-region departs from its tier's peers on a metric
--           while they are steady (a broken deploy, a noisy neighbour);
--   'fleet' most tenant-regions of a region (tier '*') or of a tier
--           (region '*') moved together: one incident for all of them.
-- An ongoing row ("end" NULL) is extended in place by the next sync.
CREATE TABLE peer_anomaly (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('peer', 'fleet')),
    tenant_id   TEXT NOT NULL, -- the departing tenant; '*' for a fleet shift
    region      TEXT NOT NULL, -- its region; a fleet shift's region, or '*'
    tier        TEXT NOT NULL, -- the peers' tier; '*' for a region's shift
    metric_key  TEXT NOT NULL,
    direction   TEXT NOT NULL CHECK (direction IN ('up', 'down')),
    start       INTEGER NOT NULL, -- epoch s: start of the first window that showed it
    "end"       INTEGER,          -- epoch s: end of the last window that did; NULL while ongoing
    through_ts  INTEGER NOT NULL, -- epoch s: end of the latest window that showed it
    -- At the peak: the tenant's change against its usual level (peer) or
    -- the group's median change (fleet), and the peers' median change.
    change      REAL NOT NULL,
    peer_change REAL NOT NULL,
    moved       INTEGER NOT NULL, -- fleet: tenant-regions that moved; peer: 1
    compared    INTEGER NOT NULL, -- tenant-regions in the group (fleet) or peers (peer)
    title       TEXT NOT NULL,
    UNIQUE (kind, tenant_id, region, tier, metric_key, start)
) STRICT;

-- The ongoing rows, found when the next sync continues them.
CREATE INDEX peer_anomaly_open ON peer_anomaly (kind) WHERE "end" IS NULL;
-- Health and the timeline read recent rows across the fleet.
CREATE INDEX peer_anomaly_recent ON peer_anomaly (through_ts);

-- The tenant-regions a fleet shift moved: their own anomalies on that
-- metric are explained by it (health names the shift instead, and the
-- timeline shows it once).
CREATE TABLE fleet_member (
    peer_id   INTEGER NOT NULL REFERENCES peer_anomaly(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    region    TEXT NOT NULL,
    PRIMARY KEY (peer_id, tenant_id, region)
) STRICT, WITHOUT ROWID;

CREATE INDEX fleet_member_tenant ON fleet_member (tenant_id, region);
