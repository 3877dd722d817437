"""What real video models and codecs do to a video, as functions uint8 (T, H, W, 3) -> same shape."""

import cv2
import numpy as np


def add_noise(video: np.ndarray, sigma: float = 8.0, seed: int = 0) -> np.ndarray:
    """Gaussian pixel noise of ``sigma`` grey levels."""
    noisy = video + np.random.default_rng(seed).normal(0, sigma, video.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def warp(video: np.ndarray, scale: float, dx: float, dy: float) -> np.ndarray:
    """Zoom about the frame centre by ``scale`` and shift by (dx, dy) pixels: camera drift."""
    height, width = video.shape[1:3]
    matrix = np.float32([[scale, 0, (1 - scale) * width / 2 + dx], [0, scale, (1 - scale) * height / 2 + dy]])
    return np.stack([cv2.warpAffine(frame, matrix, (width, height)) for frame in video])


def blur(video: np.ndarray, ksize: int = 5, sigma: float = 0.0) -> np.ndarray:
    """Gaussian blur of every frame."""
    size = (ksize, ksize) if ksize else (0, 0)
    return np.stack([cv2.GaussianBlur(frame, size, sigma) for frame in video])


ARTIFACTS = {
    "noise_sigma_8": lambda v: add_noise(v, 8.0),
    "noise_sigma_16": lambda v: add_noise(v, 16.0),
    "mild_blur": lambda v: blur(v, 5),
    "blur_sigma_2": lambda v: blur(v, 0, 2.0),
    "zoom_in_shift": lambda v: warp(v, 1.04, 0.02 * v.shape[2], -0.02 * v.shape[1]),
    "zoom_out_shift": lambda v: warp(v, 0.96, -0.03 * v.shape[2], 0.02 * v.shape[1]),
    "colour_cast": lambda v: np.clip(v * np.array([0.8, 1.0, 1.15]) + 20, 0, 255).astype(np.uint8),
    "darker": lambda v: (v * 0.6).astype(np.uint8),
    "flicker": lambda v: np.clip(v * np.linspace(0.75, 1.1, len(v))[:, None, None, None], 0, 255).astype(np.uint8),
}
