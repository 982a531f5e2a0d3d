"""bench.results: the one writer and the one strict reader of results files."""

from __future__ import annotations

import collections
import gzip
import io
import json
import math
import os
import stat
from pathlib import Path

import pyperf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.cli import main
from bench.errors import InputError, OutputError
from bench.results import (
    FAILURES_KEY,
    FORMAT_KEY,
    FORMAT_VERSION,
    NOISE_KEY,
    SETUP_KEY,
    Results,
    dump_suite,
    read_results,
    read_runs,
    write_atomic,
    write_results,
)

DATA = Path(__file__).parent / "data"
GOOD = DATA / "bad" / "good.json"
REPORT = DATA / "report" / "py311.json"


def make_benchmark(name: str, *values: float) -> pyperf.Benchmark:
    """A benchmark with one worker process per value."""
    return pyperf.Benchmark([pyperf.Run([v], metadata={"name": name, "loops": 4},
                                        collect_metadata=False) for v in values])


def good_data() -> dict:
    return json.loads(GOOD.read_text(encoding="utf-8"))


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# ---------------------------------------------------------------- writing

def test_written_file_reads_back_and_pyperf_reads_it(tmp_path: Path) -> None:
    results = Results([make_benchmark("a/b", 1.0, 2.0)], {"c/d": "check failed: x"},
                      str(tmp_path / "r.json"))
    write_results(results)
    back = read_results(results.path)
    assert [b.get_name() for b in back.benchmarks] == ["a/b"]
    assert back.benchmarks[0].get_values() == (1.0, 2.0)
    assert back.failures == {"c/d": "check failed: x"}
    data = json.loads(Path(results.path).read_text(encoding="utf-8"))
    assert data[FORMAT_KEY] == FORMAT_VERSION
    assert data[FAILURES_KEY] == [{"name": "c/d", "reason": "check failed: x"}]
    assert pyperf.BenchmarkSuite.load(results.path).get_benchmark_names() == ["a/b"]


def test_the_suite_text_is_pyperfs_own_dump_to_the_byte() -> None:
    suite = pyperf.BenchmarkSuite.load(str(REPORT))
    with_warmups = pyperf.Benchmark([pyperf.Run([2.0], warmups=[(3, 1.5)],
                                                metadata={"name": "w/x", "loops": 3, "unit": "integer"},
                                                collect_metadata=False)])
    for case in (suite, pyperf.BenchmarkSuite([make_benchmark("a/b", 1.0, 2.0), with_warmups])):
        buffer = io.StringIO()
        case.dump(buffer, compact=True)
        assert dump_suite(case) == buffer.getvalue()


def test_a_gz_name_is_written_gzip_compressed(tmp_path: Path) -> None:
    path = tmp_path / "r.json.gz"
    write_results(Results([make_benchmark("a/b", 1.0)], {}, str(path)))
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert pyperf.BenchmarkSuite.load(str(path)).get_benchmark_names() == ["a/b"]
    assert read_results(path).failures == {}


def test_add_merges_runs_and_clears_an_earlier_failure() -> None:
    results = Results()
    results.add_failure("a/b", "worker crashed")
    results.add_benchmark(make_benchmark("a/b", 1.0))
    results.add_benchmark(make_benchmark("a/b", 2.0))
    results.add_benchmark(make_benchmark("c/d", 3.0))
    assert [b.get_name() for b in results.benchmarks] == ["a/b", "c/d"]
    assert results.benchmarks[0].get_values() == (1.0, 2.0)
    assert results.failures == {}


