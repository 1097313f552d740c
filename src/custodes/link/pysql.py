"""The engine's comparison SQL, executed in Python for single requests.

The batch path runs the comparison levels of ``custodes.link.comparisons`` as SQL on
DuckDB. An online request compares one subject with a few dozen candidates, where a SQL
round trip costs more than the work. ``compile_sql`` turns the *same SQL text* into a
Python function, so there is one definition and two executions, never a second matcher.

Only the SQL subset the comparisons use is accepted (CASE, AND/OR/NOT with SQL's
three-valued logic, comparisons, IN, IS [NOT] NULL, + and -, list literals and indexing,
and the functions in ``_FUNCTIONS``); anything else raises ``UnsupportedSQLError`` when the
text is compiled, never later. NULL is ``None``. Semantics follow DuckDB: string functions
are 1-based, ``least`` skips NULLs, ``jaro_winkler_similarity`` of an empty string is 0.
``tests/link/test_pysql.py`` holds every comparison level to DuckDB's answer on real pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import count
from typing import Any

import sqlglot
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler
from sqlglot import expressions as exp

Row = Mapping[str, Any]
Compiled = Callable[..., Any]


class UnsupportedSQLError(ValueError):
    """The SQL uses a construct this compiler does not translate."""


def _length(s: str | None) -> int | None:
    return None if s is None else len(s)


def _substr(s: str | None, start: int | None, length: int | None = None) -> str | None:
    if s is None or start is None:
        return None
    begin = start - 1 if start > 0 else max(len(s) + start, 0)
    if length is None:
        return s[begin:]
    return s[begin : begin + max(length, 0)]


def _left(s: str | None, n: int | None) -> str | None:
    if s is None or n is None:
        return None
    return s[:n] if n >= 0 else s[: max(len(s) + n, 0)]


def _right(s: str | None, n: int | None) -> str | None:
    if s is None or n is None:
        return None
    if n >= 0:
        return s[len(s) - n :] if n else ""
    return s[-n:]


def _starts_with(s: str | None, prefix: str | None) -> bool | None:
    if s is None or prefix is None:
        return None
    return s.startswith(prefix)


def _list_sort(items: Sequence[Any] | None) -> list[Any] | None:
    if items is None:
        return None
    present = sorted(x for x in items if x is not None)
    return present + [None] * (len(items) - len(present))


def _list_contains(items: Sequence[Any] | None, value: Any) -> bool | None:
    if items is None or value is None:
        return None
    return value in items


def _list_has_any(a: Sequence[Any] | None, b: Sequence[Any] | None) -> bool | None:
    if a is None or b is None:
        return None
    return not {x for x in a if x is not None}.isdisjoint(x for x in b if x is not None)


def _index(items: Sequence[Any] | None, i: int | None) -> Any:
    if items is None or i is None or not 0 <= i < len(items):
        return None
    return items[i]


def _jaro_winkler(a: str | None, b: str | None) -> float | None:
    if a is None or b is None:
        return None
    if not a or not b:
        return 0.0
    return float(JaroWinkler.similarity(a, b))


def _hamming(a: str | None, b: str | None) -> int | None:
    if a is None or b is None:
        return None
    if len(a) != len(b):
        raise ValueError(f"hamming distance needs strings of equal length: {a!r}, {b!r}")
    return sum(x != y for x, y in zip(a, b, strict=True))


def _damerau_levenshtein(a: str | None, b: str | None) -> int | None:
    if a is None or b is None:
        return None
    return int(DamerauLevenshtein.distance(a, b))


def _ends_with(s: str | None, suffix: str | None) -> bool | None:
    if s is None or suffix is None:
        return None
    return s.endswith(suffix)


def _split_part(s: str | None, delimiter: str | None, index: int | None) -> str | None:
    """DuckDB's ``split_part``: 1-based, negative from the end, '' when out of range."""
    if s is None or delimiter is None or index is None:
        return None
    parts = s.split(delimiter) if delimiter else list(s)
    if index > 0:
        return parts[index - 1] if index <= len(parts) else ""
    if index < 0:
        return parts[index] if -index <= len(parts) else ""
    return ""


def _replace(s: str | None, old: str | None, new: str | None) -> str | None:
    if s is None or old is None or new is None:
        return None
    return s.replace(old, new) if old else s


