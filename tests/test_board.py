"""The shared board locator/sampler: colours are read right under drift, zoom, noise and casts."""

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videorlvr.envs.board import BoardGeometry, classify_colours, locate_board, normalised_colours

PALETTE = np.array([[200, 200, 200], [230, 30, 30], [30, 200, 40], [40, 60, 230], [60, 60, 60]])


def _board_video(rows: int, cols: int, height: int, width: int, seed: int, frames: int = 6):
    geometry = BoardGeometry(rows, cols, height, width)
    truth = np.random.default_rng(seed).integers(0, len(PALETTE), size=(rows, cols))
    frame = geometry.blank_frame()
    for r in range(rows):
        for c in range(cols):
            y0, x0, y1, x1 = geometry.cell_box(r, c)
            frame[y0 + 1 : y1 - 1, x0 + 1 : x1 - 1] = PALETTE[truth[r, c]]
    return geometry, truth, np.repeat(frame[None], frames, axis=0)


def _accuracy(geometry: BoardGeometry, truth: np.ndarray, video: np.ndarray) -> float:
    bounds = locate_board(video, geometry)
    assert bounds.found.all()
    labels, _ = classify_colours(normalised_colours(video, geometry, bounds, geometry.cell_centres()), PALETTE)
    return float((labels == truth.ravel()[None]).mean())


def _warp(video: np.ndarray, scale: float, dx: float, dy: float) -> np.ndarray:
    height, width = video.shape[1:3]
    matrix = np.float32([[scale, 0, (1 - scale) * width / 2 + dx], [0, scale, (1 - scale) * height / 2 + dy]])
    return np.stack([cv2.warpAffine(frame, matrix, (width, height)) for frame in video])


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(3, 12),
    cols=st.integers(3, 12),
    size=st.sampled_from([(240, 416), (480, 832), (320, 320)]),
    scale=st.floats(0.96, 1.04),
    shift=st.tuples(st.floats(-0.025, 0.025), st.floats(-0.025, 0.025)),
    seed=st.integers(0, 10_000),
)
def test_cells_read_right_under_camera_drift(rows, cols, size, scale, shift, seed):
    geometry, truth, video = _board_video(rows, cols, *size, seed)
    drifted = _warp(video, scale, shift[0] * size[1], shift[1] * size[0])
    assert _accuracy(geometry, truth, drifted) == 1.0


@pytest.mark.parametrize(
    "artifact",
    [
        lambda v, rng: np.clip(v + rng.normal(0, 24, v.shape), 0, 255).astype(np.uint8),
        lambda v, rng: np.clip(v * np.array([0.8, 1.0, 1.15]) + 20, 0, 255).astype(np.uint8),
        lambda v, rng: np.stack([cv2.GaussianBlur(f, (9, 9), 0) for f in v]),
        lambda v, rng: np.clip(v * rng.uniform(0.7, 1.1, (len(v), 1, 1, 1)), 0, 255).astype(np.uint8),
    ],
    ids=["noise", "colour_cast", "blur", "flicker"],
)
def test_cells_read_right_under_pixel_artifacts(artifact):
    geometry, truth, video = _board_video(8, 8, 240, 416, seed=3)
    assert _accuracy(geometry, truth, artifact(video, np.random.default_rng(0))) == 1.0


def test_pure_noise_frames_are_not_located():
    geometry = BoardGeometry(6, 6, 240, 416)
    noise = np.random.default_rng(0).integers(0, 256, (5, 240, 416, 3), dtype=np.uint8)
    assert not locate_board(noise, geometry).found.any()


def test_too_small_frame_for_board_is_a_clear_error():
    with pytest.raises(ValueError, match="too small"):
        BoardGeometry(40, 40, 64, 64)


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 12), cols=st.integers(1, 12), height=st.integers(12, 300), width=st.integers(12, 300))
def test_undistorted_board_is_located_exactly_where_drawn_with_letterbox_around_it(rows, cols, height, width):
    try:
        geometry = BoardGeometry(rows, cols, height, width)
    except ValueError:
        return
    left, right, top, bottom = geometry.outer
    assert left >= 1 and top >= 1 and right <= width - 1 and bottom <= height - 1  # black on every side
    bounds = locate_board(geometry.blank_frame()[None], geometry)
    assert bounds.found.all()
    located = (bounds.left[0], bounds.right[0], bounds.top[0], bounds.bottom[0])
    # No half-pixel bias at either end; a letterbox under 3 px (the locator's background estimate) blurs it.
    exact = min(left, top, width - right, height - bottom) >= 3
    np.testing.assert_allclose(located, geometry.outer, atol=1e-6 if exact else 0.5)
