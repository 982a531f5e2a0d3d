"""The size-vs-speed points of the serializers and their Pareto front, per shape.

Data in, data out: the Serializers section draws and lists what these return.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def pareto_front(x: Sequence[float], y: Sequence[float]) -> list[bool]:
    """Which points no other point beats on both x and y (lower is better).

    >>> pareto_front([1, 2, 3, 2], [3, 1, 2, 4])
    [True, True, False, False]
    """
    points = list(zip(x, y, strict=True))
    return [not any((a <= px and b <= py) and (a < px or b < py) for a, b in points)
            for px, py in points]


def pareto_points(rows: pd.DataFrame) -> pd.DataFrame:
    """Per shape and serializer: payload, dumps + loads time with its 95% CI, Pareto-front membership.

    The CI of the sum of two independent means: half-width sqrt(h_dumps² + h_loads²).
    """
    out = []
    for (shape, size), group in rows.groupby(["shape", "size"], sort=False):
        wide = group.pivot_table(index="subject", columns="op", values="mean", sort=False)
        halves = group.assign(half=(group["ci_high"] - group["ci_low"]) / 2).pivot_table(
            index="subject", columns="op", values="half", sort=False, dropna=False)
        payload = group.dropna(subset=["payload_bytes"]).groupby("subject")["payload_bytes"].first()
        if not {"dumps", "loads"} <= set(wide.columns):
            continue
        half = np.sqrt(halves.reindex(columns=["dumps", "loads"]).pow(2).sum(axis=1, min_count=2))
        time = wide["dumps"] + wide["loads"]
        points = pd.DataFrame({"time": time, "time_low": time - half.reindex(time.index),
                               "time_high": time + half.reindex(time.index)})
        points = points.join(payload.astype(float)).dropna(subset=["time", "payload_bytes"])
        points = points.reset_index()
        points["front"] = pareto_front(points["payload_bytes"], points["time"])
        out.append(points.assign(shape=shape, size=size))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()
