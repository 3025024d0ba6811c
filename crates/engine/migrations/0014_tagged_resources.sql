-- Tenants found by their tags: each account-region's resources carrying the
-- cost allocation tag, as the Resource Groups Tagging API listed them, and
-- the CloudWatch dimension value each stands for. Replaced per
-- account-region at each read (meta tags_read_at:<account>:<region>).
CREATE TABLE tagged_resource (
    account   TEXT NOT NULL,
    region    TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    arn       TEXT NOT NULL,
    dimension TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (account, region, arn)
);
CREATE INDEX tagged_resource_tenant ON tagged_resource (tenant_id, region);
