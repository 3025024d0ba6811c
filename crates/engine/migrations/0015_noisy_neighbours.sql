-- Noisy neighbours (peers.rs): 'neighbour' rows name the tenant whose load
-- rose while its pool-mates (same shared account or cluster, same region)
-- slowed down with it; fleet_member holds the pool-mates. SQLite cannot
-- change a CHECK constraint in place, so peer_anomaly is rebuilt, and
-- fleet_member (which references it) around it, every row kept.
CREATE TABLE fleet_member_keep AS SELECT peer_id, tenant_id, region FROM fleet_member;
DROP TABLE fleet_member;

CREATE TABLE peer_anomaly_rebuilt (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('peer', 'fleet', 'neighbour')),
    tenant_id   TEXT NOT NULL, -- the departing (or noisy) tenant; '*' for a fleet shift
    region      TEXT NOT NULL, -- its region; a fleet shift's region, or '*'
    tier        TEXT NOT NULL, -- the peers' tier; '*' for a region's shift; the pool for a neighbour
    metric_key  TEXT NOT NULL,
    direction   TEXT NOT NULL CHECK (direction IN ('up', 'down')),
    start       INTEGER NOT NULL,
    "end"       INTEGER,
    through_ts  INTEGER NOT NULL,
    change      REAL NOT NULL,
    peer_change REAL NOT NULL,
    moved       INTEGER NOT NULL,
    compared    INTEGER NOT NULL,
    title       TEXT NOT NULL,
    UNIQUE (kind, tenant_id, region, tier, metric_key, start)
) STRICT;
INSERT INTO peer_anomaly_rebuilt
    SELECT id, kind, tenant_id, region, tier, metric_key, direction, start, "end", through_ts,
           change, peer_change, moved, compared, title
    FROM peer_anomaly;
DROP TABLE peer_anomaly;
ALTER TABLE peer_anomaly_rebuilt RENAME TO peer_anomaly;
CREATE INDEX peer_anomaly_open ON peer_anomaly (kind) WHERE "end" IS NULL;
CREATE INDEX peer_anomaly_recent ON peer_anomaly (through_ts);

CREATE TABLE fleet_member (
    peer_id   INTEGER NOT NULL REFERENCES peer_anomaly(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    region    TEXT NOT NULL,
    PRIMARY KEY (peer_id, tenant_id, region)
) STRICT, WITHOUT ROWID;
INSERT INTO fleet_member SELECT peer_id, tenant_id, region FROM fleet_member_keep;
DROP TABLE fleet_member_keep;
CREATE INDEX fleet_member_tenant ON fleet_member (tenant_id, region);
