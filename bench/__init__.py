"""bench: measure Python serializers and fold styles on pyperf.

The registration API (`bench.register_serializer`, `bench.register_shape`,
`bench.register_style`) is resolved on first use: importing bench imports nothing else,
because pyperf workers import this package and a worker must import only the library it times.

>>> import bench
>>> bench.register_serializer.__module__
'bench.subjects.serializers'
"""

__version__ = "0.1.0"
__all__ = ["__version__", "register_serializer", "register_shape", "register_style"]

EXPORTS = {"register_serializer": "bench.subjects.serializers",
           "register_shape": "bench.subjects.shapes",
           "register_style": "bench.subjects.folds"}  # name -> the registry module that owns it


def __getattr__(name: str) -> object:
    """Import a registration function's module on first use (PEP 562)."""
    if name not in EXPORTS:
        raise AttributeError(f"module 'bench' has no attribute {name!r}")
    return getattr(__import__(EXPORTS[name], fromlist=[name]), name)
