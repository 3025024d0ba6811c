-- fleetdeck cache, first schema. Never edit a migration once it has landed:
-- add a new numbered file instead.

-- Key/value facts about the cache itself (fleet name, demo flag).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- Tenants as the fleet file last described them. Rows are never deleted by a
-- sync (history stays readable); a tenant gone from the fleet is inactive.
CREATE TABLE tenant (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    tier        TEXT NOT NULL,
    model       TEXT NOT NULL,
    account     TEXT NOT NULL,
    home_region TEXT NOT NULL,
    regions     TEXT NOT NULL, -- JSON array, home region first
    residency   INTEGER NOT NULL DEFAULT 0,
    active      INTEGER NOT NULL DEFAULT 1
) STRICT;

-- A metric series is identified once and referenced by id from datapoints.
CREATE TABLE series (
    id          INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenant(id),
    region      TEXT NOT NULL,
    metric_key  TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    metric_name TEXT NOT NULL,
    dimensions  TEXT NOT NULL, -- canonical JSON object, keys sorted
    stat        TEXT NOT NULL,
    period      INTEGER NOT NULL,
    unit        TEXT NOT NULL,
    -- Everything up to here (epoch s, exclusive) is committed; the next sync
    -- asks from here minus a short overlap for late datapoints.
    watermark   INTEGER,
    UNIQUE (tenant_id, region, metric_key, namespace, metric_name, dimensions, stat, period)
) STRICT;

-- Clustered by (series, time): a chart reads one contiguous range.
CREATE TABLE datapoint (
    series_id INTEGER NOT NULL REFERENCES series(id),
    ts        INTEGER NOT NULL, -- epoch seconds, period-aligned
    value     REAL NOT NULL,
    PRIMARY KEY (series_id, ts)
) STRICT, WITHOUT ROWID;

CREATE TABLE alarm (
    tenant_id        TEXT NOT NULL REFERENCES tenant(id),
    region           TEXT NOT NULL,
    arn              TEXT NOT NULL,
    name             TEXT NOT NULL,
    state            TEXT NOT NULL, -- OK | ALARM | INSUFFICIENT_DATA
    reason           TEXT NOT NULL,
    state_changed_at INTEGER,       -- epoch ms
    namespace        TEXT,
    metric_name      TEXT,
    threshold        REAL,
    synced_at        INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, region, arn)
) STRICT;

-- The latest result of each triage query per tenant-region.
CREATE TABLE log_result (
    tenant_id       TEXT NOT NULL REFERENCES tenant(id),
    region          TEXT NOT NULL,
    query_key       TEXT NOT NULL,
    window_start    INTEGER NOT NULL, -- epoch s
    window_end      INTEGER NOT NULL,
    rows            TEXT NOT NULL,    -- JSON array of {field: value}
    records_matched INTEGER NOT NULL,
    truncated       INTEGER NOT NULL, -- 1 when Logs Insights cut the result
    withheld        INTEGER NOT NULL, -- 1 when raw lines were not cached (residency)
    synced_at       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, region, query_key)
) STRICT;

-- Daily cost. tenant_id '' is spend no tenant tag or account claims.
CREATE TABLE cost_daily (
    tenant_id TEXT NOT NULL,
    day       TEXT NOT NULL, -- YYYY-MM-DD (UTC)
    service   TEXT NOT NULL,
    source    TEXT NOT NULL, -- tag | account
    amount    REAL NOT NULL,
    unit      TEXT NOT NULL,
    estimated INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, day, service, source)
) STRICT;

-- The state of every (tenant, region, source) the sync reads.
CREATE TABLE source_status (
    tenant_id    TEXT NOT NULL,
    region       TEXT NOT NULL,
    source       TEXT NOT NULL, -- credentials | metrics | alarms | logs | cost
    status       TEXT NOT NULL, -- ok | access_denied | throttled | expired | unreachable | not_configured | error
    error        TEXT,
    remediation  TEXT,
    last_attempt INTEGER NOT NULL, -- epoch ms
    last_ok      INTEGER,
    PRIMARY KEY (tenant_id, region, source)
) STRICT;

CREATE TABLE sync_run (
    id             INTEGER PRIMARY KEY,
    started_at     INTEGER NOT NULL, -- epoch ms
    finished_at    INTEGER NOT NULL,
    sources_ok     INTEGER NOT NULL,
    sources_failed INTEGER NOT NULL,
    datapoints     INTEGER NOT NULL,
    api_calls      INTEGER NOT NULL,
    dollars        REAL NOT NULL,
    errors         TEXT NOT NULL -- JSON array of strings
) STRICT;

-- Health as last computed, per tenant-region.
CREATE TABLE health (
    tenant_id    TEXT NOT NULL REFERENCES tenant(id),
    region       TEXT NOT NULL,
    health       TEXT NOT NULL, -- ok | degraded | critical | unknown
    reasons      TEXT NOT NULL, -- JSON array of strings
    focus_metric TEXT,
    fresh_at     INTEGER,       -- epoch ms of the newest datapoint
    computed_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, region)
) STRICT;
