"""A JSON line parsed once: its members' raw texts, from which every field's kind and text are read.

Each `JSONType(raw, k)` / `JSONExtractString(raw, k)` / `JSONExtractRaw(raw, k)` parses the
whole line again; a mapping reading ~20 of them parsed each line ~20 times. Here the line is
parsed once, by `JSONExtractKeysAndValuesRaw(raw)` (its top-level members as (key, raw JSON
text) pairs, in order, duplicates kept), and each field is the raw text of its member,
`members.2[indexOf(members.1, key)]`: indexOf finds the first occurrence, as the JSON functions
do, and gives '' when the key is absent. The raw text is the one `JSONExtractRaw` gives (the same
serializer), and everything else follows from its first character:

- kind: `"` String (big integers too: ClickHouse types and writes them as strings), `{` Object,
  `[` Array, true/false Bool, null or absent NULL; a number (Int64, UInt64 or Double, which
  the text does not tell apart: 1.0 is written `1`) asks `JSONType` on the line, so only
  lines whose field is a number pay a second parse;
- a string's content: the text between the quotes when it holds no escape, else
  `JSONExtractString` of the (small) text;
- text (a string's content, a number's literal, an object's or array's JSON): as `json_text`.

A nested path (`$.properties.usage`) parses its parent member's text, once per parent. That
text is a re-serialization, and parsing and writing it again is not always the identity:
`-0.0` is written `-0`, which parses as the integer 0; an integral Double beyond the 64-bit
integers (1e20, -1e19) is written as digits, which parse as a big integer, written quoted;
an object or array may hold either. So each read of a nested value that such an artefact
could change (the kind or string of a quoted integer; the text of `0`, an object or an
array; an object's text) is read from the line instead, with the JSON function the read
replaces: rare in real lines, exact in all. (These fallbacks sit in the branches of the
reads themselves: a fallback computed in the per-line subquery is evaluated for every row
once ClickHouse merges the subquery's expressions into the outer ones.)

Keys are SQL the caller gives (bound parameters for catalog keys, quoted code constants
otherwise); the columns are computed once per line, before an explode, in a subquery.
"""

MEMBERS = "JSONExtractKeysAndValuesRaw({})"
# The same lines as mapping.JSON_OBJECT, given the line's members: only a line that parsed as an
# object has members (the JSON functions share one parser), so only a line without any is parsed again.
OBJECT_OK = "isValidUTF8(raw) AND (notEmpty({members}) OR (isValidJSON(raw) AND JSONType(raw) = 'Object'))"


