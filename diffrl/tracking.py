"""Run tracking: TensorBoard scalars and sample videos, a metrics.jsonl log, and the end-of-run table.

TensorBoard's own ``add_video`` needs moviepy; sample videos are written here as animated GIF image
summaries with Pillow (what ``add_video`` produces) and as mp4 files next to the logs.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

SUMMARY_KEYS = (
    "reward", "success", "kl", "clipfrac", "approx_kl", "grad_norm", "time/step",
)


class Tracker:
    """Logs of one run (writes only where ``enabled``, i.e. on the main process)."""

    def __init__(self, run_dir: str | Path, enabled: bool = True, resume_step: int | None = None) -> None:
        self.run_dir, self.enabled = Path(run_dir), enabled
        self.history: list[dict[str, Any]] = []
        self.metrics_path = self.run_dir / "metrics.jsonl"
        self._writer = None
        if not enabled:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if resume_step is not None and self.metrics_path.is_file():
            kept = [json.loads(line) for line in self.metrics_path.read_text().splitlines() if line.strip()]
            self.history = [row for row in kept if row["step"] <= resume_step]
        elif self.metrics_path.is_file():
            self.metrics_path.unlink()
        temp = self.metrics_path.with_name(f".{self.metrics_path.name}.tmp")
        temp.write_text("".join(json.dumps(row) + "\n" for row in self.history))
        os.replace(temp, self.metrics_path)
        from torch.utils.tensorboard import SummaryWriter

        # a resumed run keeps the events up to its checkpoint's step and drops those logged after it
        purge_step = resume_step + 1 if resume_step is not None else None
        self._writer = SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=purge_step)

    def log(self, step: int, metrics: dict[str, float]) -> None:
        row = {"step": int(step), **{key: float(value) for key, value in metrics.items()}}
        self.history.append(row)
        if not self.enabled:
            return
        with self.metrics_path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        for key, value in metrics.items():
            if math.isfinite(float(value)):
                self._writer.add_scalar(key, float(value), step)

    def log_videos(self, step: int, tag: str, videos: np.ndarray, captions: Sequence[str], fps: int = 4) -> None:
        """videos: uint8 (B, T, H, W, 3): an mp4 per video under samples/, a GIF summary per video."""
        if not self.enabled:
            return
        from PIL import Image
        from tensorboard.compat.proto.summary_pb2 import Summary

        from videorlvr.envs.video import write_video

        folder = self.run_dir / "samples" / f"step_{step:06d}"
        for i, (video, caption) in enumerate(zip(videos, captions)):
            if video.shape[1] % 2 == 0 and video.shape[2] % 2 == 0:
                write_video(folder / f"{tag}_{i}_{caption}.mp4", video, fps=fps)
            frames = [Image.fromarray(frame) for frame in video]
            buffer = io.BytesIO()
            frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=1000 // fps, loop=0)
            image = Summary.Image(
                height=video.shape[1], width=video.shape[2], colorspace=3, encoded_image_string=buffer.getvalue()
            )
            summary = Summary(value=[Summary.Value(tag=f"{tag}/{i}_{caption}", image=image)])
            self._writer._get_file_writer().add_summary(summary, step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None


def summary_table(history: Sequence[dict[str, Any]], keys: Sequence[str] = SUMMARY_KEYS) -> str:
    """A plain-text table: first, last, min, max and mean of each logged metric over the run."""
    rows = []
    for key in keys:
        values = np.array([row[key] for row in history if key in row and math.isfinite(row[key])], dtype=float)
        if values.size:
            rows.append((key, values[0], values[-1], values.min(), values.max(), values.mean()))
    if not rows:
        return "(no metrics logged)"
    width = max(len(row[0]) for row in rows)
    header = f"{'metric':<{width}}  {'first':>10} {'last':>10} {'min':>10} {'max':>10} {'mean':>10}"
    lines = [header, "-" * len(header)]
    lines += [f"{name:<{width}}  " + " ".join(f"{v:>10.4g}" for v in values) for name, *values in rows]
    return "\n".join(lines)


__all__ = ["Tracker", "summary_table"]
