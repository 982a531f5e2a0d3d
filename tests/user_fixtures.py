"""Tiny `--data` callables for tests/test_user_data.py (a user's fixtures module)."""

from __future__ import annotations


def make_order(n: int = 3) -> list[dict]:
    """n orders, JSON-like: every serializer that handles dicts round-trips them exactly."""
    return [{"id": i, "sku": f"A-{i}", "qty": i % 5, "price": i * 1.25, "tags": ["new", "sale"]}
            for i in range(n)]


def make_tagged() -> list[dict]:
    """Orders whose tags are tuples: JSON gives lists back (a lossy round trip)."""
    return [{"id": i, "tags": ("new", "sale")} for i in range(3)]


def make_lock() -> dict:
    """An object no serializer can encode (a lock)."""
    import threading

    return {"lock": threading.Lock()}


def broken() -> list:
    """A fixture that raises."""
    raise ValueError("no orders today")
