"""Run the rules through great-expectations 1.x over a pandas batch and turn failures into verdicts.

GX is imported here, lazily: its import costs seconds, and only the validating step pays it.
"""

from dataclasses import dataclass
from functools import cache, lru_cache

import pandas as pd

from metering_pipeline.validate.rules import REASONS, Rule

ROW_KEY = "row"


@dataclass
class RuleOutcome:
    rule: Rule
    checked: int
    failed: int


@lru_cache(maxsize=1)
def _batch_definition():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("metering").add_dataframe_asset("lines")
    return asset.add_batch_definition_whole_dataframe("hour")


@cache
def expectation_class(name: str):
    """GX's expectation class `name`, subclassed so that each expectation builds its `configuration` once.

    GX's `Expectation.configuration` rebuilds an ExpectationConfiguration (a pydantic dump and a
    regex on the class name) on every access, and one validation of 31 expectations reads it
    about 4,000 times: a third of the ~0.3 s GX spends per hour whatever the rows
    (benchmarks/FINDINGS.md, ninth round), paid 720 times by a month's backfill. Subclassing a built-in
    expectation is GX's own way to customise one (it registers as `metering_<type>`, and GX
    rebuilds the subclass from its configuration while validating); the kept configuration is
    dropped whenever a field is set or the expectation is copied, so it never outlives the
    fields it was built from.
    """
    import great_expectations as gx
    from great_expectations.compatibility.pydantic import PrivateAttr

    base = getattr(gx.expectations, name)

    def configuration(self):
        if self._configuration is None:
            self._configuration = base.configuration.fget(self)
        return self._configuration

    def __setattr__(self, field_name, value):
        base.__setattr__(self, field_name, value)
        if field_name != "_configuration":
            self._configuration = None

    def copy(self, **kwargs):
        duplicate = base.copy(self, **kwargs)
        duplicate._configuration = None
        return duplicate

    namespace = {
        "__module__": __name__,
        "__doc__": base.__doc__,
        "_configuration": PrivateAttr(default=None),
        "configuration": property(configuration),
        "__setattr__": __setattr__,
        "copy": copy,
    }
    return type(f"Metering{name}", (base,), namespace)


def _expectation(rule: Rule, index: int):
    return expectation_class(rule.expectation)(column=rule.column, meta={"rule": index}, **rule.kwargs)


def validate_frame(frame: pd.DataFrame, rules: list[Rule]) -> tuple[pd.DataFrame, list[RuleOutcome]]:
    """Verdicts (row, reason, detail) for failing rows, one per row, and each rule's counts."""
    outcomes = [RuleOutcome(rule, len(frame), 0) for rule in rules]
    if frame.empty:
        return pd.DataFrame({ROW_KEY: pd.Series([], dtype="uint64"), "reason": [], "detail": []}), outcomes
    import great_expectations as gx

    # Failing rows come back as positions (a fresh RangeIndex) and are mapped to their keys here:
    # naming ROW_KEY in `unexpected_index_column_names` makes GX fetch it with one `DataFrame.at`
    # per failing row and column, which was half of GX's time on an hour's suspects.
    frame = frame.reset_index(drop=True)
    keys = frame[ROW_KEY].to_numpy()
    suite = gx.ExpectationSuite(name="metering_lines", expectations=[_expectation(r, i) for i, r in enumerate(rules)])
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format={"result_format": "COMPLETE", "return_unexpected_index_query": False})
    failing: dict[int, int] = {}
    rank = {reason: position for position, reason in enumerate(REASONS)}
    for expectation_result in result.results:
        index = expectation_result.expectation_config.meta["rule"]
        rule = rules[index]
        if expectation_result.exception_info.get("raised_exception"):
            raise RuntimeError(f"expectation {rule.name} errored: {expectation_result.exception_info}")
        rows = keys[expectation_result.result.get("unexpected_index_list") or []].tolist()
        outcomes[index].failed = len(rows)
        for row in rows:
            best = failing.get(row)
            if best is None or rank[rules[best].reason] > rank[rule.reason]:
                failing[row] = index
    verdicts = pd.DataFrame(
        {
            ROW_KEY: pd.Series(list(failing), dtype="uint64"),
            "reason": [rules[i].reason for i in failing.values()],
            "detail": [rules[i].detail for i in failing.values()],
        }
    )
    return verdicts, outcomes
