"""Attribution at ingest: each record's source key and own time -> tenant and billing account, in SQL."""

from metering_pipeline.attribution.stage import (
    ATTRIBUTION_TABLE_COLUMNS,
    AttributionError,
    ensure_attribution_table,
    join_attribution,
    stage_attribution,
)

__all__ = ["ATTRIBUTION_TABLE_COLUMNS", "AttributionError", "ensure_attribution_table", "join_attribution", "stage_attribution"]
