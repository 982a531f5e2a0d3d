"""The commands that read results files: report, export, compare and sensitivity."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from bench.cli.explaining import add_explain_option, with_explanation
from bench.cli.options import (
    EXIT_OK,
    EXIT_REGRESSION,
    add_format_argument,
    add_gate_arguments,
    add_threshold_argument,
    parse_filename,
    write_output,
    write_outputs,
)
from bench.errors import InputError
from bench.files import check_not_input, check_output

# ---------------------------------------------------------------- report and export

def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", help="pyperf JSON files (.json or .json.gz)")
    parser.add_argument("--capabilities", metavar="FILE", help="capability matrix JSON")
    parser.add_argument("--base", metavar="RUN_OR_FILE",
                        help="the run the others are compared with (default: the one that "
                             "started first)")
    add_threshold_argument(parser)
    parser.add_argument("--history", action="append", default=[], metavar="RESULTS",
                        help="a results file or folder of a history, one run per commit "
                             "(repeatable): adds a History section with the change points that "
                             "bench history finds")
    parser.add_argument("-o", "--output", default="reports/index.html", type=parse_filename)


def cmd_report(args: argparse.Namespace) -> int:
    from bench.cli.history import find_history_files
    from bench.report.render import build_report

    csv_path = str(Path(args.output).with_suffix(".csv"))
    history = find_history_files(args.history) if args.history else []
    inputs = [*args.results, *([args.capabilities] if args.capabilities else []), *history]
    for path, option in ((args.output, "-o/--output"), (csv_path, "the CSV beside -o")):
        check_output(path, force=True, option=option)
        check_not_input(path, inputs, option)
    html = build_report(args.results, args.capabilities, args.base, args.threshold, history,
                        csv_name=Path(csv_path).name)
    write_outputs([(csv_path, export_summary(args.results)), (args.output, html)])
    return EXIT_OK


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", help="pyperf JSON files (.json or .json.gz)")
    parser.add_argument("--csv", required=True, type=parse_filename, metavar="OUT",
                        help="write the summary here")


def export_summary(results: list[str]) -> str:
    """The per-case summary of result files as CSV text (`bench export`, and beside a report)."""
    from bench.frame import load_results, summarize

    return str(summarize(load_results(results)).to_csv(index=False))


def cmd_export(args: argparse.Namespace) -> int:
    check_output(args.csv, force=True, option="--csv")
    check_not_input(args.csv, args.results, "--csv")
    write_output(export_summary(args.results), args.csv, "--csv")
    return EXIT_OK


# ---------------------------------------------------------------- compare and sensitivity

def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="BASE HEAD, or only HEAD when --base is given")
    parser.add_argument("--base", action="append", default=[], metavar="FILE_OR_GLOB",
                        help="a run of the base (repeatable, globs allowed)")
    add_gate_arguments(parser, sizes=True)
    parser.add_argument("-o", "--output", type=parse_filename, help="write the report here instead of stdout")
    add_explain_option(parser)


def cmd_compare(args: argparse.Namespace) -> int:
    import glob

    from bench.frame import describe_runs, environment_differences, tidy_frame
    from bench.gate.render import format_comparison
    from bench.gate.rule import compare_runs
    from bench.gate.sizes import check_fail_on, compare_sizes, failing
    from bench.metric import common_metric
    from bench.results import read_runs
    from bench.run.schedule import describe_noise

    base: list[str] = []
    for pattern in args.base:
        matches = sorted(glob.glob(pattern))
        if not matches and any(ch in pattern for ch in "*?["):
            raise InputError(f"--base {pattern}: no file matches")
        base += matches or [pattern]
    head = list(args.files)
    if not base:
        if len(head) != 2:
            raise InputError(f"give BASE HEAD, or --base BASE ... HEAD (got {len(head)} file(s))")
        base, head = head[:1], head[1:]
    elif not head:
        raise InputError("give the HEAD run after the --base runs")
    if args.output is not None:
        check_output(args.output, force=True)
        check_not_input(args.output, [*base, *head])
    base_runs, head_runs = read_runs(base), read_runs(head)
    metric = common_metric(loaded.metric() for loaded in [*base_runs, *head_runs])
    if metric is not None:
        check_fail_on(args.fail_on, metric)
    base_frame, head_frame = tidy_frame(base_runs), tidy_frame(head_runs)
    comparison = compare_runs(base_frame, head_frame, threshold=args.threshold)
    sizes = compare_sizes(base_frame, head_frame)
    noise = tuple(f"{loaded.run}: {describe_noise(loaded.noise)}"
                  for loaded in [*base_runs, *head_runs] if loaded.noise)
    differences = environment_differences(describe_runs([*base_runs, *head_runs]),
                                          [loaded.run for loaded in base_runs])
    environment = (("the runs differ in " + "; ".join(differences) + ": the comparison measures "
                    "that difference too",) if differences else ())
    comparison = dataclasses.replace(comparison, notes=comparison.notes + environment + noise)
    text = format_comparison(comparison, args.format, sizes)
    if args.explain:
        text = with_explanation(text, comparison, base_runs, head_runs, args.format)
    write_output(text, args.output)
    return EXIT_REGRESSION if failing(comparison, sizes, args.fail_on) else EXIT_OK


def add_sensitivity_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN",
                        help="three or more independent runs of unchanged code")
    add_threshold_argument(parser)
    add_format_argument(parser)
    parser.add_argument("--paired", action="store_true",
                        help="RUNs are interleaved A/A files taken two by two: A B [A B ...]")


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from bench.frame import load_results
    from bench.gate.render import format_sensitivity
    from bench.gate.sensitivity import simulate_sensitivity

    frame = load_results(args.runs)
    frames = [frame[frame["run"] == run] for run in frame["run"].unique()]
    result = simulate_sensitivity(frames, threshold=args.threshold, paired=args.paired)
    sys.stdout.write(format_sensitivity(result, args.format))
    return EXIT_OK
