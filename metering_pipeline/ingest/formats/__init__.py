"""Input formats: each adapter maps a raw line onto canonical event columns, in SQL, before validation."""

from metering_pipeline.catalog import Source
from metering_pipeline.ingest.formats import billing_client, cloudevents, data_api, envoy
from metering_pipeline.ingest.formats.mapping import Mapping

FORMATS = {
    "cloudevents": cloudevents,
    "envoy_access_log": envoy,
    "billing_client_event": billing_client,
    "data_api_billing_event": data_api,
}


def format_mapping(source: Source, prefix: str) -> Mapping:
    """The adapter's SQL for one source; `prefix` keeps its bound parameter names apart from others'."""
    try:
        module = FORMATS[source.format]
    except KeyError:
        raise ValueError(f"unknown input format {source.format!r}; known: {sorted(FORMATS)}") from None
    return module.mapping(source, prefix)


def raw_locator(source: Source, keys: tuple[str, ...], event: dict) -> dict:
    """Where an evidence bundle's verify script finds an event's id and a meter's value (`keys` into
    `data`, empty for count) in the event's raw line, as the source's format maps it: a JSON-ready
    dict that provenance/verify_bundle.py reads (`record`, `id`, `value`)."""
    return FORMATS[source.format].locate(source, keys, event)
