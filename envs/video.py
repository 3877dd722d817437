"""Video input normalisation, the one resize rule, and bounded H.264 file IO (PyAV).

Every function that takes a video accepts the forms listed in :func:`as_video` and
raises ``ValueError``/``TypeError`` naming the problem for anything else.

**One resize rule** (:func:`fit_frame`): a video of another size is scaled to fit the target while
keeping its aspect ratio, centred, and padded with the renderer's black letterbox. The environments and
the scorer both use it, so a correct answer at another resolution or aspect ratio (a model that works at
720x1280 scored on 480x832 puzzles) scores the same through ``env.step`` and through ``score``.

**Bounded decoding** (:func:`read_video`): frames are decoded one at a time and each is fitted to the
target size as it arrives, so scoring a file needs memory for the fitted video plus the decoder's few
reference frames, never the whole file at its own resolution; frame count and frame size are capped (:data:`MAX_FRAMES`,
:data:`MAX_FRAME_PIXELS`) with an error naming the limit.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from videorlvr.envs.board import BACKGROUND_RGB as LETTERBOX_RGB  # bars the colour of the renderers' margin
from videorlvr.envs.files import atomic_path

DEFAULT_FPS = 16
DEFAULT_CRF = 23
LOSSLESS_BELOW = 240  # px: shorter frame sides below this are written lossless (see write_video)
MIN_FRAMES = 2
MIN_SIDE = 8
MAX_FRAMES = 1024  # 1.2 GB of uint8 at 480x832: far beyond any video model's clip
MAX_FRAME_PIXELS = 4096 * 4096  # one decoded frame: 50 MB of RGB (4K UHD is 8.3 Mpx)
MAX_DECODED_BYTES = 2**30  # a whole video decoded without a target size
DECODE_THREADS = 4  # frame threads each hold decoded frames: a fixed count, not one per core

VideoLike = Any  # np.ndarray | torch.Tensor | str | os.PathLike


def as_video(video: VideoLike, height: int | None = None, width: int | None = None) -> np.ndarray:
    """Normalise ``video`` to a C-contiguous uint8 array ``(T, H, W, 3)``.

    Accepts uint8 ``(T, H, W, 3)``; float ``(T, H, W, 3)`` in [0, 1] (diffusers' ``output_type="np"``);
    a torch tensor of either; or a path to a video file. If ``height``/``width`` are given and differ
    from the video's, every frame is fitted to them by :func:`fit_frame`. NaN/inf and out-of-range floats
    are rejected.
    """
    if isinstance(video, (str, os.PathLike)):
        array = read_video(video, height, width)
    else:
        array = to_numpy(video)
        check_video_array(array)
        array = _to_uint8(array)
    if height is not None and width is not None and array.shape[1:3] != (height, width):
        array = resize_video(array, height, width)
    return np.ascontiguousarray(array)


def to_numpy(video: Any) -> np.ndarray:
    """A numpy view of an array or torch tensor (bf16/fp16 tensors as float32); TypeError for anything else."""
    if isinstance(video, np.ndarray):
        return video
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency, but envs must not need it
        torch = None
    if torch is not None and isinstance(video, torch.Tensor):
        tensor = video.detach().cpu()
        if tensor.dtype in (torch.bfloat16, torch.float16):
            tensor = tensor.float()
        return tensor.numpy()
    raise TypeError(
        f"video must be a numpy array, a torch tensor or a path to a video file, got {type(video).__name__}"
    )


def check_video_array(array: np.ndarray) -> None:
    """Raise ValueError/TypeError unless ``array`` is a video :func:`as_video` accepts (shape, dtype, range)."""
    _check_shape(array)
    if array.dtype == np.uint8:
        return
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"video dtype must be uint8 or float in [0, 1], got {array.dtype}")
    # min/max propagate NaN, so two reductions check finiteness and range together.
    low, high = array.min(), array.max()
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError("video contains NaN or inf values")
    if low < -1e-4 or high > 1.0 + 1e-4:
        raise ValueError(f"float video values must lie in [0, 1], got range [{low:.4g}, {high:.4g}]")


def _check_shape(array: np.ndarray) -> None:
    if array.ndim != 4:
        raise ValueError(f"video must have 4 dimensions (T, H, W, 3), got shape {tuple(array.shape)}")
    if array.shape[-1] != 3:
        raise ValueError(f"video must have 3 colour channels last (T, H, W, 3), got shape {tuple(array.shape)}")
    if array.shape[0] < MIN_FRAMES:
        raise ValueError(f"video must have at least {MIN_FRAMES} frames, got {array.shape[0]}")
    if array.shape[0] > MAX_FRAMES:
        raise ValueError(f"video has {array.shape[0]} frames, more than the limit of {MAX_FRAMES}")
    if array.shape[1] < MIN_SIDE or array.shape[2] < MIN_SIDE:
        raise ValueError(
            f"video frames must be at least {MIN_SIDE}x{MIN_SIDE} pixels, got {array.shape[1]}x{array.shape[2]}"
        )


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """uint8 copy of a checked video (floats in [0, 1] rounded to the nearest level)."""
    if array.dtype == np.uint8:
        return array
    if array.dtype != np.float32 and array.dtype != np.float64:
        array = array.astype(np.float32)
    flat = np.ascontiguousarray(array).reshape(array.shape[0] * array.shape[1], -1)
    # convertScaleAbs rounds and saturates in one fused pass.
    return cv2.convertScaleAbs(flat, alpha=255.0).reshape(array.shape)


def fit_size(height: int, width: int, target_height: int, target_width: int) -> tuple[int, int]:
    """The ``(h, w)`` a ``height x width`` frame is scaled to inside the target, aspect ratio kept."""
    scale = min(target_height / height, target_width / width)
    return (
        min(target_height, max(1, round(height * scale))),
        min(target_width, max(1, round(width * scale))),
    )


def fit_frame(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """The one resize rule: uint8 ``(H', W', 3)`` -> ``(height, width, 3)``, aspect ratio kept, black bars.

    Area averaging when shrinking, bilinear when enlarging. A frame of the same aspect ratio fills the
    target exactly (up to a one-pixel rounding bar).
    """
    if frame.shape[:2] == (height, width):
        return frame
    inner_h, inner_w = fit_size(frame.shape[0], frame.shape[1], height, width)
    shrinking = inner_h * inner_w < frame.shape[0] * frame.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    scaled = cv2.resize(np.ascontiguousarray(frame), (inner_w, inner_h), interpolation=interpolation)
    if (inner_h, inner_w) == (height, width):
        return scaled
    top, left = (height - inner_h) // 2, (width - inner_w) // 2
    return cv2.copyMakeBorder(
        scaled, top, height - inner_h - top, left, width - inner_w - left, cv2.BORDER_CONSTANT,
        value=LETTERBOX_RGB,
    )  # fmt: skip


def resize_video(video: np.ndarray, height: int, width: int) -> np.ndarray:
    """Fit every frame of a uint8 ``(T, H, W, 3)`` video to ``(height, width)`` by :func:`fit_frame`."""
    if height < MIN_SIDE or width < MIN_SIDE:
        raise ValueError(f"target size must be at least {MIN_SIDE}x{MIN_SIDE}, got {height}x{width}")
    out = np.empty((video.shape[0], height, width, 3), dtype=np.uint8)
    for t, frame in enumerate(video):
        out[t] = fit_frame(frame, height, width)
    return out


def read_video(
    path: str | os.PathLike,
    height: int | None = None,
    width: int | None = None,
    *,
    max_frames: int = MAX_FRAMES,
    max_frame_pixels: int = MAX_FRAME_PIXELS,
) -> np.ndarray:
    """Decode a video file to uint8 ``(T, H, W, 3)`` RGB, frame by frame.

    With ``height``/``width`` each frame is fitted to that size (:func:`fit_frame`) as soon as it is
    decoded, so memory is the fitted video plus the decoder's reference frames. Without them the decoded video may
    take at most :data:`MAX_DECODED_BYTES`. More than ``max_frames`` frames, or a frame of more than
    ``max_frame_pixels`` pixels, is a ValueError naming the limit.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"video file not found: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"video file is empty: {path}")
    if (height is None) != (width is None):
        raise ValueError("give both height and width, or neither")
    if height is not None and (height < MIN_SIDE or width < MIN_SIDE):
        raise ValueError(f"target size must be at least {MIN_SIDE}x{MIN_SIDE}, got {height}x{width}")
    frames: list[np.ndarray] = []
    decoded_bytes = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"file has no video stream: {path}")
            stream = container.streams.video[0]
            _check_frame_size(stream.codec_context.width, stream.codec_context.height, max_frame_pixels, path)
            stream.thread_type = "AUTO"
            stream.thread_count = DECODE_THREADS
            for frame in container.decode(stream):
                if len(frames) == max_frames:
                    raise ValueError(f"video file {path} has more than {max_frames} frames (the limit)")
                _check_frame_size(frame.width, frame.height, max_frame_pixels, path)
                rgb = frame.to_ndarray(format="rgb24")
                if height is not None:
                    rgb = fit_frame(rgb, height, width)
                decoded_bytes += rgb.nbytes
                if decoded_bytes > MAX_DECODED_BYTES:
                    raise ValueError(
                        f"decoding {path} at its own size would take more than {MAX_DECODED_BYTES >> 20} MiB; "
                        "give a target height and width"
                    )
                frames.append(rgb)
    except av.error.FFmpegError as error:
        raise ValueError(f"cannot decode video file {path}: {error}") from error
    if len(frames) < MIN_FRAMES:
        raise ValueError(f"video file {path} has {len(frames)} decodable frame(s), need at least {MIN_FRAMES}")
    return np.stack(frames)


