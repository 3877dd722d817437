"""Video input normalisation and H.264 file IO (PyAV).

Every function that takes a video accepts the forms listed in :func:`as_video` and
raises ``ValueError``/``TypeError`` naming the problem for anything else.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

DEFAULT_FPS = 16
DEFAULT_CRF = 23

VideoLike = Any  # np.ndarray | torch.Tensor | str | os.PathLike


def as_video(video: VideoLike, height: int | None = None, width: int | None = None) -> np.ndarray:
    """Normalise ``video`` to a C-contiguous uint8 array ``(T, H, W, 3)``.

    Accepts uint8 ``(T, H, W, 3)``; float ``(T, H, W, 3)`` in [0, 1] (diffusers' ``output_type="np"``);
    a torch tensor of either; or a path to a video file. If ``height``/``width`` are given and differ
    from the video's, every frame is resized to them. NaN/inf and out-of-range floats are rejected.
    """
    if isinstance(video, (str, os.PathLike)):
        array = read_video(video)
    else:
        array = _to_numpy(video)
        _check_shape(array)
        array = _to_uint8(array)
    if height is not None and width is not None and array.shape[1:3] != (height, width):
        array = resize_video(array, height, width)
    return np.ascontiguousarray(array)


def _to_numpy(video: Any) -> np.ndarray:
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


def _check_shape(array: np.ndarray) -> None:
    if array.ndim != 4:
        raise ValueError(f"video must have 4 dimensions (T, H, W, 3), got shape {tuple(array.shape)}")
    if array.shape[-1] != 3:
        raise ValueError(f"video must have 3 colour channels last (T, H, W, 3), got shape {tuple(array.shape)}")
    if array.shape[0] < 2:
        raise ValueError(f"video must have at least 2 frames, got {array.shape[0]}")
    if array.shape[1] < 8 or array.shape[2] < 8:
        raise ValueError(f"video frames must be at least 8x8 pixels, got {array.shape[1]}x{array.shape[2]}")


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"video dtype must be uint8 or float in [0, 1], got {array.dtype}")
    if array.dtype != np.float32 and array.dtype != np.float64:
        array = array.astype(np.float32)
    # min/max propagate NaN, so two reductions check finiteness and range together.
    low, high = array.min(), array.max()
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError("video contains NaN or inf values")
    if low < -1e-4 or high > 1.0 + 1e-4:
        raise ValueError(f"float video values must lie in [0, 1], got range [{low:.4g}, {high:.4g}]")
    flat = np.ascontiguousarray(array).reshape(array.shape[0] * array.shape[1], -1)
    # convertScaleAbs rounds and saturates in one fused pass.
    return cv2.convertScaleAbs(flat, alpha=255.0).reshape(array.shape)


def resize_video(video: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize every frame of a uint8 ``(T, H, W, 3)`` video to ``(height, width)``."""
    if height < 8 or width < 8:
        raise ValueError(f"target size must be at least 8x8, got {height}x{width}")
    shrinking = height * width < video.shape[1] * video.shape[2]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    out = np.empty((video.shape[0], height, width, 3), dtype=np.uint8)
    for t, frame in enumerate(video):
        out[t] = cv2.resize(frame, (width, height), interpolation=interpolation)
    return out


def read_video(path: str | os.PathLike) -> np.ndarray:
    """Decode every frame of a video file to uint8 ``(T, H, W, 3)`` RGB."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"video file not found: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"video file is empty: {path}")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"file has no video stream: {path}")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    except av.error.FFmpegError as error:
        raise ValueError(f"cannot decode video file {path}: {error}") from error
    if len(frames) < 2:
        raise ValueError(f"video file {path} has {len(frames)} decodable frame(s), need at least 2")
    return np.stack(frames)


def write_video(
    path: str | os.PathLike, video: VideoLike, fps: int = DEFAULT_FPS, crf: int = DEFAULT_CRF
) -> Path:
    """Write an H.264 (yuv420p) mp4 atomically: encode to a temp file, then rename into place."""
    frames = as_video(video)
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(f"H.264 yuv420p needs even frame sizes, got {frames.shape[1]}x{frames.shape[2]}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp.mp4", dir=path.parent)
    os.close(handle)
    try:
        with av.open(temp_name, mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=fps, options={"crf": str(crf), "preset": "fast"})
            stream.pix_fmt = "yuv420p"
            stream.height, stream.width = frames.shape[1], frames.shape[2]
            for frame in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            container.mux(stream.encode(None))
        os.replace(temp_name, path)
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
    return path


def h264_round_trip(video: VideoLike, crf: int = DEFAULT_CRF) -> np.ndarray:
    """Encode to H.264 and decode again (what a video file does to a video)."""
    with tempfile.TemporaryDirectory() as directory:
        return read_video(write_video(Path(directory) / "clip.mp4", video, crf=crf))
