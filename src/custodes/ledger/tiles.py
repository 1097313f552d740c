"""The log's read API in the C2SP tlog-tiles layout, so that standard tlog clients can read it.

Paths (relative to the log's prefix): ``checkpoint``; ``tile/<L>/<N>[.p/<W>]`` for hash
tiles; ``tile/entries/<N>[.p/<W>]`` for entry bundles (each entry as a big-endian 16-bit
length and its bytes). ``N`` is written in 3-digit groups with an ``x`` on every group
but the last (1234067 is ``x001/x234/067``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from custodes.errors import LedgerError
from custodes.ledger import store
from custodes.ledger.hasher import HASH_SIZE
from custodes.ledger.publish import cosigned_note
from custodes.ledger.tree import TILE_HEIGHT, TILE_WIDTH, tile_width

_GROUP = re.compile(r"x[0-9]{3}")
_LAST = re.compile(r"[0-9]{3}")
_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")
ENTRIES = -1
"""The ``level`` of an entry bundle path."""


def format_index(index: int) -> str:
    """A tile index in tlog-tiles form: 5 is ``005``, 1234067 is ``x001/x234/067``."""
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """The path of a tile (``level`` is ``ENTRIES`` for an entry bundle)."""
    name = "entries" if level == ENTRIES else str(level)
    partial = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{name}/{format_index(index)}{partial}"


@dataclass(frozen=True)
class TileRef:
    """A parsed tile path."""

    level: int
    index: int
    width: int


def parse_tile_path(path: str) -> TileRef:
    """Parse ``tile/...``; raises ``ValueError`` for anything not in the layout."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise ValueError(f"not a tile path: {path!r}")
    width = TILE_WIDTH
    if len(parts) >= 4 and parts[-2].endswith(".p"):
        if not _WIDTH.fullmatch(parts[-1]) or int(parts[-1]) >= TILE_WIDTH:
            raise ValueError(f"bad partial width in {path!r}")
        width = int(parts[-1])
        parts = [*parts[:-2], parts[-2][:-2]]
    level_part, groups = parts[1], parts[2:]
    if level_part == "entries":
        level = ENTRIES
    elif _LEVEL.fullmatch(level_part) and int(level_part) < 64:
        level = int(level_part)
    else:
        raise ValueError(f"bad tile level in {path!r}")
    if not _LAST.fullmatch(groups[-1]) or not all(_GROUP.fullmatch(g) for g in groups[:-1]):
        raise ValueError(f"bad tile index in {path!r}")
    if len(groups) > 1 and groups[0] == "x000":
        raise ValueError(f"tile index with leading zero groups in {path!r}")
    index = int("".join(g.lstrip("x") for g in groups))
    return TileRef(level, index, width)


def read_tile(engine: Engine, ref: TileRef) -> bytes | None:
    """The bytes served at a tile path, or None where the log has no such tile (yet)."""
    with engine.connect() as conn:
        size = store.head_size(conn)
        level = 0 if ref.level == ENTRIES else ref.level
        full_tiles = size >> (TILE_HEIGHT * (level + 1))
        available = TILE_WIDTH if ref.index < full_tiles else tile_width(size, level)
        if ref.index > full_tiles or ref.width > available:
            return None
        if ref.level == ENTRIES:
            start = ref.index * TILE_WIDTH
            rows = store.entry_range(conn, start, start + ref.width)
            return b"".join(len(data).to_bytes(2, "big") + data for _, data in rows)
        blob = store.read_tiles(conn, {(ref.level, ref.index)}).get((ref.level, ref.index), b"")
    if len(blob) < ref.width * HASH_SIZE:
        raise LedgerError(f"stored tile {ref.level}/{ref.index} is short; run `custodes ledger audit`")
    return blob[: ref.width * HASH_SIZE]


def tiles_app(engine: Engine, origin: str) -> Starlette:
    """An ASGI app serving the log read-only in the tlog-tiles layout."""

    async def checkpoint(_: Request) -> Response:
        try:
            note = cosigned_note(engine, origin)
        except LedgerError:
            return Response("no checkpoint yet\n", status_code=404)
        return Response(note, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-store"})

    async def tile(request: Request) -> Response:
        try:
            ref = parse_tile_path("tile/" + request.path_params["path"])
        except ValueError as exc:
            return Response(f"{exc}\n", status_code=404)
        data = read_tile(engine, ref)
        if data is None:
            return Response("no such tile\n", status_code=404)
        headers = {"Cache-Control": "public, max-age=31536000, immutable"}
        return Response(data, media_type="application/octet-stream", headers=headers)

    return Starlette(
        routes=[
            Route("/checkpoint", checkpoint, methods=["GET"]),
            Route("/tile/{path:path}", tile, methods=["GET"]),
        ]
    )