def _check_frame_size(width: int, height: int, max_frame_pixels: int, path: Path) -> None:
    if width * height > max_frame_pixels:
        raise ValueError(
            f"video file {path} has {width}x{height} frames, more than the limit of {max_frame_pixels} pixels"
        )


def write_video(
    path: str | os.PathLike,
    video: VideoLike,
    fps: int = DEFAULT_FPS,
    crf: int = DEFAULT_CRF,
    lossless: bool | None = None,
) -> Path:
    """Write an H.264 mp4 atomically: encode to a temp file, then rename into place.

    Frames whose shorter side is at least ``LOSSLESS_BELOW`` px are written as usual (yuv420p at ``crf``).
    Smaller frames are written lossless (4:4:4 chroma, crf 0) unless ``lossless=False``: there, 4:2:0
    chroma and codec blocks span a good part of a cell, and an oracle that passes as an array would
    fail from its file. So a written video re-scores as it scored in memory.
    """
    frames = as_video(video)
    lossless = min(frames.shape[1], frames.shape[2]) < LOSSLESS_BELOW if lossless is None else lossless
    if not lossless and (frames.shape[1] % 2 or frames.shape[2] % 2):
        raise ValueError(f"H.264 yuv420p needs even frame sizes, got {frames.shape[1]}x{frames.shape[2]}")
    path = Path(path)
    options = {"crf": "0" if lossless else str(crf), "preset": "fast"}
    with atomic_path(path, suffix=".tmp.mp4") as temp, av.open(str(temp), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps, options=options)
        stream.pix_fmt = "yuv444p" if lossless else "yuv420p"
        stream.height, stream.width = frames.shape[1], frames.shape[2]
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def h264_round_trip(video: VideoLike, crf: int = DEFAULT_CRF) -> np.ndarray:
    """Encode to lossy H.264 (yuv420p at ``crf``, whatever the size) and decode again: codec damage."""
    with tempfile.TemporaryDirectory() as directory:
        return read_video(write_video(Path(directory) / "clip.mp4", video, crf=crf, lossless=False))
