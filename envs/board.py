"""Grid boards in video frames: layout for rendering, and per-frame location + sampling for verifying.

Every task draws its grid the same way: a black letterbox, a white border frame around the board,
then square cells. The verifier finds that white frame in *each* video frame (so camera drift,
zoom, flicker and colour casts do not move the sample points off their cells), normalises colours
against the known black and white, and reads only small patches at the points a task asks for.

Coordinates: *grid* coordinates ``(gy, gx)`` are in cell units, cell ``(r, c)`` spans
``[r, r+1] x [c, c+1]``; the border occupies ``BORDER_CELLS`` cells outside that.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

BACKGROUND_RGB = (0, 0, 0)
BORDER_RGB = (255, 255, 255)
MARGIN = 0.08  # letterbox margin on every side, as a share of min(H, W): room for camera drift
BORDER_CELLS = 0.35  # thickness of the white frame, in cells
MIN_BORDER_PX = 3
PROFILE_LINES = 9  # adjacent rows (columns) averaged to find the left/right (top/bottom) board edge
CELL_QUANTUM, CELL_QUANTUM_FROM = 4, 32  # px: see BoardGeometry.cell
SIZE_TOLERANCE = 0.2  # a located board may be 20% larger or smaller than drawn (zoom)


@dataclass(frozen=True)
class BoardGeometry:
    """Where a ``rows x cols`` board sits in a ``height x width`` frame, as drawn by the renderer."""

    rows: int
    cols: int
    height: int
    width: int

    def __post_init__(self) -> None:
        if self.rows < 1 or self.cols < 1:
            raise ValueError(f"board needs at least 1x1 cells, got {self.rows}x{self.cols}")
        if self.cell < 4:
            raise ValueError(
                f"frame {self.height}x{self.width} is too small for a {self.rows}x{self.cols} board "
                f"(cells would be {self.cell} px, need at least 4)"
            )

    @cached_property
    def margin(self) -> int:
        return round(MARGIN * min(self.height, self.width))

    @cached_property
    def cell(self) -> int:
        """Cell side in pixels: the largest that leaves the margin free around board and white frame."""
        span = 2 * BORDER_CELLS
        inner_h, inner_w = self.height - 2 * self.margin, self.width - 2 * self.margin
        fit = min(inner_h / (self.rows + span), inner_w / (self.cols + span))
        # The frame is never thinner than MIN_BORDER_PX: at small cells that, not BORDER_CELLS, must fit.
        fit_min_border = min(
            (inner_h - 2 * MIN_BORDER_PX) // self.rows, (inner_w - 2 * MIN_BORDER_PX) // self.cols
        )
        cell = int(min(fit, fit_min_border))
        # Cells of CELL_QUANTUM_FROM px and more are a whole number of CELL_QUANTUM-px steps (at most 3 px
        # smaller): every reader's blocks (a quarter cell and the like) are then whole pixels, summed
        # exactly and fast (footprint.block_means); fractional blocks need OpenCV's slower area path.
        return cell - cell % CELL_QUANTUM if cell >= CELL_QUANTUM_FROM else cell

    @cached_property
    def border(self) -> int:
        return max(MIN_BORDER_PX, round(BORDER_CELLS * self.cell))

    @cached_property
    def origin(self) -> tuple[int, int]:
        """Pixel ``(y, x)`` of grid point (0, 0), the top-left corner of cell (0, 0)."""
        return (self.height - self.rows * self.cell) // 2, (self.width - self.cols * self.cell) // 2

    @cached_property
    def outer(self) -> tuple[float, float, float, float]:
        """Outer edges of the white frame in pixels: ``(left, right, top, bottom)``."""
        y0, x0 = self.origin
        return (
            x0 - self.border,
            x0 + self.cols * self.cell + self.border,
            y0 - self.border,
            y0 + self.rows * self.cell + self.border,
        )

    def cell_box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """Pixel box ``(y0, x0, y1, x1)`` of a cell (end-exclusive)."""
        y0, x0 = self.origin
        return y0 + row * self.cell, x0 + col * self.cell, y0 + (row + 1) * self.cell, x0 + (col + 1) * self.cell

    def to_pixels(self, gy: np.ndarray | float, gx: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Grid coordinates to (float) pixel coordinates in the drawn frame."""
        y0, x0 = self.origin
        return y0 + np.asarray(gy, dtype=np.float64) * self.cell, x0 + np.asarray(gx, dtype=np.float64) * self.cell

    def blank_frame(self) -> np.ndarray:
        """uint8 (H, W, 3): black letterbox with the white frame; the board interior is left white."""
        frame = np.zeros((self.height, self.width, 3), dtype=np.uint8)
        frame[:] = BACKGROUND_RGB
        left, right, top, bottom = (int(v) for v in self.outer)
        frame[top:bottom, left:right] = BORDER_RGB
        return frame

    def cell_centres(self) -> np.ndarray:
        """(rows*cols, 2) grid coordinates of every cell centre, row-major."""
        rr, cc = np.meshgrid(np.arange(self.rows), np.arange(self.cols), indexing="ij")
        return np.stack([rr.ravel() + 0.5, cc.ravel() + 0.5], axis=1)


