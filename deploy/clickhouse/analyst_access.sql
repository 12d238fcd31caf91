-- Tenant isolation for analysts on a ClickHouse server (not the embedded engine, which has no
-- access management). Apply as an admin after the pipeline has created its tables:
--   clickhouse-client --multiquery < deploy/clickhouse/analyst_access.sql
-- One mapping table says which tenants each analyst may see; one row policy per table reads it,
-- so granting a tenant is an INSERT, not a DDL change. Analysts are read-only.

CREATE TABLE IF NOT EXISTS metering.analyst_tenants
(
    user_name String,
    tenant_id String
)
ENGINE = MergeTree
ORDER BY (user_name, tenant_id);

CREATE ROLE IF NOT EXISTS metering_analyst;

CREATE SETTINGS PROFILE IF NOT EXISTS metering_analyst_readonly SETTINGS readonly = 1 TO metering_analyst;

GRANT SELECT ON metering.events TO metering_analyst;
GRANT SELECT ON metering.usage_hourly TO metering_analyst;
GRANT SELECT ON metering_analytics.usage_daily TO metering_analyst;
GRANT SELECT ON metering_analytics.usage_monthly TO metering_analyst;

CREATE ROW POLICY IF NOT EXISTS tenant_rows ON metering.events
    USING tenant_id IN (SELECT tenant_id FROM metering.analyst_tenants WHERE user_name = currentUser())
    TO metering_analyst;

CREATE ROW POLICY IF NOT EXISTS tenant_rows ON metering.usage_hourly
    USING tenant_id IN (SELECT tenant_id FROM metering.analyst_tenants WHERE user_name = currentUser())
    TO metering_analyst;

CREATE ROW POLICY IF NOT EXISTS tenant_rows ON metering_analytics.usage_daily
    USING tenant_id IN (SELECT tenant_id FROM metering.analyst_tenants WHERE user_name = currentUser())
    TO metering_analyst;

CREATE ROW POLICY IF NOT EXISTS tenant_rows ON metering_analytics.usage_monthly
    USING tenant_id IN (SELECT tenant_id FROM metering.analyst_tenants WHERE user_name = currentUser())
    TO metering_analyst;

-- Per analyst:
--   CREATE USER IF NOT EXISTS alice IDENTIFIED WITH sha256_password BY '<secret>' DEFAULT ROLE metering_analyst;
--   GRANT metering_analyst TO alice;
--   INSERT INTO metering.analyst_tenants VALUES ('alice', 'acme');
