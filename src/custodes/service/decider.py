"""One decider process for the service's online verifications.

``custodes serve`` starts it before the HTTP processes and hands them its socket. The HTTP
processes parse, authenticate and authorise each ``POST /v1/verifications`` as before, then
send the subject here instead of deciding it themselves. The decider runs the one Gateway's
``submit_subject`` (the group runner: legal checks, linkage, disclosure, accounting, one
commit a group) and sends each response row, or its error, back to the process that asked.

Why a process of its own (docs/service.md, "One decider"): with every HTTP process deciding
its own groups, each group of one or two subjects paid the fixed cost of a group (about
5.5 ms of CPU at 1M), the group threads fought the event loops for their processes' GIL and
the processes took turns at the store's write lock. One decider forms one stream of larger
groups from every HTTP process, holds the only online engine in memory (1.5 GB at 1M, once
instead of once a process) and is the only online writer.

The wire is ``multiprocessing.connection`` on a Unix socket in a directory only this user can
enter (``serve`` makes it with ``mkdtemp``): a message is ``(number, OnlineRequest)`` one way
and ``(number, ok, row or exception)`` the other, pickled. Nothing that is not this user's can
connect, and whoever is this user can read the store anyway.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import multiprocessing
import os
import pickle
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from custodes.errors import StoreError
from custodes.gateway import open_gateway

if TYPE_CHECKING:
    from custodes.gateway import Gateway, OnlineRequest

log = logging.getLogger("custodes.decider")

FAMILY = "AF_UNIX"

LISTENING = "deciding online verifications at %s (process %d)"
"""What the decider logs once it listens: its socket and its process id."""
LISTENING_LINE = re.compile(r"deciding online verifications at (\S+) \(process (\d+)\)")
"""``LISTENING`` in a log: group 1 the socket, group 2 the process id (the bench and the tests
find the decider by it)."""


class _Flag(Protocol):
    def set(self) -> None: ...


class _Waitable(Protocol):
    def wait(self, timeout: float | None = None) -> bool: ...


class DeciderUnavailableError(StoreError):
    """The decider process is gone: the verification's answer cannot be had (HTTP 503)."""


class DeciderClient:
    """The HTTP process's end: ``submit`` sends a subject and returns the future of its row.

    One connection per process, shared by every request in flight: a reader thread resolves
    the futures as the answers come back, in whatever order their groups finish. When the
    connection breaks, every pending future and every later ``submit`` fails with
    ``DeciderUnavailableError``; nothing is retried, since a retry could be a second
    verification of a subject whose first was committed.
    """

    def __init__(self, address: str) -> None:
        self._address = address
        try:
            self._conn: Connection = Client(address, family=FAMILY)
        except OSError as exc:
            raise DeciderUnavailableError(
                f"cannot reach the decider process at {address}: {exc}; restart `custodes serve`"
            ) from exc
        self._lock = threading.Lock()
        self._pending: dict[int, Future[dict[str, object]]] = {}
        self._numbers = itertools.count()
        self._broken: str | None = None
        self._reader = threading.Thread(target=self._read, name="custodes-decider-reader", daemon=True)
        self._reader.start()

    def submit(self, request: OnlineRequest) -> Future[dict[str, object]]:
        """Send ``request``; the future holds its response row or its error."""
        future: Future[dict[str, object]] = Future()
        with self._lock:
            if self._broken is not None:
                raise DeciderUnavailableError(self._broken)
            number = next(self._numbers)
            self._pending[number] = future
            try:
                self._conn.send((number, request))
            except (OSError, ValueError) as exc:
                del self._pending[number]
                self._fail(f"the decider process at {self._address} went away: {exc}")
                raise DeciderUnavailableError(self._broken or str(exc)) from exc
            except BaseException:
                # the request could not be pickled: nothing was sent, the connection holds
                del self._pending[number]
                raise
        return future

    def close(self) -> None:
        """Close the connection; requests still pending fail."""
        with self._lock:
            self._fail("the service is shutting down")
        self._conn.close()

    def _read(self) -> None:
        while True:
            try:
                number, ok, value = self._conn.recv()
            except (EOFError, OSError) as exc:
                with self._lock:
                    self._fail(f"the decider process at {self._address} went away ({type(exc).__name__})")
                return
            except Exception as exc:  # an answer this process cannot read: whose it was is unknown
                log.exception("an answer from the decider could not be read")
                with self._lock:
                    self._fail(f"an answer from the decider could not be read ({type(exc).__name__}: {exc})")
                self._conn.close()
                return
            with self._lock:
                future = self._pending.pop(number, None)
            if future is None:
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _fail(self, why: str) -> None:
        """Mark the connection broken and fail what waits (the caller holds ``_lock``)."""
        if self._broken is None:
            self._broken = (
                f"{why}; the outcome of verifications in flight is unknown: each one that was "
                "committed is in the accounting log. Restart `custodes serve`, and retry with an "
                "Idempotency-Key to be answered once"
            )
        pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(DeciderUnavailableError(self._broken))


def _portable(error: BaseException) -> BaseException:
    """``error`` if it survives pickling, else a StoreError that names it (the row it failed)."""
    try:
        pickle.loads(pickle.dumps(error))  # noqa: S301 - the bytes were made here, just now
    except Exception:  # whatever cannot cross the socket is named instead
        return StoreError(f"the decider failed: {type(error).__name__}: {error}")
    return error


