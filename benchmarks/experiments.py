"""Candidate optimizations, applied by monkeypatching inside a benchmark worker only.

`python -m benchmarks.run --experiment NAME[,NAME]` runs the ingest (and profile) stages with
them, so a proposal is measured on the same files, in the same harness, before anyone edits
the pipeline. Each keeps the verdicts identical (the run's manifest check says so). Applied
experiments leave the harness: `gx-suspects` became validate/prescreen.py (5ab4e76), and
`usage-present-meters` became part of usage/hour.py::build_usage_hour.

- `gx-narrow`: validate_frame is called once per checked column on a two-column frame
  (row + column), low-cardinality text columns as pandas categoricals. GX's pandas engine
  copies the whole batch through a boolean mask for every metric of every expectation, so
  a narrow batch makes each copy ~10x cheaper; categoricals make the copies of `*_kind`,
  `type`, `source`, `subject` integer takes instead of Arrow string takes.
"""

import functools

import pandas as pd

LOW_CARDINALITY = 0.01  # a text column with fewer distinct values than this share of rows becomes categorical


def _rank():
    from metering_pipeline.validate.rules import REASONS

    return {reason: position for position, reason in enumerate(REASONS)}


def _categorical(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy(deep=False)
    for column in out.columns:
        series = out[column]
        if series.dtype == object or str(series.dtype) in ("str", "string"):
            if series.nunique(dropna=True) <= max(16, LOW_CARDINALITY * len(series)):
                out[column] = series.astype("category")
    return out


def narrow_validate(original):
    """validate_frame, one narrow (row + column) batch per column; verdicts merged by reason rank."""

    @functools.wraps(original)
    def validate(frame: pd.DataFrame, rules):
        if frame.empty:
            return original(frame, rules)
        key = "row"
        by_column: dict[str, list[int]] = {}
        for index, rule in enumerate(rules):
            by_column.setdefault(rule.column, []).append(index)
        outcomes = [None] * len(rules)
        parts = []
        for column, indexes in by_column.items():
            narrow = _categorical(frame[[key, column]]) if column != key else frame[[key]]
            found, got = original(narrow, [rules[i] for i in indexes])
            for i, outcome in zip(indexes, got):
                outcomes[i] = outcome
            parts.append(found)
        found = pd.concat(parts, ignore_index=True)
        if len(found):
            rank = _rank()
            found = (
                found.assign(_rank=found["reason"].map(rank))
                .sort_values([key, "_rank"], kind="stable")
                .drop_duplicates(key)
                .drop(columns="_rank")
                .reset_index(drop=True)
            )
        return found, outcomes

    return validate


def apply(names: list[str]) -> list[str]:
    """Patch the pipeline's module globals for the named experiments; returns those applied."""
    import metering_pipeline.ingest.hour as hour_module

    applied = []
    for name in names:
        if name == "gx-narrow" and hasattr(hour_module, "validate_frame"):
            hour_module.validate_frame = narrow_validate(hour_module.validate_frame)
            applied.append(name)
        elif name:
            raise ValueError(f"experiment {name!r} does not apply to this code (unknown, or its hook is gone)")
    return applied
