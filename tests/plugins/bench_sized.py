"""A test-only plugin: `test-sized`, pickle protocol 5 as it is (see bench_sized_padded).

Loaded with `bench run --plugin bench_sized`; `bench_sized_padded` registers the same name with
a payload twice as large, so a run with each is a base and a head whose payload doubled.
"""

import pickle

from bench.subjects.serializers import register_serializer


def dumps(obj: object) -> bytes:
    """pickle protocol 5."""
    return pickle.dumps(obj, protocol=5)


register_serializer("test-sized", dumps, pickle.loads, note="test-only: pickle 5")
