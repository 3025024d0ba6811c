-- State changes of alarms that are in ALARM, so the timeline can show when
-- an alarm fired and whether it has been flapping.
CREATE TABLE alarm_history (
    tenant_id  TEXT NOT NULL REFERENCES tenant(id),
    region     TEXT NOT NULL,
    alarm_name TEXT NOT NULL,
    at         INTEGER NOT NULL, -- epoch ms
    summary    TEXT NOT NULL,    -- "Alarm updated from OK to ALARM"
    PRIMARY KEY (tenant_id, region, alarm_name, at)
) STRICT;
