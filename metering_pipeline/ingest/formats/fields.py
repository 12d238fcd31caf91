"""A source's catalog field roles as SQL over `raw`, so which JSON key plays which role is config.

Each role becomes an `f_<role>` text column (the first present of its JSONPaths); JSON keys,
type names and template pieces are bound as parameters under the source's prefix, so
several sources can share one query's parameter space without clashing. Values are read
off the line parsed once (`line`, formats/parsed.py), whose columns the mapping carries.
"""

from dataclasses import dataclass, field

from metering_pipeline.catalog import Source
from metering_pipeline.catalog.formats import FORMAT_SPECS
from metering_pipeline.ingest.formats.parsed import ParsedLine

NULL_TEXT = "CAST(NULL AS Nullable(String))"
BLANK = r"'^\\s*$'"  # RE2: nothing but whitespace


def blank_to_null(expr: str) -> str:
    """`expr`, NULL when it is blank: the one rule for every key a format reads."""
    return f"if(match(ifNull({expr}, ''), {BLANK}), NULL, {expr})"


@dataclass
class Fields:
    """SQL for one source's field roles; `params` collects the values bound along the way."""

    source: Source
    prefix: str
    unset: tuple[str, ...] = ()  # string values that mean "unset", like Envoy's "-"
    params: dict = field(default_factory=dict)
    line: ParsedLine = field(default_factory=ParsedLine)

    def bind(self, name: str, value) -> str:
        self.params[f"{self.prefix}_{name}"] = value
        return f"{{{self.prefix}_{name}:String}}"

    def _path(self, role: str, index: int, keys: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(self.bind(f"{role}_{index}_{k}", key) for k, key in enumerate(keys))

    def paths(self, role: str) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        """The role's JSONPaths in catalog order, each as (keys, bound SQL for the keys)."""
        return [(keys, self._path(role, i, keys)) for i, keys in enumerate(self.source.fields.get(role, ()))]

    def text(self, role: str) -> str:
        """String content or number literal of the first present path; NULL when absent, null, blank or unset.

        Blank (empty or only whitespace) is unset for every role and format: an id, tenant or
        attribution key of spaces would otherwise become a key that different records share.
        """
        exprs = []
        for keys, args in self.paths(role):
            expr = self.line.text(keys, args)
            for value in self.unset:
                expr = f"nullIf({expr}, '{value}')"
            exprs.append(blank_to_null(expr))
        return f"coalesce({', '.join(exprs)})" if len(exprs) > 1 else (exprs[0] if exprs else NULL_TEXT)

    def kind(self, role: str) -> str:
        """JSON type of the first present path ('Object', 'String', ...); NULL when absent or null."""
        kinds = [self.line.kind(keys, args) for keys, args in self.paths(role)]
        return f"coalesce({', '.join(kinds)})" if len(kinds) > 1 else (kinds[0] if kinds else NULL_TEXT)

    def members(self, role: str) -> str:
        """The (key, JSON text) pairs of the object at the role's first path; empty when it is not an object."""
        return self.line.members(*self.paths(role)[0])

    def role_columns(self) -> dict[str, str]:
        return {f"f_{role}": self.text(role) for role in FORMAT_SPECS[self.source.format].roles}

    def event_type(self, raw_type: str) -> str:
        """The catalog's event_types applied to `raw_type`: exact matches, then `*`, else the type read.

        A raw type's templates are tried in order; a template applies only when every field role
        it names is set (`f_<role>` not NULL: present, not null, not blank), and when none does
        the type is NULL, quarantined `missing_field`. It never falls through to `*` or to a
        template with an empty piece: either would meter the record as a type the catalog did
        not map it to. `{type}` is the raw type itself, set whenever a type is read at all.
        Literal pieces and raw types are bound parameters, so a catalog value is never SQL.
        """

        def render(templates: tuple[tuple[str, ...], ...], n: int) -> str:
            branches = []
            for j, parts in enumerate(templates):
                pieces = [
                    self.bind(f"t{n}_{j}_{i}", part) if i % 2 == 0 else (raw_type if part == "type" else f"f_{part}")
                    for i, part in enumerate(parts)
                ]
                text = f"concat({', '.join(pieces)}, '')"
                roles = sorted({part for part in parts[1::2] if part != "type"})
                if not roles:  # always applies; parse_templates allows this only as the last one
                    branches.append(text)
                    break
                branches.append(f"{' AND '.join(f'f_{role} IS NOT NULL' for role in roles)}, {text}")
            else:
                branches.append(NULL_TEXT)
            return f"multiIf({', '.join(branches)})" if len(branches) > 1 else branches[0]

        branches, fallback = [], raw_type
        for n, (raw, templates) in enumerate(self.source.event_types.items()):
            if raw == "*":
                fallback = render(templates, n)
            else:
                branches.append(f"{raw_type} = {self.bind(f'k{n}', raw)}, {render(templates, n)}")
        chosen = f"multiIf({', '.join(branches + [fallback])})" if branches else fallback
        return f"if({raw_type} IS NULL, NULL, {chosen})"


def role_paths(source: Source, role: str, default: tuple[tuple[str, ...], ...] = ()) -> list[list[str]]:
    """The role's JSONPaths as key lists, in catalog order (the order `Fields.text` tries them):
    where an evidence bundle's verify script looks for the role's value in the raw record."""
    return [list(keys) for keys in source.fields.get(role, default)]
