"""Pictures of a verdict: what the verifier read, where a rule broke, and why.

:func:`draw_verdict` draws one picture over the board (the env's ``render()`` after ``step``);
:func:`verdict_video` draws it over every frame of the scored video (``render_mode="rgb_array_list"``,
``RecordVerdictVideo``, training logs via :func:`scored_overlay`, ``python -m videorlvr.envs overlay``).

What is drawn comes from the :class:`~videorlvr.envs.types.Verdict`: ``trace`` (per frame, the cells
read: the agent or player, or FlowFree's filled cells; None where a frame was unreadable),
``broken_frame`` (where the legal prefix ended) and ``reason``. The legal prefix is green, the first
illegal or unreadable frame red, and a banner says success or the reason. A verdict without a trace
still gets its banner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from videorlvr.envs.board import BoardGeometry
from videorlvr.envs.types import Cell, Verdict

LEGAL_RGB = (40, 220, 60)
BROKEN_RGB = (255, 40, 40)
BANNER_ALPHA = 0.75
FILL_ALPHA = 0.45
FONT = cv2.FONT_HERSHEY_SIMPLEX


def grid_shape(puzzle: Any) -> tuple[int, int]:
    """``(rows, cols)`` of a task's puzzle (maze and Sokoban carry rows/cols; FlowFree a square size)."""
    if hasattr(puzzle, "rows") and hasattr(puzzle, "cols"):
        return int(puzzle.rows), int(puzzle.cols)
    if hasattr(puzzle, "size"):
        return int(puzzle.size), int(puzzle.size)
    raise TypeError(f"cannot tell the grid size of a {type(puzzle).__name__}")


def _centre(geometry: BoardGeometry, cell: Cell) -> tuple[int, int]:
    """Pixel ``(x, y)`` of a cell's centre (cv2 order)."""
    y0, x0 = geometry.origin
    return int(x0 + (cell[1] + 0.5) * geometry.cell), int(y0 + (cell[0] + 0.5) * geometry.cell)


def _fill_cells(image: np.ndarray, geometry: BoardGeometry, cells: Sequence[Cell], rgb: tuple[int, int, int]) -> None:
    if not cells:
        return
    y0, x0 = geometry.origin
    layer = image.copy()
    for row, col in cells:
        top, left = y0 + row * geometry.cell, x0 + col * geometry.cell
        cv2.rectangle(layer, (left, top), (left + geometry.cell - 1, top + geometry.cell - 1), rgb, -1)
    cv2.addWeighted(layer, FILL_ALPHA, image, 1 - FILL_ALPHA, 0, dst=image)


def _draw_trace(image: np.ndarray, geometry: BoardGeometry, trace: Sequence[tuple[Cell, ...] | None],
                broken_frame: int | None, upto: int) -> None:  # fmt: skip
    """Draw frames ``0..upto`` of the trace: the legal prefix green, the broken frame red."""
    legal_end = upto + 1 if broken_frame is None else min(upto + 1, broken_frame)
    readable = [cells for cells in trace[:legal_end] if cells is not None]
    path_like = all(len(cells) <= 1 for cells in trace if cells is not None)
    thickness = max(2, geometry.cell // 6)
    last_legal: tuple[Cell, ...] = readable[-1] if readable else ()
    if path_like:
        points = [_centre(geometry, cells[0]) for cells in readable if cells]
        points = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
        if len(points) > 1:
            cv2.polylines(image, [np.array(points, np.int32)], False, LEGAL_RGB, thickness, cv2.LINE_AA)
        if points:
            cv2.circle(image, points[-1], thickness * 2, LEGAL_RGB, -1, cv2.LINE_AA)
    else:
        _fill_cells(image, geometry, last_legal, LEGAL_RGB)
    if broken_frame is None or broken_frame > upto or broken_frame >= len(trace):
        return
    broken = trace[broken_frame]
    if broken is None:  # unreadable: cross out the board
        left, right, top, bottom = (int(v) for v in geometry.outer)
        cv2.line(image, (left, top), (right, bottom), BROKEN_RGB, thickness, cv2.LINE_AA)
        cv2.line(image, (left, bottom), (right, top), BROKEN_RGB, thickness, cv2.LINE_AA)
        return
    new_cells = [cell for cell in broken if cell not in set(last_legal)] or list(broken)
    if path_like and last_legal and new_cells:
        cv2.line(image, _centre(geometry, last_legal[0]), _centre(geometry, new_cells[0]), BROKEN_RGB,
                 thickness, cv2.LINE_AA)  # fmt: skip
    _fill_cells(image, geometry, new_cells, BROKEN_RGB)


def _wrap(text: str, scale: float, width: int) -> list[str]:
    words, lines = text.split(), [""]
    for word in words:
        candidate = f"{lines[-1]} {word}".strip()
        if cv2.getTextSize(candidate, FONT, scale, 1)[0][0] <= width or not lines[-1]:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


def _draw_banner(image: np.ndarray, text: str, rgb: tuple[int, int, int], max_lines: int = 3) -> None:
    """Text on a dark band across the top of the image (wrapped, at most ``max_lines`` lines)."""
    height, width = image.shape[:2]
    scale = max(0.3, min(height, width) / 600)
    line_height = int(cv2.getTextSize("Ag", FONT, scale, 1)[0][1] * 1.9) + 2
    lines = _wrap(text.encode("ascii", "replace").decode(), scale, width - 12)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], lines[max_lines - 1] + " ..."]
    band = min(height, line_height * len(lines) + 6)
    region = image[:band]
    cv2.addWeighted(np.zeros_like(region), BANNER_ALPHA, region, 1 - BANNER_ALPHA, 0, dst=region)
    thickness = max(1, round(scale * 2))
    for index, line in enumerate(lines):
        baseline = 4 + line_height * (index + 1) - line_height // 4
        cv2.putText(image, line, (6, baseline), FONT, scale, rgb, thickness, cv2.LINE_AA)


