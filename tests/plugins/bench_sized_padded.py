"""A test-only plugin: `test-sized` whose payload is twice pickle 5's (see bench_sized).

Its dumps appends as many zero bytes as the pickle has, its loads reads the first half: the
same object back, from a payload exactly twice as large.
"""

import pickle

from bench.subjects.serializers import register_serializer


def dumps(obj: object) -> bytes:
    """pickle protocol 5, then as many zero bytes again."""
    payload = pickle.dumps(obj, protocol=5)
    return payload + bytes(len(payload))


def loads(payload: bytes) -> object:
    """The object of the pickle in the first half of `payload`."""
    return pickle.loads(payload[: len(payload) // 2])


register_serializer("test-sized", dumps, loads, note="test-only: pickle 5, padded to twice its size")
