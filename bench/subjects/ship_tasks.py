"""What runs on the other side of a `ship` case: the known functions, the shipped builder, the servers.

This module is imported by the processes that receive work (pool workers, dask workers,
the loopback socket server, the stencil tile workers), so it imports nothing heavy at the
top: numpy only inside the stencil functions, a serializer only inside the socket server.

- data: the sender builds `make_items(n)` and ships it; the other side runs `sum_items`.
- code: the sender ships `make_builder(n)`, a lambda that builds the same items there;
  the other side runs `run_builder`. Both return `expected_sum(n)`.
- stencil: a Jacobi sweep over an n x n grid cut into `TILES` row tiles. Coupled, the tiles
  swap their edge rows every step; independent, each keeps its first ghost rows. The same
  tiles run on one worker or on one worker each, so both give the same numbers.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

TILES = 2
STEPS = 20
_COUNT = struct.Struct("<I")
_LENGTH = struct.Struct("<Q")


# ---------------------------------------------------------------- data or code

def make_items(n: int) -> list[int]:
    """The n ints a data case ships.

    >>> make_items(4)
    [0, 7919, 5831, 3743]
    """
    return [(i * 7919) % 10007 for i in range(n)]


def sum_items(items: list[int]) -> int:
    """The known function a data case runs on the shipped items."""
    return sum(items)


def make_builder(n: int) -> Callable[[], list[int]]:
    """A lambda that builds `make_items(n)` where it is called: the code a code case ships."""
    return lambda: [(i * 7919) % 10007 for i in range(n)]


def run_builder(builder: Callable[[], list[int]]) -> int:
    """Build the items on this side, then sum them."""
    return sum(builder())


def expected_sum(n: int) -> int:
    """What a data or code case of size n must return."""
    return sum(make_items(n))


def empty_task(_: Any = None) -> None:
    """Nothing: a transport's fixed cost is the round trip of this task."""


# ---------------------------------------------------------------- framing for the socket

def payload_parts(payload: Any) -> list[Any]:
    """A payload as byte parts: one, or the pickle and its out-of-band buffers."""
    buffers = getattr(payload, "buffers", None)
    return [payload.data, *buffers] if buffers is not None else [payload]


def send_parts(sock: socket.socket, parts: Sequence[Any]) -> int:
    """Send length-prefixed parts; return the bytes put on the wire."""
    header = _COUNT.pack(len(parts)) + b"".join(_LENGTH.pack(memoryview(p).nbytes) for p in parts)
    sock.sendall(header)
    for part in parts:
        sock.sendall(part)
    return len(header) + sum(memoryview(p).nbytes for p in parts)


def recv_exact(sock: socket.socket, size: int) -> bytearray:
    """Exactly `size` bytes from the socket; ConnectionError when it closes first."""
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            raise ConnectionError("the peer closed the connection")
        got += n
    return buffer


def recv_parts(sock: socket.socket) -> list[bytearray]:
    """The parts `send_parts` sent."""
    (count,) = _COUNT.unpack(recv_exact(sock, _COUNT.size))
    lengths = [_LENGTH.unpack(recv_exact(sock, _LENGTH.size))[0] for _ in range(count)]
    return [recv_exact(sock, length) for length in lengths]


def join_parts(parts: list[bytearray], out_of_band: bool) -> Any:
    """The payload `payload_parts` split, ready for the codec's loads."""
    if out_of_band:
        from bench.subjects.serializers import OobPayload

        return OobPayload(bytes(parts[0]), [memoryview(p) for p in parts[1:]])
    return bytes(parts[0])


SOCKET_TASKS: dict[bytes, Callable[[Any], Any]] = {
    b"E": empty_task, b"D": sum_items, b"C": run_builder,
}


def serve_socket(ready: Connection, serializer: str) -> None:
    """Listen on loopback, report the port through `ready`, answer requests until closed.

    A request is a one-byte task tag (E empty, D data, C code) then the framed payload;
    the reply is the framed payload of the result, in the same serializer.
    """
    from bench.subjects.serializers import OobPayload, get_serializer

    codec = get_serializer(serializer).codec()
    out_of_band = isinstance(codec.dumps(None), OobPayload)
    with socket.create_server(("127.0.0.1", 0)) as server:
        ready.send(server.getsockname()[1])
        conn, _ = server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            while True:
                try:
                    tag = bytes(recv_exact(conn, 1))
                except ConnectionError:
                    return
                arg = codec.loads(join_parts(recv_parts(conn), out_of_band))
                send_parts(conn, payload_parts(codec.dumps(SOCKET_TASKS[tag](arg))))


