"""Call an ASGI app in-process (httpx's ASGI transport), without a server."""

from __future__ import annotations

import asyncio

import httpx
from starlette.types import ASGIApp


def call(app: ASGIApp, method: str, path: str, body: bytes = b"") -> httpx.Response:
    """One request to ``app``; the response is fully read."""

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.request(method, path, content=body)
            await response.aread()
            return response

    return asyncio.run(run())
