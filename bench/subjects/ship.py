"""The transport registry of the `ship` suite: every fact about a way to get work done elsewhere.

A `ship` case is `ship/TRANSPORT/OP/SHAPE/SIZE`:

- `empty/none/0`: the round trip of a task that does nothing, the transport's fixed cost;
- `data/ints/N`: N ints built here and shipped with a known function that sums them;
- `code/ints/N`: a lambda that builds the same N ints there, shipped, called and summed;
- `independent-xW/grid/N`, `stencil-xW/grid/N`: a Jacobi sweep over an N x N grid cut into
  two tiles, run on W worker processes; coupled (`stencil`) tiles swap edge rows every step,
  independent ones do not. Same work on 1 and 2 workers: scale out or scale up.

Importing this module imports no optional library (loky, distributed, a serializer).
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass

from bench.subjects.serializers import SERIALIZERS

SHIP_DATA_OPS = ("empty", "data", "code")
SCALE_OPS = ("independent-x1", "independent-x2", "stencil-x1", "stencil-x2")
SHIP_OPS = SHIP_DATA_OPS + SCALE_OPS
SHIP_SHAPES = ("none", "ints", "grid")
SCHEDULER_ENV = "BENCH_DASK_SCHEDULER"  # a running dask scheduler's address, for the dask cases


@dataclass(frozen=True)
class Transport:
    """One way to ship work to another process.

    module: the optional library it needs (None: the standard library only);
    serializer: the registry serializer that frames a socket's messages (None: the transport's own);
    ships_code: it pickles functions by value, so a lambda can travel (the case still runs
    where it cannot, and fails its check with the reason); ops: the ops it has cases for.
    """

    name: str
    module: str | None
    note: str
    distribution: str | None = None
    serializer: str | None = None
    ships_code: bool = False
    ops: tuple[str, ...] = SHIP_DATA_OPS
    color: str = ""
    marker: str = ""

    def available(self) -> bool:
        """True when the transport's library can be imported (checked without importing it)."""
        return self.module is None or importlib.util.find_spec(self.module) is not None


def socket_transport(serializer: str) -> Transport:
    """A loopback TCP socket whose messages are framed with `serializer`."""
    entry = SERIALIZERS[serializer]
    ops = SHIP_DATA_OPS if entry.general else ("empty", "data")
    return Transport(f"socket-{serializer}", entry.module,
                     f"loopback TCP, length-prefixed frames of {entry.call}", entry.distribution,
                     serializer, entry.general, ops, entry.color,
                     SOCKET_MARKERS.get(entry.marker, DEFAULT_SOCKET_MARKER))


SOCKET_MARKERS = {"o": "v", "s": "<", "D": ">"}  # a serializer's marker -> its socket's, one to one
DEFAULT_SOCKET_MARKER = "^"


def socket_serializers() -> list[str]:
    """The serializers that frame a loopback socket of the ship suite (not the legacy formats,
    not variants whose frames are another entry's)."""
    return [name for name, entry in SERIALIZERS.items() if entry.socket and not entry.legacy]


def add_socket_transports() -> None:
    """Give every socket serializer added since (a plugin's) its socket transport."""
    for name in socket_serializers():
        TRANSPORTS.setdefault(f"socket-{name}", socket_transport(name))

TRANSPORTS: dict[str, Transport] = {t.name: t for t in [
    Transport("process-pool", None, "concurrent.futures.ProcessPoolExecutor, spawn context: "
              "the call is pickled, so a lambda cannot travel", color="#000000", marker="P"),
    Transport("loky", "loky", "loky's reusable executor: functions travel by cloudpickle",
              "loky", ships_code=True, color="#D55E00", marker="P"),
    Transport("dask", "distributed", "dask.distributed Client on a LocalCluster of worker "
              f"processes started untimed (or the scheduler at ${SCHEDULER_ENV})",
              "distributed", ships_code=True, color="#0072B2", marker="P"),
    Transport("pipes", None, "spawned worker processes joined by multiprocessing Pipes; "
              "the tiles swap edge rows through them", ops=SCALE_OPS, color="#009E73",
              marker="X"),
    *(socket_transport(name) for name in socket_serializers()),
]}


def workers_of(op: str) -> int:
    """How many worker processes a scale op uses (1 for the data ops).

    >>> workers_of("stencil-x2"), workers_of("data")
    (2, 1)
    """
    return int(op.rsplit("-x", 1)[1]) if "-x" in op else 1


def estimate_ship_nbytes(op: str, n: int) -> int:
    """Bytes a ship case of `op` at size n holds at once, over its processes: a data or code
    case's n ints on both sides and in between (a list slot and an int object each, 3 times);
    a grid case's n x n float64 grid with numpy's temporaries (6 of them) in the checking
    process and in each tile worker.

    >>> estimate_ship_nbytes("empty", 0), estimate_ship_nbytes("stencil-x2", 1000) // 10**6
    (0, 144)
    """
    if op == "empty":
        return 0
    if op in SCALE_OPS:
        return 6 * 8 * n * n * (workers_of(op) + 1)
    return 3 * n * (8 + sys.getsizeof(10**4))


def shape_of(op: str) -> str:
    """The shape an op's cases carry.

    >>> shape_of("empty"), shape_of("code"), shape_of("independent-x1")
    ('none', 'ints', 'grid')
    """
    return "none" if op == "empty" else "grid" if op in SCALE_OPS else "ints"
