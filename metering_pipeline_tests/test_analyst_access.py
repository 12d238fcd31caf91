"""The analyst access DDL parses, and its row-policy predicate isolates tenants.

chDB has no access management (CREATE USER / ROW POLICY are refused), so this proves the
statements' syntax with ClickHouse's own parser (formatQuery) and the predicate's effect by
running it as a WHERE clause for the engine's current user. Enforcement itself needs a server.
"""

import re
from pathlib import Path

from metering_pipeline.warehouse.tables import ensure_tables

DDL = Path(__file__).resolve().parents[1] / "deploy" / "clickhouse" / "analyst_access.sql"


def statements() -> list[str]:
    body = "\n".join(line for line in DDL.read_text().splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def test_every_statement_parses(clickhouse):
    with clickhouse.get_client() as client:
        for statement in statements():
            formatted = client.command("SELECT formatQuery({q:String})", parameters={"q": statement})
            assert formatted.split()[0] in ("CREATE", "GRANT"), formatted


def test_row_policy_predicate_isolates_tenants(clickhouse):
    policy = next(s for s in statements() if "ROW POLICY" in s and "usage_hourly" in s)
    predicate = re.search(r"USING (.*?)\s+TO ", policy, re.S).group(1)
    with clickhouse.get_client() as client:
        ensure_tables(client)
        client.command(statements()[0])
        user = client.command("SELECT currentUser()")
        client.insert("analyst_tenants", [[user, "acme"], ["someone-else", "globex"]], column_names=["user_name", "tenant_id"])
        client.insert("usage_hourly", [["acme"], ["globex"], ["o'brien"]], column_names=["tenant_id"])
        visible = client.query(f"SELECT tenant_id FROM metering.usage_hourly WHERE {predicate}").result_rows
    assert visible == [("acme",)]
