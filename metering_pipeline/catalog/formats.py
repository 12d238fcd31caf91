"""What each input format needs from the catalog: the field roles a source maps onto its lines.

The SQL that reads a format lives in `ingest/formats/`; which JSON key plays which role lives
in the catalog, so a field renamed upstream is a catalog edit. Roles are declared here, where
the catalog is checked, so a catalog naming an unknown or missing role fails when it loads.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class FormatSpec:
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    attributed: bool = False  # tenant and billing account come from the attribution table
    kind_in_record: bool = False  # the record names its attribution kind (Envoy route kind)

    @property
    def roles(self) -> tuple[str, ...]:
        return self.required + self.optional


FORMAT_SPECS = {
    # Every role defaults to the CloudEvents attribute of its name ($.subject, ...); a source maps one
    # elsewhere, or to a list tried in order (subject: [$.subject, $.data.customerId]).
    "cloudevents": FormatSpec(optional=("id", "source", "type", "subject", "time")),
    "envoy_access_log": FormatSpec(
        required=("start_time", "protocol", "request_id", "route_name", "upstream_cluster", "bytes_sent", "bytes_received", "duration"),
        optional=("method", "authority", "response_code", "response_flags"),
        attributed=True,
        kind_in_record=True,
    ),
    "billing_client_event": FormatSpec(
        required=("unique_key", "instance_id", "occurred_at", "amounts"),
        # amount_type / amount_value: the records fluentd stores (Event.toRecords); unmapped,
        # a source reads Events only.
        optional=("metadata", "amount_type", "amount_value"),
        attributed=True,
    ),
    "data_api_billing_event": FormatSpec(
        required=("id", "timestamp", "event_type", "usage", "resource_id"),
        optional=("product", "region", "resource_type", "provider", "model", "model_type"),
        attributed=True,
    ),
}
FORMATS = tuple(FORMAT_SPECS)
