"""bench.run.profiles and the per-function reading of bench.run.callgrind: a counted case's profile.

The parser is held to callgrind_annotate's numbers on a committed dump; the profiles must
survive a results file's round trip, `bench merge` of counted shards and `--resume`.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from test_counter import need_valgrind

from bench.errors import InputError
from bench.results import read_results, write_results
from bench.run.callgrind import base_name, keep_profile, profile_from_dumps, read_functions
from bench.run.profiles import Function, check_profiles, functions_of, make_profile

DUMP = Path(__file__).parent / "data" / "callgrind" / "callgrind.out.1"


def fixture_costs():
    with open(DUMP, encoding="utf-8") as f:
        return read_functions(f)


def test_exclusive_costs_add_up_to_the_dumps_total():
    total = int(DUMP.read_text().split("totals:")[1].split()[0])
    assert sum(cost.exclusive for cost in fixture_costs().values()) == total


def test_costs_match_callgrind_annotate():
    # callgrind_annotate --inclusive=no/yes on the same file (a function's inlined lines joined)
    costs = {cost.name: cost for cost in fixture_costs().values() if "ceval" not in cost.file}
    assert costs["unicodekeys_lookup_unicode"].exclusive == 236_363
    assert costs["_Py_dict_lookup"].exclusive == 196_218
    assert costs["insertdict"].inclusive == 436_707
    assert costs["PyDict_SetItem"].inclusive == 490_707
    assert costs["_Py_dict_lookup"].calls == 4005
    assert costs["insertdict"].obj.endswith("libpython3.11.so.1.0")
    assert costs["insertdict"].file.endswith("Objects/dictobject.c")


def test_compressed_names_and_recursion_levels():
    lines = ["positions: line", "events: Ir Dr", "ob=(1) /lib/x.so", "fl=(2) x.c",
             "fn=(3) f", "1 10 4", "cfn=(4) f'2", "calls=1 5", "5 30 1",
             "fn=(4)", "5 20", "cob=(5) /lib/libc.so.6", "cfi=(6) m.c", "cfn=(7) memcpy", "calls=3 0",
             "+1 10", "fn=(7)", "0 99"]
    costs = read_functions(lines)
    f, memcpy = costs[("/lib/x.so", "x.c", "f")], costs[("/lib/libc.so.6", "m.c", "memcpy")]
    assert (f.exclusive, f.inclusive, f.calls) == (30, 40, 0)  # 10 + its level 2's 20; 10 + the call's 30
    assert memcpy.calls == 3 and memcpy.file == "m.c" and memcpy.exclusive == 0  # ob=(1) holds fn=(7)'s 99
    assert costs[("/lib/x.so", "x.c", "memcpy")].exclusive == 99
    assert read_functions(lines, event="Dr")[("/lib/x.so", "x.c", "f")].exclusive == 4
    assert base_name("a'b") == "a'b"


def test_a_profile_is_the_value_dump_less_the_empty_one_per_call(tmp_path):
    profile = profile_from_dumps(str(DUMP), str(DUMP), 4)
    assert profile["ir"] == 0 and profile["fns"] == []
    functions = [Function(f"f{n}", "a.c", "a.so", float(n), float(n), 1.0) for n in range(1, 101)]
    kept = make_profile(functions, top=10)
    assert len(kept["fns"]) == 10 and kept["ir"] == sum(range(1, 101))
    assert kept["other"] + sum(f.exclusive for f in functions_of(kept)) == kept["ir"]
    assert check_profiles({"c": kept}, "x") == {"c": kept}


def test_keep_profile_reads_the_last_value_before_the_dumps_go(tmp_path, monkeypatch):
    empty = tmp_path / "callgrind.out.1"
    empty.write_text("events: Ir\nob=(1) /a.so\nfl=(1) a.c\nfn=(1) f\n1 10\n")
    value = tmp_path / "callgrind.out.2"
    value.write_text("events: Ir\nob=(1) /a.so\nfl=(1) a.c\nfn=(1) f\n1 50\nfn=(2) g\n1 40\n")
    line = {"case": "c", "loops": 2, "empty": [str(empty), "e"], "dumps": [[str(value), "v"]]}
    profile = keep_profile(line)["profile"]
    assert profile["ir"] == 40 and [row[0] for row in profile["fns"]] == ["f", "g"]
    assert [row[3] for row in profile["fns"]] == [20, 20]
    monkeypatch.setenv("BENCH_KEEP_PROFILES", "0")
    assert "profile" not in keep_profile(line)
    assert "profile" not in keep_profile({**line, "dumps": [[str(tmp_path / "gone"), "v"]]})


GOOD = {"ir": 1, "objs": ["a"], "other": 0, "fns": [["f", "a.c", 0, 1, 1, 1]]}


@pytest.mark.parametrize("bad", [[], {"c": 1}, {"c": {"ir": 1}}, {"c": {**GOOD, "ir": True}},
                                 {"c": {**GOOD, "fns": [["f", "a.c", 1, 1, 1, 1]]}},
                                 {"c": {**GOOD, "fns": [["f", "a.c", 0, "1", 1, 1]]}},
                                 {"c": {**GOOD, "ir": 1e300}}, {"c": {**GOOD, "py": {"ops": 1}}},
                                 {"c": {**GOOD, "py": {"ops": 1, "other": 0, "fns": [["f", 1, 1, 1, 1]]}}}])
def test_the_reader_refuses_a_malformed_profile(bad):
    with pytest.raises(InputError, match="^r.json: (bad )?bench_profiles"):
        check_profiles(bad, "r.json")


def counted(tmp_path: Path, run_bench, name: str, *args: str) -> Path:
    need_valgrind()
    path = tmp_path / name
    proc = run_bench("run", "--plugin", "bench_explained", "--profile", "smoke", "--size", "1000",
                     "--metric", "instructions", "-o", str(path), *args, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return path


@pytest.mark.slow
def test_profiles_round_trip_and_match_the_counts(tmp_path, run_bench):
    path = counted(tmp_path, run_bench, "r.json.gz", "-k", "ser/test-explained/dumps/ints/*")
    results = read_results(path)
    (case,) = [b.get_name() for b in results.benchmarks]
    profile = results.profiles[case]
    assert abs(profile["ir"] - results.benchmarks[0].mean()) < 0.01 * profile["ir"]
    assert "bench_profiles" in json.loads(gzip.decompress(path.read_bytes()))
    write_results(results)
    assert read_results(path).profiles == results.profiles


@pytest.mark.slow
def test_profiles_survive_merge_of_counted_shards_and_resume(tmp_path, run_bench):
    cases = ["-k", "ser/test-explained/dumps/ints/*", "-k", "ser/pickle-5/dumps/ints/*"]
    shards = [counted(tmp_path, run_bench, f"s{k}.json", *cases, "--shard", f"{k}/2") for k in (1, 2)]
    merged = tmp_path / "m.json"
    proc = run_bench("merge", *map(str, shards), "-o", str(merged))
    assert proc.returncode == 0, proc.stderr
    names = {"ser/test-explained/dumps/ints/1000", "ser/pickle-5/dumps/ints/1000"}
    assert set(read_results(merged).profiles) == names
    resumed = counted(tmp_path, run_bench, "r.json", *cases[:2])
    assert set(read_results(resumed).profiles) == {"ser/test-explained/dumps/ints/1000"}
    counted(tmp_path, run_bench, "r.json", *cases, "--resume")
    assert set(read_results(resumed).profiles) == names