def _headline(verdict: Verdict, frames: int) -> tuple[str, tuple[int, int, int]]:
    if verdict.success:
        return f"SUCCESS  reward {verdict.reward:.3f}", LEGAL_RGB
    where = f" at frame {verdict.broken_frame}/{frames}" if verdict.broken_frame is not None else ""
    return f"FAIL{where}  reward {verdict.reward:.3f}: {verdict.reason or 'not solved'}", BROKEN_RGB


def draw_verdict(image: np.ndarray, puzzle: Any, verdict: Verdict, frames: int | None = None) -> np.ndarray:
    """uint8 (H, W, 3): ``image`` (e.g. the first frame) with the whole trace and the verdict drawn on it.

    ``frames``: the scored video's frame count, for the banner (default: the trace's length).
    """
    out = np.array(image, dtype=np.uint8, copy=True)
    geometry = BoardGeometry(*grid_shape(puzzle), out.shape[0], out.shape[1])
    if verdict.trace:
        _draw_trace(out, geometry, verdict.trace, verdict.broken_frame, len(verdict.trace) - 1)
    _draw_banner(out, *_headline(verdict, frames if frames is not None else len(verdict.trace)))
    return out


def verdict_video(video: np.ndarray, puzzle: Any, verdict: Verdict, banner: bool = True) -> np.ndarray:
    """uint8 (T, H, W, 3): each frame of ``video`` with the trace so far and (``banner``) the verdict drawn
    on it."""
    geometry = BoardGeometry(*grid_shape(puzzle), video.shape[1], video.shape[2])
    headline, rgb = _headline(verdict, len(video))
    out = np.array(video, dtype=np.uint8, copy=True)
    for t, frame in enumerate(out):
        if verdict.trace:
            _draw_trace(frame, geometry, verdict.trace, verdict.broken_frame, min(t, len(verdict.trace) - 1))
        if banner:
            _draw_banner(frame, f"frame {t + 1}/{len(video)}  {headline}", rgb)
    return out


def scored_overlay(task: str, puzzle: Any, video: Any) -> tuple[np.ndarray, Verdict]:
    """Verify ``video`` against ``puzzle`` of ``task`` and draw the verdict on every frame.

    For logging sample videos during training (TensorBoard, mp4): returns (uint8 (T, H, W, 3), verdict).
    ``video``: anything :func:`videorlvr.envs.video.as_video` accepts.
    """
    from videorlvr.envs import get_task
    from videorlvr.envs.video import as_video

    frames = as_video(video)
    verdict = get_task(task).verify(puzzle, frames)
    return verdict_video(frames, puzzle, verdict), verdict


__all__ = ["draw_verdict", "grid_shape", "scored_overlay", "verdict_video"]
