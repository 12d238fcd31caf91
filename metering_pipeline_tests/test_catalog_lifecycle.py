"""Meter lifecycle and catalog checks: published meters are frozen, field mappings and templates are validated."""

import copy

import dagster as dg
import pytest

from metering_pipeline.catalog import CatalogError, load_catalog, parse_catalog
from metering_pipeline.catalog.lifecycle import PublishedMeterChanged, enforce_published
from metering_pipeline.ingest.assets import ingest
from metering_pipeline_tests.fixtures.landing import default_document, write_catalog
from metering_pipeline_tests.support.events import KEY, land, line


def edited(edit) -> dict:
    document = copy.deepcopy(default_document())
    edit(document)
    return document


def source_entry(document: dict, name: str) -> dict:
    return next(s for s in document["sources"] if s["name"] == name)


def meter_entry(document: dict, name: str) -> dict:
    return next(m for m in document["meters"] if m["name"] == name)


def test_published_meters_keep_name_and_unit(clickhouse):
    with clickhouse.get_client() as client:
        recorded = enforce_published(client, load_catalog())
        assert "gateway_egress_bytes" in recorded and "billing-client/samples" not in recorded  # new meters are drafts
        assert enforce_published(client, load_catalog()) == []  # recorded once

        unit = edited(lambda d: meter_entry(d, "gateway_egress_bytes").update(unit="kilobytes"))
        with pytest.raises(PublishedMeterChanged, match=r"'gateway_egress_bytes' changes its unit from 'bytes' to 'kilobytes'"):
            enforce_published(client, parse_catalog(unit))
        renamed = edited(lambda d: meter_entry(d, "gateway_requests").update(name="gateway_http_requests"))
        with pytest.raises(PublishedMeterChanged, match=r"'gateway_requests' \(unit 'requests'\) is missing"):
            enforce_published(client, parse_catalog(renamed))
        demoted = edited(lambda d: meter_entry(d, "api_calls").update(phase="draft"))
        with pytest.raises(PublishedMeterChanged, match="'api_calls' cannot go back to draft"):
            enforce_published(client, parse_catalog(demoted))

        draft = "networking.datumapis.com/gateway/egress-bytes"
        assert enforce_published(client, parse_catalog(edited(lambda d: meter_entry(d, draft).update(unit="B")))) == []
        assert enforce_published(client, parse_catalog(edited(lambda d: meter_entry(d, draft).update(phase="published")))) == [draft]
        with pytest.raises(PublishedMeterChanged, match="egress-bytes' changes its unit"):
            enforce_published(client, parse_catalog(edited(lambda d: meter_entry(d, draft).update(unit="B"))))


def test_ingest_refuses_a_catalog_that_changes_a_published_meter(clickhouse, landing, landing_dir, tmp_path):
    with clickhouse.get_client() as client:
        enforce_published(client, load_catalog())
    land(landing_dir, "a.ndjson", [line("e1")])
    changed = write_catalog(tmp_path, edited(lambda d: meter_entry(d, "gateway_ingress_bytes").update(unit="octets")))
    result = dg.materialize(
        [ingest], partition_key=KEY, raise_on_error=False, resources={"clickhouse": clickhouse, "landing": landing, "catalog": changed}
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "published meter 'gateway_ingress_bytes' changes its unit" in failure.step_failure_data.error.to_string()


def test_meters_default_to_published_and_phase_is_checked():
    assert {m.phase for m in load_catalog().meters} == {"published", "draft"}
    with pytest.raises(CatalogError, match="phase"):
        parse_catalog(edited(lambda d: meter_entry(d, "api_calls").update(phase="beta")))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: source_entry(d, "envoy-gateway")["fields"].pop("start_time"), r"required but unmapped: \['start_time'\]"),
        (lambda d: source_entry(d, "envoy-gateway")["fields"].update(colour="$.colour"), r"unknown to envoy_access_log: \['colour'\]"),
        (lambda d: source_entry(d, "billing-client")["fields"].update(amounts="amounts"), "JSONPath"),
        (lambda d: source_entry(d, "billing-client")["fields"].update(occurred_at=[]), "needs a JSONPath"),
        (lambda d: source_entry(d, "billing-client").pop("attribution_kind"), "needs an attribution_kind"),
        (lambda d: source_entry(d, "envoy-gateway").update(attribution_kind="route"), "takes no attribution_kind"),
        (lambda d: source_entry(d, "data-api")["event_types"].update(x="data-api/{colour}"), r"unknown fields \['colour'\]"),
        (lambda d: source_entry(d, "data-api")["event_types"].update(x="data-api/{type"), "stray brace"),
        (lambda d: d["attribution"].update(table="attribution; DROP TABLE events"), "plain identifier"),
        (
            lambda d: d["attribution"].update(
                entries=[
                    {"kind": "instance", "key": "1", "tenant_id": "t", "billing_account_id": "a", "valid_to": "2026-11-22T10:30:00Z"},
                    {"kind": "instance", "key": "1", "tenant_id": "t", "billing_account_id": "b", "valid_from": "2026-11-22T10:29:00Z"},
                ]
            ),
            "overlap for: instance 1",
        ),
        (
            lambda d: d["attribution"].update(
                entries=[
                    {
                        "kind": "instance",
                        "key": "1",
                        "tenant_id": "t",
                        "billing_account_id": "a",
                        "valid_from": "2026-11-22T11:00:00Z",
                        "valid_to": "2026-11-22T10:00:00Z",
                    },
                ]
            ),
            "valid_to must be after valid_from",
        ),
    ],
)
def test_catalog_refuses_bad_sources_and_attribution(edit, message):
    with pytest.raises(CatalogError, match=message):
        parse_catalog(edited(edit))
