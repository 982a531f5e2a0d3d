"""A brand-new serializer, added the way a user's plugin adds one: a name and two functions."""

import pickle
import zlib

from bench.subjects.serializers import register_serializer


def compress(obj: object) -> bytes:
    """pickle protocol 5, then zlib at level 1."""
    return zlib.compress(pickle.dumps(obj, protocol=5), 1)


def decompress(payload: bytes) -> object:
    """The inverse of `compress`."""
    return pickle.loads(zlib.decompress(payload))


register_serializer("zlib-pickle", compress, decompress)
