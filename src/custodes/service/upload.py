"""Streaming a multipart batch upload to disk, with a size limit, without holding it in memory.

The body must hold exactly two parts: ``manifest`` (the JSON manifest, at most 1 MiB) and
``requests`` (the batch file, with a .csv or .parquet file name). Anything else is refused:
an unknown or repeated part, a missing part, a body over the limit (413), or multipart
that does not parse.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from custodes.errors import PayloadTooLargeError, UserInputError
from custodes.service.desk import safe_file_name

PARTS = ("manifest", "requests")
MAX_MANIFEST_BYTES = 1 << 20


class MalformedUploadError(UserInputError):
    """The upload is not the multipart body ``POST /v1/batches`` expects."""


class UnsupportedMediaError(UserInputError):
    """The body is not multipart/form-data."""


def boundary_of(content_type: str | None) -> bytes:
    """The multipart boundary from a Content-Type header."""
    kind, params = parse_options_header(content_type or "")
    if kind != b"multipart/form-data":
        raise UnsupportedMediaError(
            f"the body is {kind.decode('latin-1') or 'untyped'}, not multipart/form-data",
            hint="send the manifest and the requests file as multipart/form-data parts "
            "(curl -F manifest=@m.json -F requests=@batch.csv)",
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise MalformedUploadError(
            "the multipart Content-Type names no boundary", hint="let your client set it"
        )
    return boundary


class _Receiver:
    def __init__(self, directory: Path, limit: int) -> None:
        self.directory = directory
        self.limit = limit
        self.total = 0
        self.names: dict[str, str] = {}
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._part: str | None = None
        self._part_bytes = 0
        self._file: BinaryIO | None = None

    def on_part_begin(self) -> None:
        self._disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        raw_name = options.get(b"name")
        if raw_name is None:
            raise MalformedUploadError(
                "a multipart part has no name", hint="name the parts manifest and requests"
            )
        name = raw_name.decode("utf-8", "replace")
        if name not in PARTS:
            raise MalformedUploadError(
                f"unknown part {name[:60]!r}",
                column=name[:60],
                hint="send exactly two parts: manifest and requests",
            )
        if name in self.names:
            raise MalformedUploadError(
                f"the part {name!r} appears twice", column=name, hint="send each part once"
            )
        if name == "requests":
            filename = options.get(b"filename")
            if filename is None:
                raise MalformedUploadError(
                    "the requests part is not a file",
                    column="requests",
                    hint="send the batch as a file part with its file name (curl -F requests=@batch.csv)",
                )
            target = safe_file_name(filename.decode("utf-8", "replace"))
        else:
            target = "manifest.json"
        self.names[name] = target
        self._part = name
        self._part_bytes = 0
        self._file = (self.directory / target).open("wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        assert self._file is not None
        self._part_bytes += end - start
        if self._part == "manifest" and self._part_bytes > MAX_MANIFEST_BYTES:
            raise PayloadTooLargeError(
                f"the manifest is larger than {MAX_MANIFEST_BYTES} bytes",
                column="manifest",
                hint="a manifest is a small JSON object; send the rows in the requests file",
            )
        self._file.write(data[start:end])

    def on_part_end(self) -> None:
        self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


async def receive(stream: AsyncIterator[bytes], content_type: str | None, directory: Path, limit: int) -> str:
    """Stream the upload into ``directory``; returns the requests file's name there."""
    receiver = _Receiver(directory, limit)
    parser = MultipartParser(
        boundary_of(content_type),
        {
            "on_part_begin": receiver.on_part_begin,
            "on_part_data": receiver.on_part_data,
            "on_part_end": receiver.on_part_end,
            "on_header_field": receiver.on_header_field,
            "on_header_value": receiver.on_header_value,
            "on_header_end": receiver.on_header_end,
            "on_headers_finished": receiver.on_headers_finished,
        },
    )
    try:
        async for chunk in stream:
            receiver.total += len(chunk)
            if receiver.total > limit:
                raise PayloadTooLargeError(
                    f"the upload is larger than the limit of {limit} bytes",
                    hint="split the requests into several batches, each under the limit",
                )
            parser.write(chunk)
        parser.finalize()
        if parser.state != MultipartState.END:
            # python-multipart's finalize() does not check this: a body cut short would pass.
            raise MalformedUploadError(
                "the body ends before the closing multipart boundary: the upload is incomplete",
                hint="send the whole body again; nothing was recorded",
            )
    except FormParserError as exc:
        raise MalformedUploadError(
            "the body is not valid multipart/form-data",
            hint="send the manifest and the requests file as multipart/form-data parts",
        ) from exc
    finally:
        receiver.close()
    missing = [p for p in PARTS if p not in receiver.names]
    if missing:
        raise MalformedUploadError(
            f"missing part(s): {', '.join(missing)}",
            column=missing[0],
            hint="send exactly two parts: manifest (the JSON manifest) and requests (the batch file)",
        )
    return receiver.names["requests"]
