"""A small suite written with plain pyperf, to test `bench compare` on files from any project.

Twelve benchmarks of the standard library (json, pickle, marshal, sorting, str operations),
on seeded data, each a plain `pyperf.Runner().bench_func`. Run it as any pyperf script:

    python examples/pyperf_suite.py --fast -o run-1.json
    bench compare run-1.json run-2.json
"""

from __future__ import annotations

import json
import marshal
import pickle
import random

import pyperf

RNG = random.Random(13)
RECORDS = [{"id": i, "name": f"user{i}", "score": RNG.random(), "tags": ["a", "b", "c"][: i % 4]}
           for i in range(500)]
INTS = [RNG.randrange(1 << 30) for _ in range(10_000)]
WORDS = [f"w{RNG.randrange(100_000):05d}" for _ in range(5_000)]
TEXT = " ".join(WORDS)
JSON_TEXT = json.dumps(RECORDS)
PICKLED = pickle.dumps(RECORDS, protocol=5)
MARSHALLED = marshal.dumps(INTS)


def format_rows() -> list[str]:
    """An f-string per record."""
    return [f"{r['id']:>6} {r['name']:<10} {r['score']:.3f}" for r in RECORDS]


BENCHMARKS = {
    "json_dumps_records": lambda: json.dumps(RECORDS),
    "json_loads_records": lambda: json.loads(JSON_TEXT),
    "pickle_dumps_records": lambda: pickle.dumps(RECORDS, protocol=5),
    "pickle_loads_records": lambda: pickle.loads(PICKLED),
    "marshal_dumps_ints": lambda: marshal.dumps(INTS),
    "marshal_loads_ints": lambda: marshal.loads(MARSHALLED),
    "sorted_ints": lambda: sorted(INTS),
    "sorted_words": lambda: sorted(WORDS),
    "str_join_words": lambda: " ".join(WORDS),
    "str_split_text": lambda: TEXT.split(),
    "str_replace_text": lambda: TEXT.replace("w0", "W0"),
    "str_format_rows": format_rows,
}


def main() -> None:
    """Register every benchmark with one pyperf runner (pyperf parses the command line)."""
    runner = pyperf.Runner()
    for name, func in BENCHMARKS.items():
        runner.bench_func(name, func)


if __name__ == "__main__":
    main()
