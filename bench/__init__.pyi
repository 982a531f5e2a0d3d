# Types of bench's lazily resolved registration API (bench/__init__.py resolves it on first use).
from typing import Any

from bench.subjects.folds import register_style as register_style
from bench.subjects.serializers import register_serializer as register_serializer
from bench.subjects.shapes import register_shape as register_shape

__version__: str
__all__: list[str]
EXPORTS: dict[str, str]

def __getattr__(name: str) -> Any: ...
