"""The HTTP API (FastAPI): a thin layer over ``Desk``; see docs/service.md.

Authentication is ``Authorization: Bearer <API key>``; authorisation is Cedar
(``policies/service.cedar``). Errors are RFC 9457 problem+json with a stable ``type``.
The transparency endpoints under ``/v1/log`` are public.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from custodes.config import Settings, load_settings
from custodes.errors import (
    AuthenticationError,
    BatchFileError,
    ConflictError,
    CustodesError,
    LedgerError,
    ManifestError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    StoreError,
    UserInputError,
)
from custodes.gateway import Gateway
from custodes.ledger import consistency_between, prove_index, prove_request
from custodes.ledger.publish import cosigned_note
from custodes.service.authz import Caller
from custodes.service.decider import DeciderClient
from custodes.service.desk import Desk
from custodes.service.problems import MEDIA_TYPE, example, problem, slug_for_status
from custodes.service.ui import mount_ui
from custodes.service.upload import MalformedUploadError, UnsupportedMediaError, receive

log = logging.getLogger("custodes.service")

TEXT = r"^[^\x00-\x1f\x7f]*$"
"""No control characters in any field."""
BATCH_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

Field200 = Annotated[str | None, Field(default=None, max_length=200, pattern=TEXT)]


class Count(BaseModel):
    """How many requests of a batch got one outcome for one reason."""

    outcome: str
    reason: str
    count: int


class BatchStatus(BaseModel):
    """A batch's state and counts. Agencies see counts only once the batch is released,
    in the response's vocabulary (``ambiguous`` is ``no_match``; reasons only for refusals)."""

    id: str
    batch_id: str
    agency: str
    status: Literal["received", "processing", "processed", "released", "failed", "held"]
    requests: int
    received_at: datetime
    completed_at: datetime | None = None
    released_at: datetime | None = None
    batch_reason: str | None = None
    error: str | None = None
    counts: list[Count]
    released_by: str | None = None
    submitted_by: str | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b9f1c8e-6a53-4f0e-9a55-2d1f5e0c2a11",
                    "batch_id": "DHS-2026-0001",
                    "agency": "Department of Homeland Security",
                    "status": "released",
                    "requests": 3,
                    "received_at": "2026-11-25T10:00:00Z",
                    "completed_at": "2026-11-25T10:00:04Z",
                    "released_at": "2026-11-25T10:30:00Z",
                    "batch_reason": None,
                    "error": None,
                    "counts": [
                        {"outcome": "match", "reason": "", "count": 1},
                        {"outcome": "no_match", "reason": "", "count": 1},
                        {"outcome": "refused", "reason": "placeholder_address", "count": 1},
                    ],
                }
            ]
        }
    )


class BatchAccepted(BaseModel):
    """A batch accepted for processing; poll ``GET /v1/batches/{id}``."""

    id: str
    batch_id: str
    status: Literal["received"]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b9f1c8e-6a53-4f0e-9a55-2d1f5e0c2a11",
                    "batch_id": "DHS-2026-0001",
                    "status": "received",
                }
            ]
        }
    )


class ReviewRow(BaseModel):
    """A request a disclosure officer should look at before release (TIN masked)."""

    row: int
    request_id: str
    name: str
    dob: str
    address: str
    tin: str
    outcome: str
    reason: str


class BatchReview(BatchStatus):
    """A batch's counts and its ambiguous and refused rows."""

    rows: list[ReviewRow]


class HoldRequest(BaseModel):
    """Why a batch is held back from release."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "rows 12-40 look duplicated"}]}
    )

    reason: str = Field(min_length=1, max_length=500, pattern=TEXT)


class Subject(BaseModel):
    """One subject, in the request columns of the batch contract."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=200, pattern=TEXT)
    first_name: Field200
    middle_name: Field200
    last_name: Field200
    dob: Field200
    street: Field200
    city: Field200
    state: Field200
    zip: Field200
    tin: Field200
    case_reference: Field200


class VerificationRequest(BaseModel):
    """One subject under a standing basis registered for the caller's agency."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "standing_basis": "DHS-ONLINE-2026",
                    "subject": {
                        "request_id": "Q-1",
                        "first_name": "Anna",
                        "last_name": "Kowalski",
                        "dob": "2001-05-05",
                        "street": "9 Oak Ave Apt 3",
                        "city": "Peoria",
                        "state": "IL",
                        "zip": "61602",
                    },
                }
            ]
        },
    )

    standing_basis: str = Field(min_length=1, max_length=100, pattern=TEXT)
    subject: Subject


class ResponseRow(BaseModel):
    """What the agency receives for one request: the same row as in a batch's response.csv."""

    request_id: str
    outcome: Literal["match", "no_match", "refused"]
    reason: str | None = None
    address_status: Literal["current", "previous", "not_on_file"] | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"request_id": "Q-1", "outcome": "match", "reason": None, "address_status": "current"}
            ]
        }
    )


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    rule: str | None = None