# ---------------------------------------------------------------- the stencil

def initial_grid(n: int) -> Any:
    """The n x n starting grid: a fixed smooth field with hot edges."""
    import numpy

    i, j = numpy.indices((n, n), dtype=numpy.float64)
    return numpy.sin(i * 0.37) * numpy.cos(j * 0.11) + (i == 0) + (j == n - 1)


def tile_rows(n: int, tile: int, tiles: int = TILES) -> tuple[int, int]:
    """The grid rows [start, stop) tile `tile` owns.

    >>> tile_rows(10, 0), tile_rows(10, 1)
    ((0, 5), (5, 10))
    """
    return n * tile // tiles, n * (tile + 1) // tiles


def start_tile(n: int, tile: int) -> Any:
    """Tile `tile` with one ghost row above and below (copies of the grid rows there)."""
    start, stop = tile_rows(n, tile)
    grid = initial_grid(n)
    return grid[max(start - 1, 0):min(stop + 1, n)].copy()


def sweep(tile: Any) -> None:
    """One Jacobi step over the tile's interior cells, in place (edges and ghosts stay)."""
    tile[1:-1, 1:-1] = 0.25 * (tile[:-2, 1:-1] + tile[2:, 1:-1] + tile[1:-1, :-2] + tile[1:-1, 2:])


def own_rows(tile: Any, n: int, index: int) -> Any:
    """The rows of a tile that its tile owns (without the ghost rows)."""
    start, stop = tile_rows(n, index)
    top = 1 if start > 0 else 0
    return tile[top:top + stop - start]


Exchange = Callable[[int, str, Any], Any]  # (tile, "up" or "down", row to send) -> row received


def run_tiles(n: int, tiles: Sequence[int], steps: int, coupled: bool,
              remote: Exchange | None = None) -> tuple[list[float], float]:
    """Run this worker's tiles; return each tile's sum of own rows and the seconds spent exchanging.

    A neighbour tile held by this worker swaps rows in memory (counted as computing); one
    held elsewhere goes through `remote` (counted as exchanging, waiting included).
    """
    import numpy

    state = {t: start_tile(n, t) for t in tiles}
    exchanging = [0.0]

    def swap(tile: int, side: str, row: Any) -> Any:
        assert remote is not None
        started = time.perf_counter()
        try:
            return remote(tile, side, row)
        finally:
            exchanging[0] += time.perf_counter() - started

    for _ in range(steps):
        if coupled:
            outgoing = {t: (state[t][1].copy() if t > 0 else None,
                            state[t][-2].copy() if t < TILES - 1 else None) for t in tiles}
            for t in tiles:
                if t > 0:
                    state[t][0] = outgoing[t - 1][1] if t - 1 in state else swap(t, "up", outgoing[t][0])
                if t < TILES - 1:
                    state[t][-1] = outgoing[t + 1][0] if t + 1 in state else swap(
                        t, "down", outgoing[t][1])
        for t in tiles:
            sweep(state[t])
    return [float(numpy.sum(own_rows(state[t], n, t))) for t in tiles], exchanging[0]


def serve_tiles(control: Connection, n: int, tiles: list[int], coupled: bool,
                up: Connection | None, down: Connection | None) -> None:
    """A tile worker: on each `steps` message run the tiles, reply (sums, compute s, exchange s)."""
    import numpy

    def remote(tile: int, side: str, row: Any) -> Any:
        conn = up if side == "up" else down
        assert conn is not None
        conn.send_bytes(row.tobytes())
        return numpy.frombuffer(conn.recv_bytes(), dtype=numpy.float64)

    while True:
        try:
            steps = control.recv()
        except EOFError:
            return
        if steps is None:
            return
        started = time.perf_counter()
        sums, exchanging = run_tiles(n, tiles, steps, coupled, remote)
        elapsed = time.perf_counter() - started
        control.send((sums, elapsed - exchanging, exchanging))


def reference_sums(n: int, coupled: bool, steps: int = STEPS) -> list[float]:
    """Every tile's sum computed in this process: what the workers must send back."""
    return run_tiles(n, range(TILES), steps, coupled)[0]
