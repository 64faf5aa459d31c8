"""Writes the sample CSV files next to this script; deterministic, so rerunning changes nothing.

Run from the repository root: `python -m ui.samples.make_samples`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlcore import datasets

HERE = Path(__file__).parent
FRUITS = ("apple", "banana", "cherry")


def blobs_3_classes() -> str:
    """x1,x2,label: three Gaussian blobs with text labels, 150 rows."""
    X, y = datasets.blobs(150, 0.0, seed=0, k=3)
    rows = [f"{a:.3f},{b:.3f},{FRUITS[int(c)]}" for (a, b), c in zip(X.tolist(), y, strict=True)]
    return "x1,x2,label\n" + "\n".join(rows) + "\n"


def regression_semicolon_decimal_comma() -> str:
    """A noisy sine written the European way: ';' between columns, decimal commas, spaced header."""
    X, y = datasets.sine(120, 0.1, seed=1)
    rows = [
        f"{a:.3f};{b:.3f}".replace(".", ",")
        for a, b in zip(X[:, 0].tolist(), y[:, 0].tolist(), strict=True)
    ]
    return " x value ; y value \n" + "\n".join(rows) + "\n"


def housing_small() -> str:
    """Made-up flats: area, rooms, age (a few missing), distance to the centre -> price."""
    rng = np.random.default_rng(2024)
    n = 200
    area = rng.uniform(28, 160, n)
    rooms = np.clip(np.round(area / 30 + rng.normal(0, 0.6, n)), 1, 6)
    age = rng.integers(0, 80, n).astype(float)
    distance = rng.gamma(2.0, 3.0, n) + 0.3
    price = 80 + 2.2 * area + 12 * rooms - 0.7 * age - 4.0 * distance + rng.normal(0, 25, n)
    age[rng.choice(n, 7, replace=False)] = np.nan  # a few unknown building years
    lines = ["area_m2,rooms,age_years,distance_km,price_k"]
    for a, r, g, d, p in zip(area, rooms, age, distance, price, strict=True):
        age_text = "" if np.isnan(g) else f"{g:.0f}"
        lines.append(f"{a:.1f},{r:.0f},{age_text},{d:.2f},{max(p, 20):.0f}")
    return "\n".join(lines) + "\n"


SAMPLES = {
    "blobs_3_classes.csv": blobs_3_classes,
    "regression_semicolon_decimal_comma.csv": regression_semicolon_decimal_comma,
    "housing_small.csv": housing_small,
}


def write(folder: Path = HERE) -> list[Path]:
    """Write every sample into folder; returns the paths."""
    paths = []
    for name, make in SAMPLES.items():
        path = folder / name
        path.write_bytes(make().encode("utf-8"))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for path in write():
        print(f"{path.name}: {path.stat().st_size} bytes")