def _problems(*pairs: tuple[int, dict[str, object]]) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "model": Problem,
            "content": {MEDIA_TYPE: {"example": body}},
            "description": str(body["title"]),
        }
        for status, body in pairs
    }


UNAUTH = (401, example("unauthenticated", "no API key: send `Authorization: Bearer <key>`"))
FORBID = (
    403,
    example(
        "forbidden",
        "disclosure_officer may not release batch: rule submitter_cannot_release_own_batch",
        rule="submitter_cannot_release_own_batch",
    ),
)
NOTFOUND = (404, example("not-found", "no batch with id '0b9f1c8e-6a53-4f0e-9a55-2d1f5e0c2a11'"))
INVALID = (422, example("invalid-request", "body.subject.tin: String should match pattern", errors=[]))


async def _caller(
    request: Request, authorization: Annotated[str | None, Header(include_in_schema=False)] = None
) -> Caller:
    scheme, _, key = (authorization or "").partition(" ")
    if authorization and scheme.lower() != "bearer":
        raise AuthenticationError("use `Authorization: Bearer <key>`")
    desk: Desk = request.app.state.desk
    presented = key.strip() or None
    # a key verified before costs one read of its row, done here on the event loop: a trip
    # to a worker thread and back costs more under load than the read
    caller = desk.authenticate_remembered(presented)
    if caller is not None:
        return caller
    return await run_in_threadpool(desk.authenticate, presented)


Who = Annotated[Caller, Depends(_caller)]
BatchId = Annotated[str, Path(pattern=BATCH_ID_PATTERN, description="The batch's id from POST /v1/batches")]


