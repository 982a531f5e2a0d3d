"""The worker side of a `ship` case: start the transport untimed, check the answer, hand back the op.

`prepare_ship(case)` starts the case's pool, cluster, socket server or tile workers once
per worker process (outside the timed loop; they are stopped when the process exits),
sends the task once and checks that the right answer came back, and only then returns
the zero-argument op that pyperf times: one full round trip, send to result.

What crossed is recorded in the metadata: `payload_bytes` (the request: the function and
its arguments as the transport serializes them; for a socket, the frame bytes sent) and
`reply_bytes`; a scale case adds `ship_workers` and `comm_share`, the share of its time
not spent computing on the slowest worker (messages, edge-row swaps and waiting).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import os
import socket
import time
import warnings
from collections.abc import Callable
from typing import Any

from bench.errors import BenchError
from bench.run.cases import Case
from bench.subjects.serializers import describe_error, library_version
from bench.subjects.ship import SCALE_OPS, SCHEDULER_ENV, TRANSPORTS, workers_of
from bench.subjects.ship_tasks import (
    STEPS,
    TILES,
    empty_task,
    expected_sum,
    join_parts,
    make_builder,
    make_items,
    payload_parts,
    recv_parts,
    reference_sums,
    run_builder,
    send_parts,
    serve_socket,
    serve_tiles,
    sum_items,
)

Op = Callable[[], Any]
Describe = Callable[[], dict[str, Any]]
Submit = Callable[[Callable[..., Any], Any], Any]  # run fn(arg) on the other side, return its result


class ShipFailed(BenchError):
    """A ship case could not be measured: its transport failed or its answer was wrong."""


def prepare_ship(case: Case) -> tuple[Op, Describe]:
    """Start the transport, check one round trip, return the timed op and its metadata."""
    entry = TRANSPORTS[case.subject]
    if not entry.available():
        raise ShipFailed(f"skipped: python package {entry.module!r} is not installed")
    if case.op in SCALE_OPS:
        return prepare_scale(case)
    fn, arg, expected = task_of(case)
    submit, sizes = start_transport(case.subject)
    try:
        answer = submit(fn, arg)
    except Exception as exc:
        raise ShipFailed(f"check failed: {describe_error(exc)}") from exc
    if answer != expected:
        raise ShipFailed(f"check failed: {case.subject} returned {answer!r}, expected {expected!r}")
    version = library_version(entry.distribution)
    return (lambda: submit(fn, arg)), lambda: {"subject_version": version, **sizes(fn, arg, answer)}


def task_of(case: Case) -> tuple[Callable[..., Any], Any, Any]:
    """The function, its argument and the answer the other side must return."""
    if case.op == "empty":
        return empty_task, None, None
    if case.op == "data":
        return sum_items, make_items(case.size), expected_sum(case.size)
    return run_builder, make_builder(case.size), expected_sum(case.size)


# ---------------------------------------------------------------- transports

Sizes = Callable[[Callable[..., Any], Any, Any], dict[str, int]]


def start_transport(name: str) -> tuple[Submit, Sizes]:
    """The running transport's submit call and how to size what it sends."""
    starters: dict[str, Callable[[], tuple[Submit, Sizes]]] = {
        "process-pool": start_process_pool, "loky": start_loky, "dask": start_dask}
    if name in starters:
        return starters[name]()
    serializer = TRANSPORTS[name].serializer
    assert serializer is not None
    return start_socket(serializer)


def pickled_sizes(dumps: Callable[[Any], bytes]) -> Sizes:
    """Sizes of the call and the reply as `dumps` serializes them."""
    return lambda fn, arg, answer: {"payload_bytes": len(dumps((fn, arg))),
                                    "reply_bytes": len(dumps(answer))}


def start_process_pool() -> tuple[Submit, Sizes]:
    """A one-worker ProcessPoolExecutor on a spawn context (the call goes by pickle)."""
    import concurrent.futures
    import pickle

    pool = concurrent.futures.ProcessPoolExecutor(1, multiprocessing.get_context("spawn"))
    atexit.register(pool.shutdown, cancel_futures=True)
    return (lambda fn, arg: pool.submit(fn, arg).result()), pickled_sizes(pickle.dumps)


def start_loky() -> tuple[Submit, Sizes]:
    """loky's reusable one-worker executor (functions by cloudpickle)."""
    import cloudpickle
    import loky

    pool = loky.get_reusable_executor(max_workers=1)
    atexit.register(pool.shutdown)
    return (lambda fn, arg: pool.submit(fn, arg).result()), pickled_sizes(cloudpickle.dumps)


