"""Input formats: each maps a raw line onto the canonical event columns, in SQL, before validation."""

from metering_pipeline.ingest.formats import cloudevents

FORMATS = {"cloudevents": cloudevents}


def format_module(name: str):
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown input format {name!r}; known: {sorted(FORMATS)}") from None