class _Worker:
    """The background worker: processes received batches one at a time until stopped."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="custodes-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.desk.recover()
                while not self._stop.is_set() and self.desk.process_next() is not None:
                    pass
            except Exception:
                log.exception("the batch worker hit an error; it will retry")
            self._wake.wait(self.desk.settings.service.poll_seconds)
            self._wake.clear()


def create_app(settings: Settings | None = None, *, worker: bool = True) -> FastAPI:
    """The service's ASGI app on ``settings`` (default: from the environment).

    With ``worker``, a background thread processes received batches while the app runs.
    """
    settings = settings or load_settings()
    gateway = Gateway(settings)
    desk = Desk(gateway)
    background = _Worker(desk) if worker else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        decider = None
        if settings.service.decider_socket:
            # `custodes serve` runs one decider process; this process only sends it subjects
            decider = DeciderClient(settings.service.decider_socket)
            gateway.use_decider(decider)
            log.info("online verifications go to the decider at %s", settings.service.decider_socket)
        else:
            # load the online engine before the first verification instead of during it
            matcher = await run_in_threadpool(gateway.online_matcher)
            log.info(
                "online engine %s",
                "loaded" if matcher is not None else "absent: verifications use the batch engine",
            )
        if background is not None:
            background.start()
        try:
            yield
        finally:
            if background is not None:
                background.stop()
            gateway.close()
            if decider is not None:
                gateway.use_decider(None)
                decider.close()

    app = FastAPI(
        title="custodes",
        version="1",
        summary="A lawful, precise and auditable disclosure gateway",
        description=(
            "Agencies submit verification batches and single online verifications under their own API "
            "keys; a disclosure officer releases each batch; every act is accounted for in a public "
            "RFC 6962 transparency log. Errors are RFC 9457 problem+json."
        ),
        lifespan=lifespan,
    )
    app.state.desk = desk
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.state.wake_worker = background.wake if background is not None else (lambda: None)
    _install_errors(app)

    @app.post(
        "/v1/batches",
        status_code=202,
        response_model=BatchAccepted,
        tags=["batches"],
        summary="Submit a batch",
        description=(
            "multipart/form-data with two parts: `manifest` (the JSON manifest) and `requests` (the "
            "batch file, .csv or .parquet). The manifest's agency must be the caller's. The body is "
            "streamed to disk and refused with 413 above the configured limit. A batch_id the agency "
            "used before is refused with 409."
        ),
        responses=_problems(
            UNAUTH,
            FORBID,
            (409, example("batch-exists", "batch_id 'DHS-2026-0001' was already submitted")),
            (413, example("payload-too-large", "the upload is larger than the limit of 2147483648 bytes")),
            (415, example("unsupported-media-type", "the body is application/json, not multipart/form-data")),
            (422, example("invalid-manifest", "missing required field(s): reason", column="reason")),
        ),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["manifest", "requests"],
                            "properties": {
                                "manifest": {"type": "string", "format": "binary"},
                                "requests": {"type": "string", "format": "binary"},
                            },
                        },
                        "example": {"manifest": "(manifest.json)", "requests": "(requests.csv)"},
                    }
                },
            }
        },
    )
    async def submit_batch(request: Request, who: Who) -> JSONResponse:
        limit = settings.service.max_upload_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLargeError(f"the upload is larger than the limit of {limit} bytes")
        public_id, directory = desk.new_batch_dir()
        try:
            name = await receive(request.stream(), request.headers.get("content-type"), directory, limit)
            accepted = await run_in_threadpool(desk.submit, who, public_id, directory, name)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        app.state.wake_worker()
        return JSONResponse(
            BatchAccepted(id=accepted.public_id, batch_id=accepted.batch_id, status="received").model_dump(),
            status_code=202,
            headers={"Location": f"/v1/batches/{accepted.public_id}"},
        )

    @app.get(
        "/v1/batches",
        response_model=list[BatchStatus],
        tags=["batches"],
        summary="List batches",
        description="An agency sees its own batches; staff see all. Filter with `status`.",
        responses=_problems(UNAUTH, FORBID),
    )
    def list_batches(
        who: Who,
        status: Annotated[
            list[Literal["received", "processing", "processed", "released", "failed", "held"]] | None,
            Query(description="Only batches in these states"),
        ] = None,
    ) -> list[dict[str, object]]:
        return desk.list(who, status or ())

    @app.get(
        "/v1/batches/{batch}",
        response_model=BatchStatus,
        tags=["batches"],
        summary="A batch's status and counts",
        responses=_problems(UNAUTH, FORBID, NOTFOUND),
    )
    def batch_status(batch: BatchId, who: Who) -> dict[str, object]:
        return desk.status(who, batch)

    @app.get(
        "/v1/batches/{batch}/review",
        response_model=BatchReview,
        tags=["review"],
        summary="A batch's ambiguous and refused rows, TINs masked (disclosure officers)",
        responses=_problems(UNAUTH, FORBID, NOTFOUND),
    )
    def batch_review(batch: BatchId, who: Who) -> dict[str, object]:
        return desk.review(who, batch)

    @app.post(
        "/v1/batches/{batch}/release",
        response_model=BatchStatus,
        tags=["review"],
        summary="Release a processed batch to its agency",
        description="A disclosure officer only, and never the person who submitted the batch.",
        responses=_problems(
            UNAUTH,
            FORBID,
            NOTFOUND,
            (
                409,
                example("batch-state", "batch 0b9f... is processing; only a processed batch can be released"),
            ),
        ),
    )
    def release_batch(batch: BatchId, who: Who) -> dict[str, object]:
        return desk.release(who, batch)

    @app.post(
        "/v1/batches/{batch}/hold",
        response_model=BatchStatus,
        tags=["review"],
        summary="Hold a processed batch back from release",
        responses=_problems(
            UNAUTH, FORBID, NOTFOUND, (409, example("batch-state", "only a processed batch can be held"))
        ),
    )
    def hold_batch(batch: BatchId, who: Who, body: HoldRequest) -> dict[str, object]:
        return desk.hold(who, batch, body.reason)

    @app.get(
        "/v1/batches/{batch}/response",
        tags=["batches"],
        summary="Download the released response (CSV)",
        description="Only the submitting agency, and only after a disclosure officer released the batch.",
        response_class=FileResponse,
        responses={
            200: {
                "content": {
                    "text/csv": {"example": "request_id,outcome,reason,address_status\nR1,match,,current\n"}
                },
                "description": "The response file",
            },
            **_problems(
                UNAUTH, FORBID, NOTFOUND, (409, example("not-released", "batch 0b9f... is processed"))
            ),
        },
    )
    def batch_response(batch: BatchId, who: Who) -> FileResponse:
        path = desk.response_path(who, batch)
        return FileResponse(path, media_type="text/csv", filename=f"response-{batch}.csv")

    @app.post(
        "/v1/verifications",
        response_model=ResponseRow,
        response_model_exclude_unset=True,
        tags=["online"],
        summary="Verify one subject under a standing basis",
        description=(
            "The same legal checks, linkage, disclosure and accounting as a batch, on one subject. "
            "Send an `Idempotency-Key` to make retries safe: a repeat with the same key and body "
            "returns the first answer (and `Idempotency-Replayed: true`), never a second act."
        ),
        responses=_problems(
            UNAUTH,
            (
                403,
                example(
                    "forbidden",
                    "submitter may not verify subject: rule standing_basis_expired",
                    rule="standing_basis_expired",
                ),
            ),
            (404, example("not-found", "no standing basis with id 'DHS-ONLINE-2026'")),
            (
                409,
                example(
                    "idempotency-in-progress", "a request with this Idempotency-Key is still being answered"
                ),
            ),
            INVALID,
        ),
    )
    async def verify(
        body: Annotated[VerificationRequest, Body()],
        who: Who,
        idempotency_key: Annotated[
            str | None, Header(alias="Idempotency-Key", max_length=200, pattern=r"^[!-~]+$")
        ] = None,
    ) -> JSONResponse:
        subject = body.subject.model_dump()
        started = (
            desk.start_verification(who, body.standing_basis, subject) if idempotency_key is None else None
        )
        if started is not None:
            # awaited on the event loop: no worker thread waits for the group's commit
            verification_id, pending = started
            row, replayed = await asyncio.wrap_future(pending), False
        else:
            verification_id, row, replayed = await run_in_threadpool(
                desk.verify, who, body.standing_basis, subject, idempotency_key
            )
        headers = {"Custodes-Verification-Id": verification_id}
        if idempotency_key is not None:
            headers["Idempotency-Replayed"] = "true" if replayed else "false"
        return JSONResponse(row, headers=headers)

    @app.get(
        "/v1/log/checkpoint",
        tags=["transparency"],
        summary="The newest signed checkpoint (C2SP signed note), with witness cosignatures",
        response_class=PlainTextResponse,
        responses={
            200: {
                "content": {
                    "text/plain": {
                        "example": "custodes.example/log\n42\nq1x...=\n\n— custodes.example/log Az3...\n"
                    }
                },
                "description": "The signed note",
            },
            **_problems((404, example("log-empty", "the log is empty: no checkpoint has been signed yet"))),
        },
    )
    def checkpoint() -> Response:
        try:
            note = cosigned_note(gateway.engine, settings.log_origin)
        except LedgerError as exc:
            return problem("log-empty", str(exc))
        return PlainTextResponse(note, headers={"Cache-Control": "no-store"})

    @app.get(
        "/v1/log/proof/inclusion",
        tags=["transparency"],
        summary="Inclusion proof of one entry under the newest checkpoint",
        description="By `index`, or by `batch_id` and `request_id` (and `agency` where batch ids collide).",
        responses={
            200: {
                "content": {
                    "application/json": {
                        "example": {
                            "leaf_index": 7,
                            "tree_size": 42,
                            "entry_b64": "eyJhZ2VuY3kiOi...",
                            "inclusion_path": ["3f1c...", "a0b2..."],
                            "checkpoint": "custodes.example/log\n42\n...",
                        }
                    }
                },
                "description": "The proof bundle (custodes.ledger.verify checks it)",
            },
            **_problems((422, example("log-proof", "entry 99 is not in the log (tree size 42)"))),
        },
    )
    def inclusion(
        index: Annotated[int | None, Query(ge=0, le=2**53)] = None,
        batch_id: Annotated[str | None, Query(max_length=200, pattern=TEXT)] = None,
        request_id: Annotated[str | None, Query(max_length=200, pattern=TEXT)] = None,
        agency: Annotated[str | None, Query(max_length=200, pattern=TEXT)] = None,
    ) -> Response:
        if (index is None) == (batch_id is None or request_id is None):
            return problem("invalid-request", "give either index, or batch_id and request_id")
        try:
            with gateway.engine.connect() as conn:
                if index is not None:
                    return JSONResponse(prove_index(conn, settings.log_origin, index))
                assert batch_id is not None
                assert request_id is not None
                return JSONResponse(prove_request(conn, settings.log_origin, batch_id, request_id, agency))
        except LedgerError as exc:
            return problem("log-proof", str(exc))

    @app.get(
        "/v1/log/proof/consistency",
        tags=["transparency"],
        summary="Consistency proof between two tree sizes",
        responses={
            200: {
                "content": {
                    "application/json": {
                        "example": {
                            "from": 10,
                            "to": 42,
                            "root_from": "ab..",
                            "root_to": "cd..",
                            "proof": ["ef.."],
                        }
                    }
                },
                "description": "The proof bundle",
            },
            **_problems((422, example("log-proof", "no consistency proof from size 50 to 42"))),
        },
    )
    def consistency(
        first: Annotated[int, Query(alias="from", ge=1, le=2**53)],
        second: Annotated[int | None, Query(alias="to", ge=1, le=2**53)] = None,
    ) -> Response:
        try:
            with gateway.engine.connect() as conn:
                return JSONResponse(consistency_between(conn, settings.log_origin, first, second))
        except LedgerError as exc:
            return problem("log-proof", str(exc))

    mount_ui(app, desk)
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with every error response documented as problem+json."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    default_422 = example("invalid-request", "body.subject.request_id: Field required", errors=[])
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for code, answer in operation.get("responses", {}).items():
                if not code.isdigit() or int(code) < 400:
                    continue
                content = answer.setdefault("content", {})
                content.pop("application/json", None)
                documented = content.setdefault(MEDIA_TYPE, {"example": default_422})
                documented["schema"] = problem_ref
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = Problem.model_json_schema()
    app.openapi_schema = schema
    return schema


def _install_errors(app: FastAPI) -> None:
    def handler(slug_of: Callable[[Any], str]) -> Callable[[Request, Any], Any]:
        async def handle(request: Request, exc: Any) -> Response:
            slug = slug_of(exc)
            extensions: dict[str, object] = {}
            if isinstance(exc, UserInputError):
                detail = exc.message
                extensions = {
                    k: v
                    for k, v in (
                        ("file", exc.file),
                        ("row", exc.row),
                        ("column", exc.column),
                        ("hint", exc.hint),
                    )
                    if v is not None
                }
            else:
                detail = str(exc)
            if isinstance(exc, PermissionDeniedError):
                extensions["rule"] = exc.rule
            headers = {"WWW-Authenticate": "Bearer"} if slug == "unauthenticated" else None
            return problem(slug, detail, instance=request.url.path, extensions=extensions, headers=headers)

        return handle

    app.add_exception_handler(AuthenticationError, handler(lambda _: "unauthenticated"))
    app.add_exception_handler(PermissionDeniedError, handler(lambda _: "forbidden"))
    app.add_exception_handler(NotFoundError, handler(lambda _: "not-found"))
    app.add_exception_handler(
        ConflictError,
        handler(
            lambda e: {
                "batch-exists": "batch-exists",
                "batch-state": "batch-state",
                "not-released": "not-released",
                "idempotency": "idempotency-in-progress",
            }.get(e.kind, "conflict")
        ),
    )
    app.add_exception_handler(PayloadTooLargeError, handler(lambda _: "payload-too-large"))
    app.add_exception_handler(UnsupportedMediaError, handler(lambda _: "unsupported-media-type"))
    app.add_exception_handler(MalformedUploadError, handler(lambda _: "invalid-request"))
    app.add_exception_handler(ManifestError, handler(lambda _: "invalid-manifest"))
    app.add_exception_handler(BatchFileError, handler(lambda _: "invalid-batch-file"))
    app.add_exception_handler(
        UserInputError,
        handler(lambda e: "idempotency-key-reused" if e.column == "Idempotency-Key" else "invalid-input"),
    )
    app.add_exception_handler(StoreError, handler(lambda _: "unavailable"))

    async def custodes_error(request: Request, exc: Exception) -> Response:
        log.error("internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return problem(
            "internal-error",
            "the service could not complete the request; it has been logged",
            instance=request.url.path,
        )

    app.add_exception_handler(CustodesError, custodes_error)
    app.add_exception_handler(Exception, custodes_error)

    async def validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "loc": [str(part) for part in err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        detail = f"{'.'.join(first['loc'])}: {first['msg']}" if errors else "the request is not valid"
        return problem("invalid-request", detail, instance=request.url.path, extensions={"errors": errors})

    app.add_exception_handler(RequestValidationError, validation)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        slug = slug_for_status(exc.status_code)
        return problem(slug, str(exc.detail), instance=request.url.path, headers=dict(exc.headers or {}))

    app.add_exception_handler(StarletteHTTPException, http_error)


def app_from_environment() -> FastAPI:
    """The app on the settings from the environment (``custodes serve`` runs this factory)."""
    return create_app()
