"""Points a learner draws for the playground: on a grid, with an undo, and a code for links.

A point sits on a (GRID × GRID) lattice over [-EXTENT, EXTENT]² and carries a label: a class
index, or for regression a value in tenths (-10 .. 10 for -1.0 .. 1.0). Points are an (K, 3)
int array of (column, row, label). A small set (up to LINK_POINTS) fits in a link as a short
code: three bytes a point, zlib-compressed, base64url; a bigger one lives in the session only.
"""

from __future__ import annotations

import base64
import binascii
import zlib

import numpy as np
import torch

EXTENT = 4.0
GRID = 41  # lattice points per axis: a step of 0.2
STEP = 2 * EXTENT / (GRID - 1)
MAX_CLASSES = 4
VALUE_RANGE = 10  # regression labels: -10 .. 10 tenths
LINK_POINTS = 200  # the most points a link carries
MAX_POINTS = 1000  # the most points a session's drawing holds
MIN_POINTS = 6  # fewer leave the test split or a class with nothing to learn from
TASKS = ("classes", "regression")
_CODE_PREFIX = {"classes": "c", "regression": "r"}
_MAX_CODE_CHARS = 2400  # a code of LINK_POINTS points is well below; longer is not ours


class DrawingError(ValueError):
    """A link's code that cannot be read as drawn points: `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def empty() -> np.ndarray:
    return np.zeros((0, 3), np.int16)


def snap(x: float, y: float) -> tuple[int, int]:
    """The lattice cell nearest to (x, y), clamped onto the board."""
    col = int(np.clip(round((x + EXTENT) / STEP), 0, GRID - 1))
    row = int(np.clip(round((y + EXTENT) / STEP), 0, GRID - 1))
    return col, row


def coordinates(points: np.ndarray) -> np.ndarray:
    """(K, 2) float32 x, y of the points."""
    return (points[:, :2].astype(np.float32) * STEP - EXTENT).astype(np.float32)


def lattice() -> tuple[np.ndarray, np.ndarray]:
    """x and y of every lattice point (GRID², each): the invisible targets that take clicks."""
    axis = (np.arange(GRID, dtype=np.float32) * STEP - EXTENT).astype(np.float32)
    gx, gy = np.meshgrid(axis, axis)
    return gx.ravel(), gy.ravel()


def add(points: np.ndarray, x: float, y: float, label: int) -> np.ndarray:
    """The points with one more at the cell nearest (x, y); a full drawing stays as it is."""
    if len(points) >= MAX_POINTS:
        return points
    col, row = snap(x, y)
    return np.concatenate([points, np.array([[col, row, label]], np.int16)])


def erase_nearest(points: np.ndarray, x: float, y: float) -> np.ndarray:
    """The points without the one nearest to (x, y)."""
    if not len(points):
        return points
    d = ((coordinates(points) - np.array([x, y], np.float32)) ** 2).sum(axis=1)  # (K,)
    return np.delete(points, int(d.argmin()), axis=0)


def erase_inside(points: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The points outside the box that spans the given x and y values (a box a finger drew)."""
    xy = coordinates(points)
    inside = (
        (xy[:, 0] >= xs.min() - STEP / 2) & (xy[:, 0] <= xs.max() + STEP / 2)
        & (xy[:, 1] >= ys.min() - STEP / 2) & (xy[:, 1] <= ys.max() + STEP / 2)
    )  # fmt: skip
    return points[~inside]


def encode(points: np.ndarray, task: str) -> str:
    """The link code of a drawing of at most LINK_POINTS points ("" for none)."""
    if not len(points):
        return ""
    if len(points) > LINK_POINTS:
        raise ValueError(f"a link carries at most {LINK_POINTS} points, not {len(points)}")
    raw = points.astype(np.int16).copy()
    raw[:, 2] += VALUE_RANGE if task == "regression" else 0  # bytes hold no negatives
    packed = zlib.compress(raw.astype(np.uint8).tobytes(), 9)
    return _CODE_PREFIX[task] + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode(code: str, task: str) -> np.ndarray:
    """The points of a link code for `task`; DrawingError if it is not one."""
    if not code:
        return empty()
    if len(code) > _MAX_CODE_CHARS or code[0] != _CODE_PREFIX[task]:
        raise DrawingError("not_ours")
    body = code[1:]
    try:
        padded = (body + "=" * (-len(body) % 4)).encode()
        packed = base64.b64decode(padded, altchars=b"-_", validate=True)
        # A bounded decompression: a crafted code cannot unpack into megabytes.
        inflate = zlib.decompressobj()
        raw = inflate.decompress(packed, 3 * LINK_POINTS + 1)
    except (binascii.Error, ValueError, zlib.error):
        raise DrawingError("not_ours") from None
    if not raw or inflate.unconsumed_tail or len(raw) % 3 or len(raw) > 3 * LINK_POINTS:
        raise DrawingError("not_ours")
    points = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int16)
    if task == "regression":
        points[:, 2] -= VALUE_RANGE
    top = MAX_CLASSES - 1 if task == "classes" else VALUE_RANGE
    bottom = 0 if task == "classes" else -VALUE_RANGE
    if (points[:, :2] >= GRID).any() or (points[:, 2] > top).any() or (points[:, 2] < bottom).any():
        raise DrawingError("not_ours")
    return points


def readiness(points: np.ndarray, task: str) -> str:
    """ "" when the drawing can train, else why not ("few", "one_class")."""
    if len(points) < MIN_POINTS:
        return "few"
    if task == "classes" and len(np.unique(points[:, 2])) < 2:
        return "one_class"
    return ""


def tensors(points: np.ndarray, task: str) -> tuple[torch.Tensor, torch.Tensor, int]:
    """X (K, 2), y (class indices, or values) and the number of classes (0: regression)."""
    X = torch.from_numpy(coordinates(points))
    if task == "regression":
        return X, torch.from_numpy(points[:, 2].astype(np.float32) / VALUE_RANGE), 0
    n_classes = max(int(points[:, 2].max()) + 1, 2)
    return X, torch.from_numpy(points[:, 2].astype(np.int64)), n_classes