def serve_connection(gateway: Gateway, conn: Connection) -> None:
    """Answer one HTTP process's requests until it hangs up."""
    lock = threading.Lock()

    def answer(number: int, future: Future[dict[str, object]]) -> None:
        error = future.exception()
        message = (number, True, future.result()) if error is None else (number, False, _portable(error))
        with lock:
            try:
                conn.send(message)
            except (OSError, ValueError):
                # the HTTP process is gone; its verification stays committed and accounted
                log.warning("an answer could not be sent: the HTTP process hung up")
            except Exception as exc:  # the row would not pickle: the asker still gets an answer
                log.exception("answer %d could not be sent", number)
                failed = StoreError(f"the decider could not send the answer: {type(exc).__name__}: {exc}")
                with contextlib.suppress(OSError, ValueError):
                    conn.send((number, False, failed))

    while True:
        try:
            number, request = conn.recv()
        except (EOFError, OSError):
            break
        except Exception:
            # a message this process cannot read: its number is unknown, so no one can be
            # answered; closing fails the sender's pending requests at once instead of never
            log.exception("a message from a server process could not be read; closing its connection")
            break
        try:
            future = gateway.submit_subject(
                request.basis, request.subject, now=request.now, recorded_as=request.recorded_as
            )
        except Exception as exc:  # the asker gets the error; the decider goes on
            future = Future()
            future.set_exception(exc)
        future.add_done_callback(functools.partial(answer, number))
    conn.close()


class DeciderServer:
    """Accepts HTTP processes on ``address`` and serves each on a thread (``serve_connection``)."""

    def __init__(self, gateway: Gateway, address: str) -> None:
        self.gateway = gateway
        self.address = address
        self._listener = Listener(address, family=FAMILY)
        self._accepting = threading.Thread(target=self._accept, name="custodes-decider-accept", daemon=True)

    def start(self) -> None:
        self._accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                conn = self._listener.accept()
            except OSError:
                return
            threading.Thread(
                target=serve_connection, args=(self.gateway, conn), name="custodes-decider-conn", daemon=True
            ).start()

    def close(self) -> None:
        self._listener.close()


def run_decider(address: str, ready: _Flag | None = None, stopping: _Waitable | None = None) -> None:
    """The decider process's main: load the online engine, listen, answer until told to stop.

    It stops when ``stopping`` is set (``custodes serve`` sets it once its server processes
    have shut down), on SIGTERM, or when its parent is gone. Ctrl+C in a terminal reaches the
    whole process group: the decider ignores SIGINT and lets ``custodes serve`` finish the
    requests in flight first and then stop it.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s %(message)s")
    gateway = open_gateway()
    matcher = gateway.online_matcher()
    log.info("online engine %s", "loaded" if matcher is not None else "absent: the batch engine decides")
    server = DeciderServer(gateway, address)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if stopping is not None:

        def told() -> None:
            stopping.wait()
            stop.set()

        threading.Thread(target=told, name="custodes-decider-stopping", daemon=True).start()
    parent = multiprocessing.parent_process()
    if parent is not None:
        # `custodes serve` killed outright must not leave a decider holding 1.5 GB behind
        def orphaned() -> None:
            parent.join()
            stop.set()

        threading.Thread(target=orphaned, name="custodes-decider-parent", daemon=True).start()
    server.start()
    log.info(LISTENING, address, os.getpid())
    if ready is not None:
        ready.set()
    stop.wait()
    server.close()
    # finish the groups in flight (their callers are answered), then release the store
    gateway.close()
    log.info("decider stopped")


START_SECONDS = 600.0
"""How long ``started_decider`` waits for the decider to load the online engine (a 10M
master's takes about a minute)."""


@contextlib.contextmanager
def started_decider(start_seconds: float = START_SECONDS) -> Iterator[str]:
    """Start the decider process, wait until it listens, yield its socket; stop it after.

    The socket lives in a new directory only this user can enter. The process is spawned (a
    fresh interpreter, the environment as it is now) and reads the same settings. If it
    dies before it listens, its exit code is reported, not a hang.
    """
    context = multiprocessing.get_context("spawn")
    folder = Path(tempfile.mkdtemp(prefix="custodes-decider-"))
    address = str(folder / "decider.sock")
    ready, stopping = context.Event(), context.Event()
    process = context.Process(target=run_decider, args=(address, ready, stopping), name="custodes-decider")
    process.start()
    try:
        deadline = time.monotonic() + start_seconds
        while not ready.wait(0.2):
            if not process.is_alive():
                raise StoreError(
                    f"the decider process exited with code {process.exitcode} before it listened; "
                    "its error is above"
                )
            if time.monotonic() > deadline:
                raise StoreError(f"the decider process did not listen within {start_seconds:.0f} s")
        yield address
    finally:
        stopping.set()
        if not ready.is_set():
            process.terminate()  # still loading: nothing to finish
        process.join(timeout=60)
        if process.is_alive():
            process.kill()
            process.join()
        shutil.rmtree(folder, ignore_errors=True)