def test_write_atomic_replaces_with_the_umask_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    path.write_text("old")
    previous = os.umask(0o027)
    try:
        write_atomic(str(path), "new")
    finally:
        os.umask(previous)
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_write_atomic_keeps_the_old_file_when_writing_fails(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "out.json"
    path.write_text("old")

    def fail(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OutputError, match="No space left"):
        write_atomic(str(path), "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


# ---------------------------------------------------------------- reading

def bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, words the InputError must contain)."""
    good = REPORT.read_bytes()
    data = good_data()
    run = data["benchmarks"][0]["runs"][0]
    files: dict[str, tuple[str, object, str]] = {
        "missing": ("nope.json", None, "no such file"),
        "empty": ("empty.json", b"", "empty"),
        "truncated": ("cut.json", good[: len(good) // 2], "truncated"),
        "not pyperf": ("other.json", {"hello": 1}, "not a pyperf"),
        "json list": ("list.json", [1, 2], "not a pyperf"),
        "binary": ("bin.json", b"\xff\xfe\x00garbage", "UTF-8"),
        "gz not gzip": ("plain.json.gz", good, "not gzip"),
        "truncated gzip": ("cut.json.gz", gzip.compress(good)[:500], "gzip"),
        "no benchmarks": ("none.json", {"version": "1.0", "benchmarks": []}, "not a pyperf"),
        "negative value": ("neg.json", {"version": "1.0", "benchmarks": [
            {"metadata": {"name": "x"}, "runs": [{"values": [-1]}]}]}, "value -1 is not"),
        "string value": ("str.json", {**data, "benchmarks": [{**data["benchmarks"][0], "runs": [
            {**run, "values": ["1.0"]}]}]}, "value '1.0' is not"),
        "NaN": ("nan.json", b'{"version": "1.0", "benchmarks": [{"metadata": {"name": "x"}, '
                b'"runs": [{"values": [NaN]}]}]}', "NaN"),
        "Infinity": ("inf.json", b'{"version": "1.0", "benchmarks": [{"metadata": {"name": "x"}, '
                     b'"runs": [{"values": [1.0, Infinity]}]}]}', "Infinity"),
        "huge int": ("huge.json", {"version": "1.0", "benchmarks": [
            {"metadata": {"name": "x"}, "runs": [{"values": [10**400]}]}]}, "not a finite"),
        "huge metadata": ("hugemeta.json", {"version": "1.0", "benchmarks": [
            {"metadata": {"name": "x", "bench_size": 10**400}, "runs": [{"values": [1.0]}]}]},
            "bench_size 1000"),
        "only calibration": ("calib.json", {"version": "1.0", "benchmarks": [
            {"metadata": {"name": "x", "loops": 4}, "runs": [{"warmups": [[1, 0.1]]}]}]},
            "no timed values"),
        "failures not a list": ("f1.json", {**data, FAILURES_KEY: {"a": "b"}}, FAILURES_KEY),
        "failure without reason": ("f2.json", {**data, FAILURES_KEY: [{"name": "a"}]},
                                   FAILURES_KEY),
        "failure reason not text": ("f3.json", {**data, FAILURES_KEY: [
            {"name": "a", "reason": 3}]}, FAILURES_KEY),
        "failure twice": ("f4.json", {**data, FAILURES_KEY: [
            {"name": "a", "reason": "x"}, {"name": "a", "reason": "y"}]}, "twice"),
        "newer format": ("v2.json", {**data, FORMAT_KEY: FORMAT_VERSION + 1}, FORMAT_KEY),
        "format not a number": ("vs.json", {**data, FORMAT_KEY: "1"}, FORMAT_KEY),
        "deep nesting": ("deep.json", b"[" * 100_000 + b"]" * 100_000, "JSON"),
    }
    out = {}
    for key, (name, content, words) in files.items():
        if isinstance(content, bytes):
            (tmp_path / name).write_bytes(content)
        elif content is not None:
            write_json(tmp_path / name, content)
        out[key] = (tmp_path / name, words)
    (tmp_path / "adir.json").mkdir()
    out["directory"] = (tmp_path / "adir.json", "directory")
    return out


BAD_CASES = ["missing", "empty", "truncated", "not pyperf", "json list", "binary", "gz not gzip",
             "truncated gzip", "no benchmarks", "negative value", "string value", "NaN",
             "Infinity", "huge int", "huge metadata", "only calibration", "failures not a list",
             "failure without reason", "failure reason not text", "failure twice",
             "newer format", "format not a number", "deep nesting", "directory"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_one_line_input_error(tmp_path: Path, case: str) -> None:
    path, words = bad_files(tmp_path)[case]
    with pytest.raises(InputError) as info:
        read_runs([REPORT, path])
    message = str(info.value)
    assert message.startswith(str(path)) and words in message and "\n" not in message


def test_every_bad_case_is_tested(tmp_path: Path) -> None:
    assert sorted(bad_files(tmp_path)) == sorted(BAD_CASES)


def test_a_file_without_bench_keys_is_version_1_without_failures(tmp_path: Path) -> None:
    data = good_data()
    assert FORMAT_KEY not in data and FAILURES_KEY not in data
    assert read_results(GOOD).failures == {}
    assert read_results(write_json(tmp_path / "v1.json", {**data, FORMAT_KEY: 1})).benchmarks


def test_failures_are_read_in_order(tmp_path: Path) -> None:
    entries = [{"name": "z", "reason": "first"}, {"name": "a", "reason": "second"}]
    path = write_json(tmp_path / "f.json", {**good_data(), FAILURES_KEY: entries})
    assert list(read_results(path).failures.items()) == [("z", "first"), ("a", "second")]


def test_gzip_is_read_by_its_content(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(gzip.compress(GOOD.read_bytes()))
    assert read_results(path).benchmarks[0].get_name() == "ser/pickle-5/dumps/ints/10"


def test_run_ids_are_unique_names_of_the_files(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    first = write_json(tmp_path / "latest.json", good_data())
    second = write_json(tmp_path / "x" / "latest.json", good_data())
    runs = read_runs([first, second, DATA / "report" / "py313.json.gz"])
    assert [r.run for r in runs] == ["latest", "latest~2", "py313"]
    assert [r.path for r in runs] == [str(first), str(second), str(DATA / "report" / "py313.json.gz")]


def test_no_files_is_input_error() -> None:
    with pytest.raises(InputError, match="no result files"):
        read_runs([])


# ---------------------------------------------------------------- fuzzing the reader through the CLI

FUZZ_EXAMPLES = 120
FUZZ_BASES = [GOOD, DATA / "compare" / "base-1.json", DATA / "compare" / "ab-a.json"]
ODD_NUMBERS = [10**400, -(10**30), 2**63, 1e308, -0.0, 0, math.nan, math.inf, -math.inf, True]
fuzz_counts: collections.Counter[str] = collections.Counter()


def json_values() -> st.SearchStrategy[object]:
    """Any JSON value, with odd numbers (NaN, huge) and odd unicode text."""
    leaves = (st.none() | st.booleans() | st.integers() | st.sampled_from(ODD_NUMBERS)
              | st.floats() | st.text(max_size=8))
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)


def node_paths(node: object, path: tuple = ()) -> list[tuple]:
    """The path (keys and indexes) of every node below the root."""
    children = (node.items() if isinstance(node, dict)
                else enumerate(node) if isinstance(node, list) else ())
    out = []
    for key, child in children:
        out += [(*path, key), *node_paths(child, (*path, key))]
    return out


def node_at(root: object, path: tuple) -> object:
    for key in path:
        root = root[key]  # type: ignore[index]
    return root


@st.composite
def mutated_files(draw: st.DrawFn) -> tuple[Path, str, bytes]:
    """(valid file it came from, file name, content): a valid file with one or two mutations."""
    origin = draw(st.sampled_from(FUZZ_BASES))
    data = json.loads(origin.read_text(encoding="utf-8"))
    data[FAILURES_KEY] = [{"name": "ser/json/dumps/bytes/10", "reason": "check failed"}]
    for _ in range(draw(st.integers(1, 2))):
        mutate_tree(draw, data)
    text = json.dumps(data, ensure_ascii=draw(st.booleans()))
    name, content = damage_bytes(draw, text.encode("utf-8", errors="surrogatepass"))
    return origin, name, content


def mutate_tree(draw: st.DrawFn, data: dict) -> None:
    """One change to the parsed file: a value replaced, a key removed or added, bench's keys."""
    paths = node_paths(data)
    kind = draw(st.sampled_from(["replace", "delete", "add", "failures", "name", "format"]))
    fuzz_counts[kind] += 1
    if kind == "replace":
        path = draw(st.sampled_from(paths))
        node_at(data, path[:-1])[path[-1]] = draw(json_values())  # type: ignore[index]
    elif kind == "delete":
        path = draw(st.sampled_from([p for p in paths if isinstance(node_at(data, p[:-1]), dict)]))
        del node_at(data, path[:-1])[path[-1]]  # type: ignore[attr-defined]
    elif kind == "add":
        dicts = [(), *(p for p in paths if isinstance(node_at(data, p), dict))]
        node_at(data, draw(st.sampled_from(dicts)))[draw(st.text(max_size=12))] = \
            draw(json_values())  # type: ignore[index]
    elif kind == "failures":
        data[FAILURES_KEY] = draw(st.lists(st.fixed_dictionaries(
            {"name": json_values(), "reason": json_values()}), max_size=3) | json_values())
    elif kind == "name":
        names = [p for p in paths if p[-1] == "name" and isinstance(node_at(data, p), str)]
        if names:
            path = draw(st.sampled_from(names))
            node_at(data, path[:-1])["name"] = draw(st.text(max_size=12))  # type: ignore[index]
    else:
        data[FORMAT_KEY] = draw(json_values())


def damage_bytes(draw: st.DrawFn, content: bytes) -> tuple[str, bytes]:
    """(file name, content) after none or one of: truncation, gzip, broken gzip, stray bytes."""
    damage = draw(st.sampled_from(["none", "none", "truncate", "gzip", "gzip-garbage", "bytes"]))
    fuzz_counts[damage] += 1
    if damage == "truncate":
        content = content[:draw(st.integers(0, len(content)))]
    elif damage in ("gzip", "gzip-garbage"):
        content = gzip.compress(content)
        if damage == "gzip-garbage":
            at = draw(st.integers(2, len(content) - 1))
            content = content[:at] + draw(st.binary(min_size=1, max_size=8)) + content[at + 4:]
    elif damage == "bytes":
        at = draw(st.integers(0, len(content)))
        content = content[:at] + draw(st.binary(min_size=1, max_size=8)) + content[at:]
    return ("run.json.gz" if damage.startswith("gzip") else "run.json"), content


def reading_commands(path: str, origin: str, out: Path, sensitivity: bool
                     ) -> dict[str, tuple[list[str], set[int]]]:
    """Each command that reads a results file, with the exit codes that mean it succeeded.

    `bench sensitivity` simulates thousands of comparisons (about 2 s per valid file), so it
    runs on a drawn third of the inputs.
    """
    commands = {
        "report": (["report", path, "-o", str(out / "r.html")], {0}),
        "export": (["export", path, "--csv", str(out / "s.csv")], {0}),
        "compare-head": (["compare", origin, path], {0, 1}),
        "compare-base": (["compare", path, origin], {0, 1}),
        "sensitivity": (["sensitivity", origin, origin, path], {0}),
    }
    if not sensitivity:
        del commands["sensitivity"]
    return commands


@pytest.mark.slow
def test_fuzzed_files_give_an_answer_or_one_error_line(tmp_path: Path, capsys) -> None:
    """Every reading command either succeeds or says ERROR in one line, never a traceback."""
    outcomes: collections.Counter[str] = collections.Counter()

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(mutated_files(), st.integers(0, 2))
    def check(mutated: tuple[Path, str, bytes], third: int) -> None:
        origin, name, content = mutated
        path = tmp_path / name
        path.write_bytes(content)
        outcomes["inputs"] += 1
        for command, (argv, ok) in reading_commands(str(path), str(origin), tmp_path,
                                                    third == 0).items():
            code = main(argv)
            lines = capsys.readouterr().err.strip().splitlines()
            outcomes[f"{command} {'ok' if code in ok else code}"] += 1
            if code not in ok:
                assert code == 2 and len(lines) == 1 and lines[0].startswith("ERROR: "), \
                    (command, code, lines)

    check()
    runs = sum(n for key, n in outcomes.items() if key != "inputs")
    with capsys.disabled():
        print(f"\nresults fuzz: {outcomes['inputs']} inputs, {runs} command runs; "
              f"{dict(sorted(outcomes.items()))}; mutations {dict(sorted(fuzz_counts.items()))}")
    assert outcomes["inputs"] >= FUZZ_EXAMPLES // 2
    assert outcomes["export ok"] and outcomes["export 2"]  # the mutations reach both outcomes


# ---------------------------------------------------------------- what the strict reader checks

SETUP = {"profile": "smoke", "metric": "time", "pyperf_settings": ["--processes", "1"],
         "python": "cpython 3.11.7", "libraries": {"dill": "0.4.1", "pyperf": "2.11.0"},
         "bench_version": "0.1.0", "hostname": "vm", "shard": "1/2", "commit": "31d53df",
         "commit_date": "2026-12-07T09:28:27+00:00"}
NOISE = {"process_cv": 0.02, "cases": 80, "pass_factors": [0.99, 1.31], "passes": 3,
         "target_ci": 0.03, "budget_seconds": 0.0, "median_half_width": None,
         "under_target": None, "missed_budget": 0, "missed_never_settles": 0, "processes": 240,
         "noise_floor": 0.0}


def report_data() -> dict:
    """A full run's file (80 cases with every bench key) with a setup and a noise summary."""
    data = {**json.loads(REPORT.read_text(encoding="utf-8")), SETUP_KEY: SETUP, NOISE_KEY: NOISE}
    return json.loads(json.dumps(data))  # a copy to change


def first_run(data: dict) -> dict:
    return data["benchmarks"][0]["runs"][0]


def first_metadata(data: dict) -> dict:
    return data["benchmarks"][0]["metadata"]


def another_name_for_the_first_case(data: dict) -> None:
    twin = json.loads(json.dumps(data["benchmarks"][0]))
    twin["metadata"]["name"] = "ref/memcpy/copy/bytes/another-name"
    data["benchmarks"].append(twin)


# cause -> (change to a valid file, words of the one-line error): each was read before
MALFORMED = {
    "run date not a date": (lambda d: first_run(d)["metadata"].update(date="not a date"), "date"),
    "suite date not a date": (lambda d: d["metadata"].update(date="yesterday"), "metadata: date"),
    "date with a UTC offset": (lambda d: first_run(d)["metadata"].update(
        date="2025-01-01 12:00:00+02:00"), "UTC offset"),
    "date plus duration past year 9999": (lambda d: first_run(d)["metadata"].update(
        date="9999-12-31 23:59:59", duration=3600.0), "bad date or duration"),
    "noise of text": (lambda d: d[NOISE_KEY].update(process_cv="9%"), "bench_noise: process_cv"),
    "noise factors not a list": (lambda d: d[NOISE_KEY].update(pass_factors=3), "pass_factors"),
    "noise factor of text": (lambda d: d[NOISE_KEY].update(pass_factors=["1.0"]), "pass_factors"),
    "setup shard not K/N": (lambda d: d[SETUP_KEY].update(shard="x"), "bench_setup: shard"),
    "setup shard of a billion": (lambda d: d[SETUP_KEY].update(shard="1/1000000000"), "shard"),
    "setup libraries a list": (lambda d: d[SETUP_KEY].update(libraries=["dill"]), "libraries"),
    "setup version a number": (lambda d: d[SETUP_KEY].update(libraries={"dill": 4}), "libraries"),
    "setup commit an object": (lambda d: d[SETUP_KEY].update(commit={"a": 1}), "commit"),
    "setup commit date a list": (lambda d: d[SETUP_KEY].update(commit_date=[1]), "commit_date"),
    "setup settings a string": (lambda d: d[SETUP_KEY].update(pyperf_settings="-p 1"),
                                "pyperf_settings"),
    "bench_size 1e308": (lambda d: first_metadata(d).update(bench_size=1e308), "bench_size 1e+308"),
    "bench_size true": (lambda d: first_metadata(d).update(bench_size=True), "bench_size True"),
    "bench_size text": (lambda d: first_metadata(d).update(bench_size="1000"), "bench_size '1000'"),
    "duration 1e308": (lambda d: first_run(d)["metadata"].update(duration=1e308), "duration"),
    "value 1e308": (lambda d: first_run(d).update(values=[1e308] * 3), "value 1e+308"),
    "value of a time over 1e6 s": (lambda d: first_run(d).update(values=[2e6]), "value 2000000.0"),
    "value true": (lambda d: first_run(d).update(values=[True, True]), "value True"),
    "warmup loops true": (lambda d: first_run(d).update(warmups=[[True, 1e-7]]), "warmup"),
    "loops true": (lambda d: first_metadata(d).update(loops=True), "loops True"),
    "payload_bytes 1e308": (lambda d: first_metadata(d).update(payload_bytes=1e308),
                            "payload_bytes"),
    "peak_alloc_bytes text": (lambda d: first_metadata(d).update(peak_alloc_bytes="2 kB"),
                              "peak_alloc_bytes"),
    "bench_suite a number": (lambda d: first_metadata(d).update(bench_suite=5), "bench_suite 5"),
    "one case under two names": (another_name_for_the_first_case, "are one case"),
    "runs disagree on the case": (lambda d: first_run(d)["metadata"].update(bench_size=10),
                                  "disagree"),
    "pyperf format of 2016": (lambda d: d.update(version=6), "pyperf format version 6"),
}


@pytest.mark.parametrize("cause", list(MALFORMED))
def test_a_malformed_key_is_one_line_input_error(tmp_path: Path, cause: str) -> None:
    change, words = MALFORMED[cause]
    data = report_data()
    read_results(write_json(tmp_path / "ok.json", data))  # valid before the change
    change(data)
    path = write_json(tmp_path / "run.json", data)
    with pytest.raises(InputError) as info:
        read_results(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and words in message and "\n" not in message


def test_what_a_run_can_produce_is_read(tmp_path: Path) -> None:
    """The extremes of real runs: 1 ns and 1e6 s values, 1e13 instructions, size 0, no noise."""
    data = report_data()
    first_run(data).update(values=[1e-9, 1e6], warmups=[[1, 0.0]])
    first_run(data)["metadata"].update(duration=86_400.0, minor_faults_per_call=0.0)
    first_metadata(data).update(bench_size=0, payload_bytes=10**12)
    counts = data["benchmarks"][1]
    counts["metadata"].update(unit="integer", bench_metric="instructions", loops=10**6)
    for run in counts["runs"]:
        run["values"] = [1.2e13, 3.0]
    data[NOISE_KEY] = {**NOISE, "process_cv": None, "pass_factors": []}
    back = read_results(write_json(tmp_path / "run.json", data))
    assert back.benchmarks[0].get_values()[:2] == (1e-9, 1e6)
    assert back.benchmarks[1].get_unit() == "integer" and max(back.benchmarks[1].get_values()) == 1.2e13
    assert back.setup == SETUP and back.noise["pass_factors"] == []
    assert back.suite().get_dates() is not None


def test_the_suite_is_built_without_pyperfs_rescan_per_benchmark(tmp_path: Path,
                                                                 monkeypatch) -> None:
    """pyperf's add_benchmark scans the suite for the name each time: 20,000 cases took 54 s."""
    calls = collections.Counter()
    add = pyperf.BenchmarkSuite.add_benchmark

    def counted(suite: pyperf.BenchmarkSuite, benchmark: pyperf.Benchmark) -> None:
        calls["add"] += 1
        add(suite, benchmark)

    monkeypatch.setattr(pyperf.BenchmarkSuite, "add_benchmark", counted)
    loaded = read_results(REPORT)
    suite = loaded.suite()
    assert calls["add"] <= 1
    assert suite.get_benchmark_names() == [b.get_name() for b in loaded.benchmarks]
    assert len(suite) == 80 and suite.get_dates() is not None
    with pytest.raises(ValueError, match="two benchmarks of one name"):
        Results(loaded.benchmarks + loaded.benchmarks[:1]).suite()


# ---------------------------------------------------------------- what the reader reads at all

def padded_results(size: int) -> bytes:
    """A valid results file padded with `size` spaces (JSON allows them before the end)."""
    return GOOD.read_bytes().rstrip() + b" " * size


def test_a_gzip_bomb_is_refused_at_the_limit(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "bomb.json.gz"
    path.write_bytes(gzip.compress(padded_results(30_000_000)))  # 30 MB in ~30 kB
    assert path.stat().st_size < 100_000
    monkeypatch.setenv("BENCH_MAX_INPUT_MB", "2")
    with pytest.raises(InputError, match=r"over 2 MB un-gzipped.*BENCH_MAX_INPUT_MB"):
        read_results(path)
    monkeypatch.setenv("BENCH_MAX_INPUT_MB", "40")
    assert read_results(path).benchmarks


def test_a_file_over_the_limit_is_refused(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(padded_results(50_000))
    monkeypatch.setenv("BENCH_MAX_INPUT_MB", "0.01")
    with pytest.raises(InputError, match=rf"^{path}: over 0.01 MB, the most bench reads"):
        read_results(path)
    monkeypatch.delenv("BENCH_MAX_INPUT_MB")
    assert read_results(path).benchmarks  # the default, 512 MB


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf"])
def test_a_bad_limit_is_named(monkeypatch, value: str) -> None:
    monkeypatch.setenv("BENCH_MAX_INPUT_MB", value)
    with pytest.raises(InputError, match=f"^BENCH_MAX_INPUT_MB={value}: not a number"):
        read_results(GOOD)