def _abs(x: float | None) -> float | None:
    return None if x is None else abs(x)


def _least(*values: Any) -> Any:
    present = [v for v in values if v is not None]
    return min(present) if present else None


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "length": _length,
    "substr": _substr,
    "left": _left,
    "right": _right,
    "starts_with": _starts_with,
    "ends_with": _ends_with,
    "split_part": _split_part,
    "replace": _replace,
    "abs": _abs,
    "list_sort": _list_sort,
    "list_contains": _list_contains,
    "list_has_any": _list_has_any,
    "index": _index,
    "jaro_winkler_similarity": _jaro_winkler,
    "hamming": _hamming,
    "damerau_levenshtein": _damerau_levenshtein,
    "least": _least,
}
"""SQL function -> Python function with DuckDB's NULL handling."""

_NODE_FUNCTIONS: dict[type[exp.Expression], str] = {
    exp.Length: "length",
    exp.Substring: "substr",
    exp.Left: "left",
    exp.Right: "right",
    exp.StartsWith: "starts_with",
    exp.EndsWith: "ends_with",
    exp.SplitPart: "split_part",
    exp.Replace: "replace",
    exp.Abs: "abs",
    exp.ArraySort: "list_sort",
    exp.ArrayContains: "list_contains",
    exp.ArrayOverlaps: "list_has_any",
    exp.JarowinklerSimilarity: "jaro_winkler_similarity",
    exp.Least: "least",
}
"""sqlglot's typed function nodes -> the names in ``_FUNCTIONS``."""

_COMPARISONS: dict[type[exp.Expression], str] = {
    exp.EQ: "==",
    exp.NEQ: "!=",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.LT: "<",
    exp.LTE: "<=",
}
_ARITHMETIC: dict[type[exp.Expression], str] = {exp.Add: "+", exp.Sub: "-"}


