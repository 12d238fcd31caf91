"""CloudEvents 1.0 structured mode: one JSON object a line, `subject` is the tenant."""

PARSE_OK = "isValidUTF8(raw) AND isValidJSON(raw) AND JSONType(raw) = 'Object'"
PARSE_DETAIL = (
    "multiIf(NOT isValidUTF8(raw), 'line is not valid UTF-8', NOT isValidJSON(raw), "
    "'line is not valid JSON', 'JSON value is not an object')"
)
REQUIRED = ("specversion", "id", "source", "type", "subject", "time")


def _string(field: str) -> str:
    return f"if(JSONType(raw, '{field}') = 'String', JSONExtractString(raw, '{field}'), NULL)"


def _kind(field: str) -> str:
    return f"nullIf(toString(JSONType(raw, '{field}')), 'Null')"


def columns() -> dict[str, str]:
    """Canonical columns as SQL over `raw`. `*_kind` is the JSON type, NULL when absent or null."""
    cols = {}
    for field in REQUIRED:
        cols[field] = _string(field)
        cols[f"{field}_kind"] = _kind(field)
    cols["data"] = "if(JSONType(raw, 'data') = 'Object', JSONExtractRaw(raw, 'data'), '{}')"
    cols["data_kind"] = _kind("data")
    cols["time_text"] = cols.pop("time")
    cols["time_parsed"] = f"parseDateTime64BestEffortOrNull({cols['time_text']}, 6, 'UTC')"
    return cols


# Which of columns() feeds each column of the events table.
CANONICAL = {"source": "source", "id": "id", "type": "type", "tenant_id": "subject", "time": "time_parsed", "data": "data"}
