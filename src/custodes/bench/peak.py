"""``python -m custodes.bench.peak MODULE ARGS...``: run ``python -m MODULE ARGS``, record its peak RSS.

Why not ``wait4``'s ``ru_maxrss`` alone: on Linux a child starts with the high-water mark
of the process that spawned it (``vfork``/``exec`` keep the larger of the two), so once a
benchmark driver has grown (converted a data set, scored a run) every later child reports
at least the driver's own peak. This launcher reads the kernel's ``VmHWM`` of the child's
own address space at exit, which has no such floor, and the largest ``ru_maxrss`` among the
processes the child itself waited for; it writes both, in KiB, as JSON to the file named
by ``CUSTODES_BENCH_PEAK_FILE``.
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import runpy
import sys
from pathlib import Path

PEAK_FILE_ENV = "CUSTODES_BENCH_PEAK_FILE"


def vm_hwm_kib() -> int:
    """This process's peak resident set size (``VmHWM``) in KiB, 0 where /proc lacks it."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _record() -> None:
    target = os.environ.get(PEAK_FILE_ENV)
    if not target:
        return
    peak = {
        "self_kib": vm_hwm_kib(),
        "children_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    }
    Path(target).write_text(json.dumps(peak) + "\n", encoding="utf-8")


def read_peak_mib(path: Path) -> float | None:
    """The larger of the two peaks a launched process recorded, in MiB; None if it wrote none."""
    try:
        peak = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return round(max(int(peak["self_kib"]), int(peak["children_kib"])) / 1024, 1)


def main() -> None:
    """Run ``sys.argv[1]`` as ``__main__`` with the remaining arguments."""
    if len(sys.argv) < 2:
        sys.exit("usage: python -m custodes.bench.peak MODULE [ARGS...]")
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    atexit.register(_record)
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
