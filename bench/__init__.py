"""bench: measure Python serializers and fold styles on pyperf.

Kept import-free on purpose: pyperf workers import this package, and a worker
must import only the library it times.
"""

__version__ = "0.1.0"
