"""`bench history`: change points over a history of runs, one results file per commit."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.capability_file import is_capability_file
from bench.cli.options import EXIT_OK, EXIT_REGRESSION, add_gate_arguments
from bench.errors import InputError

HISTORY_SUFFIXES = (".json", ".json.gz")


def add_history_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RESULTS",
                        help="results files, or folders of them (one file per commit); ordered "
                             "by their commit's date, else their start")
    parser.add_argument("--label", dest="labels", action="append", default=[],
                        help="name of each run in the order given (default: the commit in the "
                             "file's bench_setup, else the file name)")
    add_gate_arguments(parser)


def find_history_files(paths: list[str]) -> list[str]:
    """The files given, with each folder replaced by its results files (by name)."""
    files: list[str] = []
    for path in paths:
        folder = Path(path)
        if not folder.is_dir():
            files.append(path)
            continue
        found = sorted(str(p) for p in folder.iterdir() if p.name.endswith(HISTORY_SUFFIXES)
                       and not is_capability_file(p.name)
                       and not p.name.startswith(".") and p.is_file())  # .tmp-*: a killed save
        if not found:
            raise InputError(f"{path}: no results files (*.json, *.json.gz) in this folder")
        files += found
    return files


def cmd_history(args: argparse.Namespace) -> int:
    from bench.gate.history import build_history
    from bench.gate.render import format_history
    from bench.metric import common_metric
    from bench.results import read_runs

    files = find_history_files(args.runs)
    if len(files) < 2:
        raise InputError(f"bench history: give two runs or more (got {len(files)})")
    if args.labels and len(args.labels) != len(files):
        raise InputError(f"--label: {len(args.labels)} label(s) for {len(files)} runs")
    runs = read_runs(files)
    metric = common_metric(run.metric() for run in runs)
    if metric is None:
        names = sorted({m.name if m else "mixed" for m in (run.metric() for run in runs)})
        raise InputError(f"bench history: runs of different metrics ({', '.join(names)}): "
                         "a history is of one metric")
    threshold = metric.threshold if args.threshold is None else args.threshold
    history = build_history(runs, threshold, args.labels)
    sys.stdout.write(format_history(history, args.format))
    regression = args.fail_on == "slower" and bool(history.newest_regressions())
    return EXIT_REGRESSION if regression else EXIT_OK
