"""The action space of the video environments: one whole video, described in O(1) memory."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from gymnasium import spaces

from videorlvr.envs.video import check_video_array, read_video, to_numpy


class VideoSpace(spaces.Space[np.ndarray]):
    """A video of ``num_frames`` frames at ``height x width x 3``: what ``env.step`` takes.

    Unlike ``Box(0, 255, (T, H, W, 3), uint8)``, which stores full-size low/high arrays (97 MB each at
    81x480x832), this space stores four ints: it costs nothing to build, copy, batch or pickle.

    ``contains(x)`` is exactly what ``step`` accepts: a numpy array or torch tensor of shape
    ``(T', H', W', 3)`` with ``2 <= T' <= MAX_FRAMES`` (1024) and frames of at least 8x8 pixels, dtype uint8 or
    float with every value in [0, 1] (no NaN/inf), or a path to a video file that decodes to one.
    ``shape`` is the preferred video; other frame counts and sizes are accepted (frames are fitted to
    the env's size by :func:`videorlvr.envs.video.fit_frame`; too few frames cannot succeed).

    ``sample()`` is uniform uint8 noise of the preferred shape, drawn from this space's generator:
    a valid but meaningless answer (check_env and smoke tests), never a solution.
    """

    def __init__(self, num_frames: int, height: int, width: int, seed: int | np.random.Generator | None = None):
        for name, value in (("num_frames", num_frames), ("height", height), ("width", width)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.num_frames, self.height, self.width = int(num_frames), int(height), int(width)
        super().__init__((self.num_frames, self.height, self.width, 3), np.uint8, seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        """uint8 noise of shape ``(num_frames, height, width, 3)`` (about 0.15 s at 81x480x832)."""
        if mask is not None or probability is not None:
            raise ValueError("VideoSpace.sample takes no mask or probability")
        size = int(np.prod(self.shape))
        # eight noise bytes per 64-bit draw: 8x fewer generator calls than drawing uint8 directly
        words = self.np_random.integers(0, 2**64 - 1, -(-size // 8), dtype=np.uint64, endpoint=True)
        return words.view(np.uint8)[:size].reshape(self.shape)

    def contains(self, x: Any) -> bool:
        if isinstance(x, (str, os.PathLike)):
            try:
                read_video(x, self.height, self.width)
            except ValueError:
                return False
            return True
        try:
            check_video_array(to_numpy(x))
        except (TypeError, ValueError):
            return False
        return True

    def __repr__(self) -> str:
        return f"VideoSpace(num_frames={self.num_frames}, height={self.height}, width={self.width})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VideoSpace) and other.shape == self.shape

    def __hash__(self) -> int:
        return hash(("VideoSpace", self.shape))


__all__ = ["VideoSpace"]
