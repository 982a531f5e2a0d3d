"""A test-only plugin: a serializer that does pickle 5's work twice per call.

Loaded with `bench run --plugin bench_doubles`; its `dumps` pickles the object twice and
returns the second payload, so an instruction count of it reads about twice pickle-5's.
"""

from __future__ import annotations

import pickle

from bench.subjects import serializers


def _dumps_twice(obj: object) -> bytes:
    pickle.dumps(obj, protocol=5)
    return pickle.dumps(obj, protocol=5)


_CODEC = serializers.Codec(dumps=_dumps_twice, loads=pickle.loads)
serializers.SERIALIZERS["test-pickle-twice"] = serializers.Serializer(
    "test-pickle-twice", "pickle", "test-only: pickle 5 twice per dumps", lambda: _CODEC,
    has_file_form=False)