@dataclass(frozen=True)
class FrameBounds:
    """Per-frame located white-frame edges, ``(T,)`` each, and whether each frame was found.

    Edges are continuous pixel coordinates (pixel i spans ``[i, i+1)``), as in ``BoardGeometry.outer``:
    an undistorted frame locates exactly at ``geometry.outer``.
    """

    left: np.ndarray
    right: np.ndarray
    top: np.ndarray
    bottom: np.ndarray
    found: np.ndarray  # bool (T,)


def _first_crossing(
    profile: np.ndarray, above: np.ndarray, threshold: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel index where each row of ``profile`` (T, N) first rises above ``threshold`` (T,);
    ``above`` is ``profile > threshold[:, None]``."""
    index = above.argmax(axis=1)
    rows = np.arange(len(index))
    exists = above[rows, index]
    previous = np.maximum(index - 1, 0)
    low, high = profile[rows, previous], profile[rows, index]
    step = np.where(high - low > 1e-6, (threshold - low) / np.maximum(high - low, 1e-6), 1.0)
    position = np.where(index > 0, previous + np.clip(step, 0.0, 1.0), 0.0)
    return position, exists & (index > 0)


def _edges(profile: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both outer edges along a (T, N) brightness profile: (start, end, found)."""
    background = np.minimum(profile[:, :3].mean(axis=1), profile[:, -3:].mean(axis=1))
    threshold = background + 0.5 * (profile.max(axis=1) - background)
    above = profile > threshold[:, None]
    start, found_start = _first_crossing(profile, above, threshold)
    end_reversed, found_end = _first_crossing(profile[:, ::-1], above[:, ::-1], threshold)
    # Crossings are in sample-index units (pixel i at i); edges are returned in continuous pixel
    # coordinates (pixel i spans [i, i+1)), like BoardGeometry.outer: a sharp edge whose first white
    # pixel is i crosses at i - 0.5, so it lies at i; one whose last white pixel is e - 1 lies at e.
    return start + 0.5, profile.shape[1] - 0.5 - end_reversed, found_start & found_end


def _brightness(band: np.ndarray, axis: int) -> np.ndarray:
    """Per-channel sum over ``axis`` (1 or 2) of a uint8 band, then the max over channels: float32."""
    if axis == 1:  # (T, L, W, 3): line l of every frame is one row of a 2-D view; OpenCV adds them up
        # (vectorised, uint8 into float32: exact)
        frames, lines = band.shape[:2]
        totals = np.zeros((frames, band.shape[2] * 3), dtype=np.float32)
        for line in range(lines):
            cv2.accumulate(band[:, line].reshape(frames, -1), totals)
        channels = totals[:, 0::3], totals[:, 1::3], totals[:, 2::3]
    else:  # (T, H, L, 3): transposed (OpenCV), the L columns become long contiguous rows to add (numpy
        # is slow over a short axis, and a BLAS product wakes thread pools that then spin against the caller)
        frames, length, lines = band.shape[:3]
        columns = cv2.transpose(band.reshape(frames * length, lines * 3))  # (L * 3, T * H)
        channels = np.add.reduce(columns.reshape(lines, 3, frames, length), axis=0, dtype=np.uint16)
    # Channel max keeps the white frame bright under colour casts.
    return np.maximum(np.maximum(channels[0], channels[1]), channels[2]).astype(np.float32)


def locate_board(video: np.ndarray, geometry: BoardGeometry) -> FrameBounds:
    """Find the white board frame in each frame of a uint8 ``(T, H, W, 3)`` video.

    Reads one band of ``PROFILE_LINES`` adjacent rows and one of adjacent columns through the board's
    middle per frame (adjacent columns share cache lines, so the vertical band is cheap too).
    """
    left, right, top, bottom = geometry.outer
    half = PROFILE_LINES // 2
    mid_y, mid_x = int((top + bottom) / 2), int((left + right) / 2)
    horizontal = _brightness(video[:, mid_y - half : mid_y + half + 1], axis=1)  # (T, W)
    vertical = _brightness(video[:, :, mid_x - half : mid_x + half + 1], axis=2)  # (T, H)
    x_start, x_end, found_x = _edges(horizontal)
    y_start, y_end, found_y = _edges(vertical)
    scale_x = (x_end - x_start) / (right - left)
    scale_y = (y_end - y_start) / (bottom - top)
    plausible = (
        (np.abs(scale_x - 1.0) <= SIZE_TOLERANCE)
        & (np.abs(scale_y - 1.0) <= SIZE_TOLERANCE)
        & (np.abs(scale_x / np.maximum(scale_y, 1e-6) - 1.0) <= 0.1)
    )
    return FrameBounds(x_start, x_end, y_start, y_end, found_x & found_y & plausible)


def _frame_pixels(
    geometry: BoardGeometry, bounds: FrameBounds, gy: np.ndarray, gx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Map grid coordinates (N,) to integer pixel coordinates (T, N) in each located frame."""
    left, right, top, bottom = geometry.outer
    drawn_y, drawn_x = geometry.to_pixels(gy, gx)
    # Frames where the board was not found fall back to the drawn position.
    frame_left = np.where(bounds.found, bounds.left, left)
    frame_right = np.where(bounds.found, bounds.right, right)
    frame_top = np.where(bounds.found, bounds.top, top)
    frame_bottom = np.where(bounds.found, bounds.bottom, bottom)
    scale_x = (frame_right - frame_left) / (right - left)
    scale_y = (frame_bottom - frame_top) / (bottom - top)
    x = (drawn_x[None, :] - left) * scale_x[:, None]
    x += frame_left[:, None]
    y = (drawn_y[None, :] - top) * scale_y[:, None]
    y += frame_top[:, None]
    # x, y are continuous pixel coordinates: the pixel holding a point is floor(x), floor(y).
    # Raw ufuncs with out=: np.clip's Python wrapper costs more than the arithmetic here.
    for values, limit in ((x, geometry.width - 1), (y, geometry.height - 1)):
        np.floor(values, out=values)
        np.maximum(values, 0, out=values)
        np.minimum(values, limit, out=values)
    return y.astype(np.int64), x.astype(np.int64)


def patch_offsets(radius: float, size: int = 3) -> np.ndarray:
    """(size*size, 2) grid offsets of a square patch of half-width ``radius`` cells."""
    steps = np.linspace(-radius, radius, size) if size > 1 else np.zeros(1)
    dy, dx = np.meshgrid(steps, steps, indexing="ij")
    return np.stack([dy.ravel(), dx.ravel()], axis=1)


def _frame_subset(bounds: FrameBounds, frames: np.ndarray) -> FrameBounds:
    return FrameBounds(bounds.left[frames], bounds.right[frames], bounds.top[frames], bounds.bottom[frames],
                       bounds.found[frames])


def sample_points(
    video: np.ndarray,
    geometry: BoardGeometry,
    bounds: FrameBounds,
    points: np.ndarray,
    radius: float = 0.1,
    size: int = 2,
    frames: np.ndarray | None = None,
) -> np.ndarray:
    """Mean RGB of a small patch around each grid point in each frame: float32 ``(T, P, 3)``.

    ``points`` is ``(P, 2)`` grid coordinates ``(gy, gx)``; the patch is ``size x size`` samples spread
    over ``±radius`` cells. Only those pixels are read. ``frames``: optional frame indices ``(F,)`` to
    sample (then the result is ``(F, P, 3)``); ``bounds`` always covers the whole video.
    """
    if frames is None:
        frames = np.arange(video.shape[0], dtype=np.int64)
    else:
        frames = np.asarray(frames, dtype=np.int64)
        bounds = _frame_subset(bounds, frames)
    offsets = patch_offsets(radius, size)
    # Patch samples outermost: (S, P) grid points, so the patch mean is a sum of S whole arrays
    # (numpy reduces a short middle axis an order of magnitude slower).
    gy = (offsets[:, None, 0] + points[None, :, 0]).ravel()
    gx = (offsets[:, None, 1] + points[None, :, 1]).ravel()
    y, x = _frame_pixels(geometry, bounds, gy, gx)  # (F, S*P)
    y += frames[:, None] * geometry.height
    y *= geometry.width
    y += x
    flat_index = y.reshape(len(frames), len(offsets), -1)
    pixels = np.take(video.reshape(-1, 3), flat_index.transpose(1, 0, 2).ravel(), axis=0)
    totals = pixels.reshape(len(offsets), -1).sum(axis=0, dtype=np.uint32)
    return (totals.astype(np.float32) * np.float32(1.0 / len(offsets))).reshape(len(frames), len(points), 3)


def reference_points(geometry: BoardGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Grid points on the black letterbox and on the white frame, used to normalise colours."""
    half = BORDER_CELLS / 2
    gap = (geometry.margin / 2 + geometry.border) / geometry.cell  # half-way into the letterbox
    mid_r, mid_c = geometry.rows / 2, geometry.cols / 2
    white = np.array([[-half, mid_c], [geometry.rows + half, mid_c], [mid_r, -half], [mid_r, geometry.cols + half]])
    black = np.array([[-gap, mid_c], [geometry.rows + gap, mid_c], [mid_r, -gap], [mid_r, geometry.cols + gap]])
    return black, white


def normalised_colours(video: np.ndarray, geometry: BoardGeometry, bounds: FrameBounds, points: np.ndarray,
                       radius: float = 0.1, size: int = 2, frames: np.ndarray | None = None) -> np.ndarray:
    """Patch colours at ``points`` mapped so the frame's black is 0 and its white is 1, per channel.

    This undoes brightness changes, colour casts and flicker frame by frame: float32 ``(T, P, 3)``
    (``(F, P, 3)`` for the optional frame indices ``frames``, as in :func:`sample_points`).
    """
    black, white = reference_points(geometry)
    references = sample_points(video, geometry, bounds, np.concatenate([black, white]), radius=0.08, size=2,
                               frames=frames)
    low = references[:, : len(black)].mean(axis=1)
    high = references[:, len(black):].mean(axis=1)
    span = np.maximum(high - low, 32.0)
    colours = sample_points(video, geometry, bounds, points, radius=radius, size=size, frames=frames)
    colours -= low[:, None, :]
    colours /= span[:, None, :]
    return colours


def classify_colours(colours: np.ndarray, palette: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest palette entry for each normalised colour.

    colours: float (..., 3) normalised to [0, 1]; palette: (K, 3) RGB in 0..255 as drawn.
    Returns labels int (...) and a margin in [0, 1] (how much nearer the best entry is than the
    second best; 0 means ambiguous).
    """
    reference = np.asarray(palette, dtype=np.float32) / 255.0
    shape = colours.shape[:-1]
    channels = np.asarray(colours, dtype=np.float32).reshape(-1, 3).T.copy()  # (3, M)
    # Squared distances palette-major (K, M), built from whole rows: no numpy reduction over a short
    # axis, and no BLAS product (its thread pool would spin against the caller).
    distance = np.empty((len(reference), channels.shape[1]), dtype=np.float32)
    for row, colour in zip(distance, reference):
        np.subtract(channels[0], colour[0], out=row)
        row *= row
        for channel in (1, 2):
            difference = channels[channel] - colour[channel]
            difference *= difference
            row += difference
    best = distance.min(axis=0)
    labels = np.zeros(best.shape, dtype=np.intp)
    for index in range(len(reference) - 1, 0, -1):  # the first of equally near entries wins, as argmin
        labels[distance[index] == best] = index
    labels = labels.reshape(shape)
    if len(reference) == 1:
        return labels, np.ones(shape, dtype=np.float32)
    nearest, second = np.full_like(best, np.inf), np.full_like(best, np.inf)
    for row in distance:  # K passes: the two smallest distances per colour
        np.minimum(second, np.maximum(nearest, row), out=second)
        np.minimum(nearest, row, out=nearest)
    margin = 1.0 - np.sqrt(best / np.maximum(second, 1e-12))
    return labels, np.clip(margin, 0.0, 1.0).reshape(shape)
