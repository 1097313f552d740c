"""Score a decisions file against the synthetic truth.

Precision first: a ``match`` whose TIN is not the truth TIN is a wrongful disclosure, whatever
the truth row was (another person, nobody on file, or a row that had to be refused). Rows the
generator flagged ``info_floor`` are indistinguishable from someone else on file; wrongful
disclosures there are counted apart. Ratios whose denominator is zero are ``None``.

For ``outcome_accuracy`` an expected ``no_match`` is also answered correctly by
``ambiguous`` (neither discloses anything); an expected ``match`` needs the right TIN; an
expected ``refused`` needs ``refused`` (any reason; the reason is scored separately).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from custodes.codes import Outcome
from custodes.errors import UserInputError

TRUTH_REQUIRED = (
    "request_id", "expected_outcome", "expected_reason", "tin", "address_status", "category",
    "info_floor",
)  # fmt: skip
DECISIONS_REQUIRED = ("request_id", "outcome", "reason", "tin", "match_probability", "address_status")
_EXPECTED = frozenset({Outcome.MATCH.value, Outcome.NO_MATCH.value, Outcome.REFUSED.value})
_OUTCOMES = frozenset(o.value for o in Outcome)
_SHOW = 5


def _read(path: Path, required: tuple[str, ...], what: str) -> pl.DataFrame:
    if not path.is_file():
        raise UserInputError(
            f"the {what} file does not exist", file=str(path), hint=f"give the path of the {what} file"
        )
    try:
        if path.suffix.lower() == ".parquet":
            frame = pl.read_parquet(path)
        else:
            frame = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise UserInputError(
            f"cannot read the {what} file: {exc}",
            file=str(path),
            hint="give a CSV (UTF-8, header row) or a Parquet file",
        ) from exc
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise UserInputError(
            f"the {what} file lacks column(s) {', '.join(missing)}",
            file=str(path),
            column=missing[0],
            hint=f"a {what} file has the columns {', '.join(required)}",
        )
    casts = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            continue
        text = pl.col(name).cast(pl.String)
        if name == "tin" and dtype.is_integer():  # a TIN stored as a number lost its zeros
            text = text.str.zfill(9)
        casts.append(text.alias(name))
    frame = frame.with_columns(casts) if casts else frame
    dupes = frame.filter(pl.col("request_id").is_duplicated())["request_id"].unique().sort()
    if len(dupes):
        raise UserInputError(
            f"{len(dupes)} request_id value(s) occur more than once, e.g. "
            + ", ".join(dupes.head(_SHOW).to_list()),
            file=str(path),
            column="request_id",
            hint="one row per request",
        )
    return frame


def _check_values(frame: pl.DataFrame, column: str, allowed: frozenset[str], path: Path) -> None:
    bad = frame.filter(~pl.col(column).is_in(sorted(allowed)) | pl.col(column).is_null())
    if bad.height:
        examples = ", ".join(f"{r}={v!r}" for r, v in bad.select("request_id", column).head(_SHOW).rows())
        raise UserInputError(
            f"{bad.height} row(s) have an unknown {column}: {examples}",
            file=str(path),
            column=column,
            hint=f"{column} is one of {', '.join(sorted(allowed))}",
        )


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _tin(column: str) -> pl.Expr:
    return pl.col(column).str.replace_all(r"[\s-]", "").fill_null("")


def score(truth: Path, decisions: Path) -> dict[str, object]:
    """Compare decisions with the truth; returns JSON-able metrics (see the module doc)."""
    t = _read(truth, TRUTH_REQUIRED, "truth")
    d = _read(decisions, DECISIONS_REQUIRED, "decisions")
    missing = t.join(d, on="request_id", how="anti")["request_id"].sort()
    extra = d.join(t, on="request_id", how="anti")["request_id"].sort()
    if len(missing) or len(extra):
        parts = []
        if len(missing):
            parts.append(
                f"{len(missing)} request(s) of the truth have no decision (e.g. "
                f"{', '.join(missing.head(_SHOW).to_list())})"
            )
        if len(extra):
            parts.append(
                f"{len(extra)} decision(s) are for requests not in the truth (e.g. "
                f"{', '.join(extra.head(_SHOW).to_list())})"
            )
        raise UserInputError(
            "the request_id sets differ: " + "; ".join(parts),
            file=str(decisions),
            column="request_id",
            hint="score the decisions of the batch this truth file was generated with",
        )
    _check_values(t, "expected_outcome", _EXPECTED, truth)
    _check_values(d, "outcome", _OUTCOMES, decisions)

    j = t.select(
        "request_id",
        pl.col("expected_outcome").alias("exp"),
        pl.col("expected_reason").fill_null("").alias("exp_reason"),
        _tin("tin").alias("exp_tin"),
        pl.col("address_status").fill_null("").alias("exp_status"),
        pl.col("category").fill_null(""),
        pl.col("info_floor").fill_null("false").str.to_lowercase().is_in(["true", "1"]).alias("floor"),
    ).join(
        d.select(
            "request_id",
            pl.col("outcome").alias("got"),
            pl.col("reason").fill_null("").alias("got_reason"),
            _tin("tin").alias("got_tin"),
            pl.col("address_status").fill_null("").alias("got_status"),
        ),
        on="request_id",
    )
    j = j.with_columns(
        pred_match=pl.col("got") == "match",
        exp_match=pl.col("exp") == "match",
    ).with_columns(
        correct=pl.col("pred_match") & pl.col("exp_match") & (pl.col("got_tin") == pl.col("exp_tin")),
        wrongful=pl.col("pred_match") & ~(pl.col("exp_match") & (pl.col("got_tin") == pl.col("exp_tin"))),
        ok=pl.when(pl.col("exp") == "match")
        .then(pl.col("pred_match") & (pl.col("got_tin") == pl.col("exp_tin")))
        .when(pl.col("exp") == "no_match")
        .then(pl.col("got").is_in(["no_match", "ambiguous"]))
        .otherwise(pl.col("got") == "refused"),
    )

    def count(expr: pl.Expr) -> int:
        return int(j.select(expr.sum()).item())

    n = j.height
    predicted = count(pl.col("pred_match"))
    expected = count(pl.col("exp_match"))
    correct = count(pl.col("correct"))
    wrongful = count(pl.col("wrongful"))
    precision = _ratio(correct, predicted)
    recall = _ratio(correct, expected)
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and precision + recall > 0
        else None
    )
    pred_refused = count(pl.col("got") == "refused")
    exp_refused = count(pl.col("exp") == "refused")
    both_refused = j.filter((pl.col("got") == "refused") & (pl.col("exp") == "refused"))
    reason_ok = both_refused.filter(pl.col("got_reason") == pl.col("exp_reason")).height
    status_ok = count(pl.col("correct") & (pl.col("got_status") == pl.col("exp_status")))
    outside = j.filter(~pl.col("floor"))

    confusion: dict[str, dict[str, int]] = {}
    for exp, got, k in j.group_by("exp", "got").len().sort("exp", "got").rows():
        confusion.setdefault(exp, {})[got] = int(k)

    per_category: dict[str, dict[str, object]] = {}
    grouped = (
        j.group_by("category")
        .agg(
            n=pl.len(),
            expected_match=pl.col("exp_match").sum(),
            match=pl.col("pred_match").sum(),
            match_correct=pl.col("correct").sum(),
            wrongful=pl.col("wrongful").sum(),
            ambiguous=(pl.col("got") == "ambiguous").sum(),
            no_match=(pl.col("got") == "no_match").sum(),
            refused=(pl.col("got") == "refused").sum(),
            ok=pl.col("ok").sum(),
            info_floor=pl.col("floor").sum(),
        )
        .sort("category")
    )
    for row in grouped.iter_rows(named=True):
        per_category[row["category"]] = {
            "n": int(row["n"]),
            "match": int(row["match"]),
            "match_correct": int(row["match_correct"]),
            "wrongful": int(row["wrongful"]),
            "ambiguous": int(row["ambiguous"]),
            "no_match": int(row["no_match"]),
            "refused": int(row["refused"]),
            "info_floor": int(row["info_floor"]),
            "recall": _ratio(int(row["match_correct"]), int(row["expected_match"])),
            "outcome_accuracy": _ratio(int(row["ok"]), int(row["n"])),
        }

    outcome_counts = {o.value: count(pl.col("got") == o.value) for o in Outcome}
    return {
        "n_requests": n,
        "outcome_counts": outcome_counts,
        "expected_counts": {e: count(pl.col("exp") == e) for e in sorted(_EXPECTED)},
        "confusion": confusion,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "outcome_accuracy": _ratio(count(pl.col("ok")), n),
        "wrongful_disclosures": wrongful,
        "wrongful_rate": _ratio(wrongful, n),
        "info_floor": count(pl.col("floor")),
        "wrongful_outside_floor": int(outside["wrongful"].sum()),
        "recall_outside_floor": _ratio(int(outside["correct"].sum()), int(outside["exp_match"].sum())),
        "refusal_precision": _ratio(both_refused.height, pred_refused),
        "refusal_recall": _ratio(both_refused.height, exp_refused),
        "refusal_reason_accuracy": _ratio(reason_ok, both_refused.height),
        "address_status_accuracy": _ratio(status_ok, correct),
        "per_category": per_category,
    }
