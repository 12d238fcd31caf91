"""SQL expressions that read a meter's JSONPath out of JSON text, with the keys as bound parameters."""

from metering_pipeline.catalog.model import Meter


def json_text(column: str, keys: tuple[str, ...], param: str) -> tuple[str, dict[str, str]]:
    """The value at `keys` as text: a string's content, any other value's JSON text, NULL when absent or null.

    One parse: JSONExtract into Nullable(String) unquotes a string and re-serializes
    anything else (as JSONExtractRaw does), so no JSONType probe is needed.
    """
    names = [f"{param}_{i}" for i in range(len(keys))]
    path = ", ".join(f"{{{name}:String}}" for name in names)
    return f"JSONExtract({column}, {path}, 'Nullable(String)')", dict(zip(names, keys))


def json_decimal(column: str, keys: tuple[str, ...], param: str) -> tuple[str, dict[str, str]]:
    """The value as Decimal(38, 9), NULL unless it is a finite decimal (a JSON number or a numeric string)
    that Decimal(38, 9) holds exactly: a value with digits below 1e-9 would otherwise be truncated
    silently, so it is NULL here and the line is quarantined as `invalid_value`."""
    text, params = json_text(column, keys, param)
    return (
        f"if(toDecimal256OrNull({text}, 30) = toDecimal256(toDecimal128OrNull({text}, 9), 30), toDecimal128OrNull({text}, 9), NULL)"
    ), params


def meter_value(meter: Meter, column: str, param: str, prefix: tuple[str, ...] = ()) -> tuple[str, dict[str, str]]:
    """What a meter aggregates from one event: 1 for count, the distinct key for unique_count, else a decimal."""
    if meter.aggregation == "count":
        return "toDecimal128(1, 9)", {}
    keys = prefix + meter.value_keys
    if meter.aggregation == "unique_count":
        return json_text(column, keys, param)
    return json_decimal(column, keys, param)
