"""RFC 9457 problem details: every error the service returns, each with a stable ``type`` URI.

Bodies say what was wrong and what to do, never echo a submitted value that could be a
TIN or a key (validation errors carry the location and the rule, not the input).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fastapi.responses import JSONResponse

PROBLEM_BASE = "https://custodes.example/problems/"
MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class ProblemType:
    """One kind of error: its stable slug, HTTP status and title."""

    slug: str
    status: int
    title: str

    @property
    def uri(self) -> str:
        """The ``type`` member."""
        return PROBLEM_BASE + self.slug


PROBLEMS: dict[str, ProblemType] = {
    p.slug: p
    for p in (
        ProblemType("unauthenticated", 401, "No valid API key"),
        ProblemType("forbidden", 403, "A policy rule forbids this"),
        ProblemType("not-found", 404, "No such resource"),
        ProblemType("method-not-allowed", 405, "Method not allowed"),
        ProblemType("not-acceptable", 406, "Not acceptable"),
        ProblemType("batch-exists", 409, "This batch_id was already submitted"),
        ProblemType("batch-state", 409, "The batch is not in a state that allows this"),
        ProblemType("not-released", 409, "The batch has not been released"),
        ProblemType("idempotency-in-progress", 409, "A request with this Idempotency-Key is in progress"),
        ProblemType("conflict", 409, "Conflicts with the current state"),
        ProblemType("payload-too-large", 413, "The upload is larger than the limit"),
        ProblemType("unsupported-media-type", 415, "Unsupported media type"),
        ProblemType("invalid-request", 422, "The request is malformed"),
        ProblemType("invalid-manifest", 422, "The manifest is not valid"),
        ProblemType("invalid-batch-file", 422, "The requests file is not valid"),
        ProblemType("idempotency-key-reused", 422, "The Idempotency-Key was used for another request"),
        ProblemType("invalid-input", 422, "The input is not valid"),
        ProblemType("log-empty", 404, "The accounting log is empty"),
        ProblemType("log-proof", 422, "No such proof"),
        ProblemType("unavailable", 503, "The service is not ready"),
        ProblemType("internal-error", 500, "Internal error"),
    )
}
"""Every problem type, by slug; docs/service.md lists them."""

_BY_STATUS = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "invalid-request",
    503: "unavailable",
}


def slug_for_status(status: int) -> str:
    """The generic problem type of an HTTP status."""
    return _BY_STATUS.get(status, "internal-error" if status >= 500 else "invalid-request")


def problem(
    slug: str,
    detail: str,
    *,
    instance: str | None = None,
    extensions: Mapping[str, object] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response of type ``slug``."""
    kind = PROBLEMS[slug]
    body: dict[str, object] = {"type": kind.uri, "title": kind.title, "status": kind.status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extensions or {})
    return JSONResponse(body, status_code=kind.status, media_type=MEDIA_TYPE, headers=dict(headers or {}))


def example(slug: str, detail: str, **extensions: object) -> dict[str, object]:
    """An OpenAPI example body of type ``slug``."""
    kind = PROBLEMS[slug]
    return {"type": kind.uri, "title": kind.title, "status": kind.status, "detail": detail, **extensions}