def start_dask() -> tuple[Submit, Sizes]:
    """A Client on the scheduler at $BENCH_DASK_SCHEDULER, or on a new one-worker LocalCluster."""
    import cloudpickle
    from distributed import Client, LocalCluster

    warnings.simplefilter("ignore")  # large-argument and port warnings would flood pyperf's output
    address = os.environ.get(SCHEDULER_ENV, "")
    if address:
        client = Client(address, timeout=30)
    else:
        cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
        atexit.register(cluster.close)
    atexit.register(client.close)

    def submit(fn: Callable[..., Any], arg: Any) -> Any:
        return client.submit(fn, arg, pure=False).result()

    return submit, pickled_sizes(cloudpickle.dumps)


def start_socket(serializer: str) -> tuple[Submit, Sizes]:
    """A spawned server on a loopback TCP port, speaking frames of `serializer`."""
    from bench.subjects.serializers import OobPayload, get_serializer

    codec = get_serializer(serializer).codec()
    out_of_band = isinstance(codec.dumps(None), OobPayload)
    context = multiprocessing.get_context("spawn")
    ready, remote_end = context.Pipe()
    server = context.Process(target=serve_socket, args=(remote_end, serializer), daemon=True)
    server.start()
    if not ready.poll(60):
        raise ShipFailed(f"the socket-{serializer} server did not start")
    sock = socket.create_connection(("127.0.0.1", ready.recv()), timeout=600)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    atexit.register(sock.close)
    tags = {empty_task: b"E", sum_items: b"D", run_builder: b"C"}
    sent = {"request": 0, "reply": 0}

    def submit(fn: Callable[..., Any], arg: Any) -> Any:
        tag = tags.get(fn, b"E")
        sock.sendall(tag)
        sent["request"] = 1 + send_parts(sock, payload_parts(codec.dumps(arg)))
        parts = recv_parts(sock)
        sent["reply"] = sum(len(p) for p in parts)
        return codec.loads(join_parts(parts, out_of_band))

    def sizes(fn: Callable[..., Any], arg: Any, answer: Any) -> dict[str, int]:
        return {"payload_bytes": sent["request"], "reply_bytes": sent["reply"]}

    return submit, sizes


# ---------------------------------------------------------------- scale out or up

def prepare_scale(case: Case) -> tuple[Op, Describe]:
    """Start the tile workers, check their sums against this process's, return the op."""
    coupled = case.op.startswith("stencil")
    workers = workers_of(case.op)
    run = start_tile_workers(case.size, workers, coupled)
    expected = reference_sums(case.size, coupled)
    sums, _ = run()
    if sums != expected:
        raise ShipFailed(f"check failed: tile sums {sums} differ from this process's {expected}")

    def describe() -> dict[str, Any]:
        started = time.perf_counter()
        _, compute = run()
        elapsed = time.perf_counter() - started
        return {"subject_version": library_version("numpy"), "ship_workers": workers,
                "ship_steps": STEPS, "shape_nbytes": case.size * case.size * 8,
                "comm_share": round(max(0.0, 1 - compute / elapsed), 4)}

    return (lambda: run()), describe


def stop_tile_workers(controls: list[Any]) -> None:
    """Tell each tile worker to return (a worker already gone is left alone)."""
    for control in controls:
        with contextlib.suppress(OSError):
            control.send(None)


def start_tile_workers(n: int, workers: int, coupled: bool) -> Callable[[], tuple[list[float], float]]:
    """Spawn `workers` tile workers joined by Pipes; return run() -> (tile sums, slowest compute s)."""
    context = multiprocessing.get_context("spawn")
    tiles = [list(range(TILES))] if workers == 1 else [[t] for t in range(TILES)]
    edges = [context.Pipe() for _ in range(len(tiles) - 1)]
    controls = []
    for index, owned in enumerate(tiles):
        here, there = context.Pipe()
        up = edges[index - 1][1] if index > 0 else None
        down = edges[index][0] if index < len(tiles) - 1 else None
        context.Process(target=serve_tiles, args=(there, n, owned, coupled, up, down),
                        daemon=True).start()
        controls.append(here)
    atexit.register(stop_tile_workers, controls)

    def run() -> tuple[list[float], float]:
        for control in controls:
            control.send(STEPS)
        replies = [control.recv() for control in controls]
        return [s for sums, _, _ in replies for s in sums], max(r[1] for r in replies)

    return run
