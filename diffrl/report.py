"""The demo's picture, ``report.png``: held-out success over training, GRPO's training reward, and held-out
puzzles with the SFT start's and GRPO's videos one above the other, the verifier's reading drawn on them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from videorlvr.envs.overlay import verdict_video
from videorlvr.envs.types import Verdict

ZOOM = 4  # 48-px frames drawn at 192 px: the board's geometry scales exactly, so the drawn trace lines up
LABEL_PX = 150
CAPTION_PX = 30
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class CurvePoint:
    """Held-out success of one checkpoint: ``progress`` is the share of its stage's steps done (0..1)."""

    progress: float
    step: int
    success_rate: float
    interval: tuple[float, float]


@dataclass(frozen=True)
class StripRow:
    """One held-out puzzle and a run's video of it, with the verdict."""

    label: str
    puzzle: Any
    video: np.ndarray  # uint8 (T, H, W, 3)
    verdict: Verdict


def _labelled(row: StripRow) -> np.ndarray:
    """The row's frames, zoomed, with the trace drawn, a label block on the left and the verdict below."""
    big = np.stack([cv2.resize(f, None, fx=ZOOM, fy=ZOOM, interpolation=cv2.INTER_NEAREST) for f in row.video])
    strip = np.concatenate(list(verdict_video(big, row.puzzle, row.verdict, banner=False)), axis=1)
    label = np.full((strip.shape[0], LABEL_PX, 3), 255, np.uint8)
    for i, text in enumerate(row.label.split("\n")):
        cv2.putText(label, text, (6, 40 + 32 * i), FONT, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    caption = np.full((CAPTION_PX, LABEL_PX + strip.shape[1], 3), 255, np.uint8)
    if row.verdict.success:
        text, colour = f"success (reward {row.verdict.reward:.2f})", (0, 140, 0)
    else:
        text, colour = f"failure at frame {row.verdict.broken_frame}: {row.verdict.reason}", (200, 0, 0)
    cv2.putText(caption, text[:150], (6, 20), FONT, 0.55, colour, 1, cv2.LINE_AA)
    return np.concatenate([np.concatenate([label, strip], axis=1), caption], axis=0)


def strip_image(rows: Sequence[StripRow], gap: int = 12) -> np.ndarray:
    """uint8 image: one labelled line of frames per row, a white gap between consecutive pairs."""
    lines = []
    for i, row in enumerate(rows):
        lines.append(_labelled(row))
        if i % 2 == 1 and i < len(rows) - 1:
            lines.append(np.full((gap, lines[-1].shape[1], 3), 255, np.uint8))
    return np.concatenate(lines, axis=0)


def write_report(
    path: Path,
    curves: Mapping[str, Sequence[CurvePoint]],
    grpo_history: Sequence[Mapping[str, float]],
    rows: Sequence[StripRow],
    title: str,
) -> Path:
    """Draw the curves, GRPO's training reward and the strip of held-out videos into ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    strip = strip_image(rows) if rows else np.full((10, 10, 3), 255, np.uint8)
    figure = plt.figure(figsize=(14, 5 + 14 * strip.shape[0] / strip.shape[1]), dpi=100, layout="constrained")
    grid = figure.add_gridspec(2, 2, height_ratios=[5, 14 * strip.shape[0] / strip.shape[1]])
    success = figure.add_subplot(grid[0, 0])
    for label, points in curves.items():
        x = [100 * p.progress for p in points]
        y = [100 * p.success_rate for p in points]
        low = [100 * p.interval[0] for p in points]
        high = [100 * p.interval[1] for p in points]
        (line,) = success.plot(x, y, marker="o", label=f"{label} (to step {points[-1].step})")
        success.fill_between(x, low, high, color=line.get_color(), alpha=0.15)
    success.set(xlabel="share of the stage's steps (%)", ylabel="held-out success (%)",
                title="held-out success, final weights (95% intervals)")  # fmt: skip
    success.legend(loc="best")
    success.grid(alpha=0.3)
    reward = figure.add_subplot(grid[0, 1])
    steps = [row["step"] for row in grpo_history if "reward" in row]
    for key, label in (("reward", "mean reward"), ("success", "success rate")):
        values = np.array([row[key] for row in grpo_history if "reward" in row], dtype=float)
        if values.size:
            window = max(1, values.size // 10)
            smooth = np.convolve(values, np.ones(window) / window, mode="valid")
            reward.plot(steps[window - 1:], smooth, label=f"{label} (moving mean of {window})")
    reward.set(xlabel="GRPO step", ylabel="on the step's training puzzles", title="GRPO training reward")
    reward.legend(loc="best")
    reward.grid(alpha=0.3)
    pictures = figure.add_subplot(grid[1, :])
    pictures.imshow(strip)
    pictures.set_axis_off()
    pictures.set_title("held-out puzzles: frames 0..T-1 left to right; green = the legal prefix read by the "
                       "verifier, red = where it broke", fontsize=10)  # fmt: skip
    figure.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp.png")
    figure.savefig(temporary)
    plt.close(figure)
    temporary.replace(path)
    return path


__all__ = ["CurvePoint", "StripRow", "strip_image", "write_report"]
