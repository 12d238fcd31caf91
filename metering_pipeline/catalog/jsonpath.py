"""The small JSONPath subset meters use: `$.a.b` and `$["odd key"]`, resolved to key lists.

Keys travel to ClickHouse as bound parameters, so a path can name any key without
ever becoming SQL text.
"""

import json
import re

_DOT = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)")
_BRACKET = re.compile(r"\[(\"(?:[^\"\\]|\\.)*\")\]")


def parse_jsonpath(path: str) -> tuple[str, ...]:
    if not isinstance(path, str) or not path.startswith("$"):
        raise ValueError(f"JSONPath must start with '$': {path!r}")
    keys: list[str] = []
    pos = 1
    while pos < len(path):
        match = _DOT.match(path, pos) or _BRACKET.match(path, pos)
        if not match:
            raise ValueError(f"unsupported JSONPath {path!r} at offset {pos}")
        token = match.group(1)
        keys.append(json.loads(token) if token.startswith('"') else token)
        pos = match.end()
    if not keys:
        raise ValueError(f"JSONPath selects nothing: {path!r}")
    return tuple(keys)
