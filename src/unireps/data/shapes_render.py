"""Anti-aliased rasterisation of simple shapes with numpy (supersampled coverage masks)."""

from __future__ import annotations

import numpy as np

_S3 = np.sqrt(3.0)
_STAR_INNER = 0.5  # inner radius of the 5-pointed star, relative to the outer one


def _star(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # Fold the angle (0 = straight up) into [0, 36 deg] from the nearest tip, then test against
    # the straight edge from the tip (1, 0) to the inner vertex at 36 deg.
    rho = np.hypot(u, v)
    theta = np.arctan2(u, v) % (2 * np.pi / 5)
    alpha = np.pi / 5 - np.abs(theta - np.pi / 5)
    px, py = rho * np.cos(alpha), rho * np.sin(alpha)
    qx, qy = _STAR_INNER * np.cos(np.pi / 5), _STAR_INNER * np.sin(np.pi / 5)
    # inside when the point lies on the origin's side of the edge (cross product sign)
    return (qx - 1.0) * py - qy * (px - 1.0) >= 0


def _heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    x, y = 1.2 * u, 1.2 * v + 0.15
    return (x * x + y * y - 1.0) ** 3 - x * x * y**3 <= 0


# Each test takes local coordinates (u right, v up) scaled so the shape fits the unit disc.
SHAPE_TESTS = {
    "circle": lambda u, v: u * u + v * v <= 1.0,
    "square": lambda u, v: np.maximum(np.abs(u), np.abs(v)) <= 0.72,
    "triangle": lambda u, v: (v >= -0.7) & (_S3 * np.abs(u) + v <= 0.7),
    "diamond": lambda u, v: np.abs(u) + np.abs(v) <= 1.0,
    "star": _star,
    "cross": lambda u, v: (np.minimum(abs(u), abs(v)) <= 0.3) & (np.maximum(abs(u), abs(v)) <= 0.9),
    "heart": _heart,
}


def draw_shape(img: np.ndarray, shape: str, cx: float, cy: float, r: float,
               colour: np.ndarray, ss: int = 4) -> None:
    """Blend one shape into the float image ``img`` (H, W, 3) in place.

    ``cx, cy`` is the centre in pixels (x right, y down), ``r`` the bounding radius in pixels,
    ``ss`` the supersampling factor per axis (coverage = fraction of sub-samples inside).
    """
    h, w = img.shape[:2]
    x0, x1 = max(int(np.floor(cx - r - 1)), 0), min(int(np.ceil(cx + r + 1)), w)
    y0, y1 = max(int(np.floor(cy - r - 1)), 0), min(int(np.ceil(cy + r + 1)), h)
    if x0 >= x1 or y0 >= y1:
        return
    offs = (np.arange(ss) + 0.5) / ss
    xs = (np.arange(x0, x1)[:, None] + offs).ravel()
    ys = (np.arange(y0, y1)[:, None] + offs).ravel()
    u = (xs[None, :] - cx) / r
    v = (cy - ys[:, None]) / r
    inside = SHAPE_TESTS[shape](u, v)
    cover = inside.reshape(y1 - y0, ss, x1 - x0, ss).mean(axis=(1, 3))[..., None]
    patch = img[y0:y1, x0:x1]
    patch *= 1.0 - cover
    patch += cover * colour