class ParsedLine:
    """Per-line columns (`columns`: name -> SQL over `raw` and earlier columns) and reads over them.

    Each read takes a path as its keys and as SQL for them (`args`), and is the SQL of the JSON
    function named in its docstring, computed off the parse.
    """

    def __init__(self):
        self.columns: dict[str, str] = {"_m0": MEMBERS.format("raw")}
        self._members: dict[tuple, str] = {(): "_m0"}  # path -> its member list
        self._found: dict[tuple, str] = {}  # path -> its text as found through the member lists

    @property
    def record(self) -> str:
        """`JSONExtractKeysAndValuesRaw(raw)`: the record's top-level (key, JSON text) pairs, from the parse."""
        return "_m0"

    @property
    def ok(self) -> str:
        """The line is valid UTF-8 holding one JSON object (mapping.JSON_OBJECT), read off the parse."""
        return OBJECT_OK.format(members="_m0")

    def raw(self, keys: tuple[str, ...], args: tuple[str, ...]) -> str:
        """`JSONExtractRaw(raw, *keys)`: the value's JSON text, '' when absent."""
        return self._read(
            keys,
            args,
            lambda v: v,
            lambda path: f"JSONExtractRaw(raw, {path})",
            lambda v: f"{v} = '0' OR {_container(v)} OR {_quoted_integer(v)}",
        )

    def kind(self, keys: tuple[str, ...], args: tuple[str, ...]) -> str:
        """`nullIf(toString(JSONType(raw, *keys)), 'Null')`: 'String', 'Object', ...; NULL when absent or null."""

        def per_call(path: str) -> str:
            return f"nullIf(toString(JSONType(raw, {path})), 'Null')"

        def parsed(v: str) -> str:  # a number's type is not in its text: asked of the line
            return (
                f"multiIf({v} = '', NULL, startsWith({v}, '\"'), 'String', startsWith({v}, '{{'), 'Object', "
                f"startsWith({v}, '['), 'Array', {v} IN ('true', 'false'), 'Bool', {v} = 'null', NULL, "
                f"{per_call(', '.join(args))})"
            )

        return self._read(keys, args, parsed, per_call, _quoted_integer)

    def string(self, keys: tuple[str, ...], args: tuple[str, ...]) -> str:
        """`JSONExtractString(raw, *keys)` when the value is a string, else NULL."""
        return self._read(
            keys,
            args,
            lambda v: f"if(startsWith({v}, '\"'), {_content(v)}, NULL)",
            lambda path: f"if(JSONType(raw, {path}) = 'String', JSONExtractString(raw, {path}), NULL)",
            _quoted_integer,
        )

    def text(self, keys: tuple[str, ...], args: tuple[str, ...]) -> str:
        """catalog.sql.json_text: a string's content, else the value's JSON text; NULL when absent or null."""
        return self._read(
            keys,
            args,
            lambda v: f"if(startsWith({v}, '\"'), {_content(v)}, nullIf(nullIf({v}, ''), 'null'))",
            lambda path: (
                f"if(JSONType(raw, {path}) = 'String', JSONExtractString(raw, {path}), "
                f"nullIf(nullIf(JSONExtractRaw(raw, {path}), ''), 'null'))"
            ),
            lambda v: f"{v} = '0' OR {_container(v)}",
        )

    def object(self, keys: tuple[str, ...], args: tuple[str, ...], otherwise: str) -> str:
        """`if(JSONType(raw, *keys) = 'Object', JSONExtractRaw(raw, *keys), otherwise)`."""
        v = self._lookup(keys, args)
        text = v if len(keys) == 1 else f"JSONExtractRaw(raw, {', '.join(args)})"  # nested: the line's own text
        return f"if(startsWith({v}, '{{'), {text}, {otherwise})"

    def members(self, keys: tuple[str, ...], args: tuple[str, ...]) -> str:
        """`JSONExtractKeysAndValuesRaw(raw, *keys)`'s (key, text) pairs, parsed from the value's own text.

        A member's text is then written twice (in the value's text, then on its own), which changes
        two kinds of numbers only: `-0.0` (`-0`, then `0`, both the integer 0) and integral Doubles
        beyond the 64-bit integers (digits, then the same digits quoted as a big integer; neither
        converts to an Int64). Callers must not tell those apart (billing-client amounts do not).
        """
        return MEMBERS.format(self._lookup(keys, args))

    def _read(self, keys, args, parsed, per_call, doubtful) -> str:
        """`parsed(text found)`; for a nested path, `per_call(path SQL)` on the line where `doubtful(text found)`."""
        if not keys or len(keys) != len(args):
            raise ValueError(f"a path needs one SQL key per key: {keys!r}, {args!r}")
        v = self._lookup(keys, args)
        if len(keys) == 1:
            return parsed(v)
        return f"if({doubtful(v)}, {per_call(', '.join(args))}, {parsed(v)})"

    def _lookup(self, keys: tuple[str, ...], args: tuple[str, ...]) -> str:
        """A column with the member's text as found through the member lists; '' when absent."""
        if keys not in self._found:
            members = self._members_of(keys[:-1], args[:-1])
            self._found[keys] = self._add("_t", f"{members}.2[indexOf({members}.1, {args[-1]})]")
        return self._found[keys]

    def _members_of(self, keys: tuple[str, ...], args: tuple[str, ...]) -> str:
        if keys not in self._members:
            self._members[keys] = self._add("_m", MEMBERS.format(self._lookup(keys, args)))
        return self._members[keys]

    def _add(self, prefix: str, expr: str) -> str:
        name = f"{prefix}{len(self.columns)}"
        self.columns[name] = expr
        return name


def _content(v: str) -> str:
    """A JSON string's content from its text: between the quotes when it holds no escape."""
    return f"if(position({v}, '\\\\') = 0, substring({v}, 2, length({v}) - 2), JSONExtractString({v}))"


def _container(v: str) -> str:
    return f"startsWith({v}, '{{') OR startsWith({v}, '[')"


def _quoted_integer(v: str) -> str:
    return f"match({v}, '^\"-?[0-9]+\"$')"
