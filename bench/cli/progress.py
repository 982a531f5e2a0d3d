"""Progress of a long run: results saved as they come (at most once a second) and shown once
saved, a rich bar on a terminal or a line per case elsewhere, Ctrl-C and SIGTERM held while
a save is under way."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from bench.errors import OutputError
from bench.text import format_quantity

if TYPE_CHECKING:
    from bench.results import Results
    from bench.run.runner import CaseResult

    BySide = dict[str, CaseResult]  # one finished case: its result per side ("" for a run)

SAVE_EVERY = 1.0  # seconds between saves of a run's results file


def run_with_progress(results: Iterable[BySide], total: int | Callable[[], int],
                      outputs: dict[str, Results], on_saved: Callable[[], None] | None = None,
                      save_every: float = SAVE_EVERY) -> tuple[int, bool]:
    """Consume {side: CaseResult} per case or process, saving every output file at most each
    `save_every` seconds and at the end; return how many were done and whether the user
    stopped the run. A result is shown once it is saved, so a kill loses at most the
    unshown ones. `total` may grow while the run goes (a callable); `on_saved` runs before
    each save. (A save of a 400-case file costs ~45 ms, more than a process's timing.)"""
    from bench.results import write_results

    done, stopped = 0, False
    pending: list[BySide] = []
    last_save = time.monotonic()

    def save_and_show() -> None:
        nonlocal done, last_save
        with deferred_signals():  # saved and shown together, or neither
            if on_saved is not None:
                on_saved()
            for output in outputs.values():
                if output.benchmarks:
                    try:
                        write_results(output)
                    except OutputError as exc:
                        raise OutputError(f"{exc}; the file keeps the cases saved before this "
                                          "one (--resume continues)") from None
            batch = pending[:]
            pending.clear()
            last_save = time.monotonic()
            for by_side in batch:
                done += 1
                show(done, by_side)

    with progress_display(total) as show:
        try:
            for by_side in results:
                with deferred_signals():  # kept and listed for showing together, or neither
                    for side, result in by_side.items():
                        if result.benchmark is not None:
                            refused = outputs[side].add_benchmark(result.benchmark)
                            if result.profile is not None and not refused:
                                outputs[side].profiles[result.case.name] = result.profile
                            if refused:
                                print(f"warning: {refused}", file=sys.stderr)
                        elif result.case.name not in {b.get_name() for b in outputs[side].benchmarks}:
                            outputs[side].add_failure(result.case.name,
                                                      result.error or "unknown failure")
                    pending.append(by_side)
                if time.monotonic() - last_save >= save_every:
                    save_and_show()
        except KeyboardInterrupt:
            stopped = True
        try:
            if pending:
                save_and_show()
        except KeyboardInterrupt:  # held until the save was whole
            stopped = True
    return done, stopped


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, so it is never cut in half.

    The handlers are swapped, not the signal mask: a mask holds a signal for one thread
    only, and the kernel then hands it to another (the counting run's reader threads),
    whose Python handler still runs in the main thread, inside the block.
    """
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum))
                for sig in held}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in dict.fromkeys(caught):
            handler = previous[signal.Signals(signum)]
            if callable(handler):
                handler(signum, None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C for the duration: stop cleanly with what is saved."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def progress_display(total: int | Callable[[], int]) -> Iterator[Callable[[int, BySide], object]]:
    """Yield `show(done, result)`: a rich progress bar on a terminal, else one line per case."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    def count() -> int:
        return total() if callable(total) else total

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda done, result: console.print(
            f"[{done}/{max(done, count())}] {describe_result(result)}", highlight=False,
            markup=False, soft_wrap=True)  # one line per case, however long, for logs and greps
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
               TextColumn("{task.fields[last]}"))
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("bench run", total=count(), last="")
        yield lambda done, result: progress.update(task, completed=done, total=max(done, count()),
                                                   last=describe_result(result))


def describe_result(by_side: BySide) -> str:
    """One line for a finished case: mean +- stdev per side, or FAILED with the reason."""
    parts = []
    for side, result in by_side.items():
        label = f"{side.upper()} " if side else ""
        if result.benchmark is None:
            parts.append(f"{label}FAILED: {result.error}")
        elif result.benchmark.get_unit() == "second":
            parts.append(label + result.benchmark.format_value(result.benchmark.mean()))
        else:
            parts.append(label + format_quantity(result.benchmark.mean(), result.benchmark.get_unit()))
    return f"{next(iter(by_side.values())).case.name}: {', '.join(parts)}"