class _Translator:
    """Turns one parsed SQL expression into Python source over row mappings."""

    def __init__(self, aliases: Sequence[str]) -> None:
        self.aliases = aliases
        self._names = count()

    def tmp(self) -> str:
        return f"_t{next(self._names)}"

    def __call__(self, node: exp.Expression) -> str:
        if isinstance(node, exp.Paren):
            return self(node.this)
        if isinstance(node, exp.Column):
            if node.table not in self.aliases:
                raise UnsupportedSQLError(
                    f"column {node.sql()} needs one of the aliases {list(self.aliases)}"
                )
            return f"{node.table}[{node.name!r}]"
        if isinstance(node, exp.Literal):
            return (
                repr(node.this)
                if node.is_string
                else repr(int(node.this) if node.is_int else float(node.this))
            )
        if isinstance(node, exp.Boolean):
            return repr(bool(node.this))
        if isinstance(node, exp.Null):
            return "None"
        if isinstance(node, exp.Array):
            return "[" + ", ".join(self(e) for e in node.expressions) + "]"
        if isinstance(node, exp.Case):
            return self._case(node)
        if isinstance(node, exp.And | exp.Or):
            return self._logic(node)
        if isinstance(node, exp.Not):
            v = self.tmp()
            return f"(None if ({v} := {self(node.this)}) is None else not {v})"
        if isinstance(node, exp.Is):
            if not isinstance(node.expression, exp.Null):
                raise UnsupportedSQLError(f"only IS NULL is supported: {node.sql()}")
            return f"({self(node.this)} is None)"
        if type(node) in _COMPARISONS or type(node) in _ARITHMETIC:
            op = _COMPARISONS.get(type(node)) or _ARITHMETIC[type(node)]
            a, b = self.tmp(), self.tmp()
            return (
                f"(None if ({a} := {self(node.this)}) is None or ({b} := {self(node.expression)}) is None "
                f"else {a} {op} {b})"
            )
        if isinstance(node, exp.In):
            if node.args.get("query") or node.args.get("unnest"):
                raise UnsupportedSQLError(f"IN over a query is not supported: {node.sql()}")
            v = self.tmp()
            items = ", ".join(self(e) for e in node.expressions)
            return f"(None if ({v} := {self(node.this)}) is None else {v} in ({items},))"
        if isinstance(node, exp.Bracket):
            if len(node.expressions) != 1:
                raise UnsupportedSQLError(f"only single-element indexing is supported: {node.sql()}")
            # sqlglot has already turned DuckDB's 1-based index into a 0-based one
            return f"_f['index']({self(node.this)}, {self(node.expressions[0])})"
        return self._function(node)

    def _case(self, node: exp.Case) -> str:
        if node.this is not None:
            raise UnsupportedSQLError(f"only searched CASE (CASE WHEN ...) is supported: {node.sql()[:60]}")
        out = self(node.args["default"]) if node.args.get("default") is not None else "None"
        for when in reversed(node.args["ifs"]):
            out = f"({self(when.args['true'])} if {self(when.this)} is True else {out})"
        return out

    def _logic(self, node: exp.Expression) -> str:
        a, b = self.tmp(), self.tmp()
        left, right = self(node.this), self(node.expression)
        if isinstance(node, exp.And):
            return (
                f"(False if ({a} := {left}) is False else (False if ({b} := {right}) is False "
                f"else (None if {a} is None or {b} is None else True)))"
            )
        return (
            f"(True if ({a} := {left}) is True else (True if ({b} := {right}) is True "
            f"else (None if {a} is None or {b} is None else False)))"
        )

    def _function(self, node: exp.Expression) -> str:
        if isinstance(node, exp.Anonymous):
            name = node.name.lower()
            args = list(node.expressions)
        elif type(node) in _NODE_FUNCTIONS:
            name = _NODE_FUNCTIONS[type(node)]
            if isinstance(node, exp.Least):
                args = [node.this, *node.expressions]
            elif isinstance(node, exp.Substring):
                args = [
                    node.this,
                    node.args["start"],
                    *([node.args["length"]] if node.args.get("length") else []),
                ]
            elif isinstance(node, exp.SplitPart):
                args = [node.this, node.args["delimiter"], node.args["part_index"]]
            elif isinstance(node, exp.Replace):
                args = [node.this, node.expression, node.args["replacement"]]
            elif isinstance(node, exp.ArraySort):
                if node.args.get("expression") is not None:
                    raise UnsupportedSQLError(f"list_sort with a lambda is not supported: {node.sql()}")
                args = [node.this]
            else:
                args = [node.this, *([node.expression] if node.expression is not None else [])]
        else:
            raise UnsupportedSQLError(f"{type(node).__name__} is not supported: {node.sql()[:80]}")
        if name not in _FUNCTIONS:
            raise UnsupportedSQLError(f"function {name} is not supported")
        return f"_f[{name!r}](" + ", ".join(self(a) for a in args) + ")"


def compile_sql(sql: str, aliases: Sequence[str] = ("r", "m")) -> Compiled:
    """A Python function of one row mapping per alias (in order) that computes ``sql``.

    ``compile_sql("r.x = m.x")(r, m)`` is what DuckDB would return for that pair of rows.
    """
    tree = sqlglot.parse_one(sql, read="duckdb")
    if not isinstance(tree, exp.Expression):
        raise UnsupportedSQLError(f"not a SQL expression: {sql[:60]!r}")
    body = _Translator(aliases)(tree)
    source = f"def _compiled({', '.join(aliases)}):\n    return {body}\n"
    namespace: dict[str, Any] = {"_f": _FUNCTIONS}
    exec(compile(source, f"<sql {sql.strip()[:40]!r}>", "exec"), namespace)  # noqa: S102 - source built from our own SQL
    compiled: Compiled = namespace["_compiled"]
    return compiled


def split_conjuncts(sql: str) -> list[str]:
    """The AND-ed terms of a condition, each as DuckDB SQL text."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    return (
        [term.sql(dialect="duckdb") for term in tree.flatten() if term is not None]
        if isinstance(tree, exp.And)
        else [tree.sql(dialect="duckdb")]
    )


def columns_of(sql: str, alias: str) -> tuple[str, ...]:
    """The columns of ``alias`` a SQL expression reads, in the order first met."""
    columns = sqlglot.parse_one(sql, read="duckdb").find_all(exp.Column)
    return tuple(dict.fromkeys(c.name for c in columns if c.table == alias))


def aliases_of(sql: str) -> set[str]:
    """The table aliases a SQL condition refers to."""
    return {c.table for c in sqlglot.parse_one(sql, read="duckdb").find_all(exp.Column)}
