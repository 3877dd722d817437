"""envs.video: every accepted input form becomes uint8 (T, H, W, 3); every bad one raises a named error."""

import os
import stat
import subprocess
import sys

import av
import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from videorlvr.envs.export import write_csv_atomic, write_png_atomic
from videorlvr.envs.files import atomic_write_bytes
from videorlvr.envs.video import (
    as_video,
    fit_frame,
    fit_size,
    h264_round_trip,
    read_video,
    resize_video,
    write_video,
)


def _clip(frames=4, height=32, width=48, seed=0):
    """A smooth colourful clip (compresses well, so H.264 round trips stay close)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 // max(1, width - 1), yy * 255 // max(1, height - 1), (xx + yy) % 256], axis=-1)
    shifts = rng.integers(0, 40, size=(frames, 1, 1, 3))
    return np.clip(base[None] + shifts, 0, 255).astype(np.uint8)


# --- bad inputs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, message",
    [
        ((32, 48, 3), "4 dimensions"),
        ((2, 4, 32, 48, 3), "4 dimensions"),
        ((32, 48), "4 dimensions"),
        ((4, 32, 48, 1), "3 colour channels"),
        ((4, 32, 48, 4), "3 colour channels"),
        ((4, 3, 32, 48), "3 colour channels"),  # channels first
        ((1, 32, 48, 3), "at least 2 frames"),
        ((0, 32, 48, 3), "at least 2 frames"),
        ((4, 4, 48, 3), "at least 8x8"),
        ((4, 32, 7, 3), "at least 8x8"),
    ],
)
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_wrong_shapes_raise_value_error(shape, message, dtype):
    with pytest.raises(ValueError, match=message):
        as_video(np.zeros(shape, dtype=dtype))
    with pytest.raises(ValueError, match=message):
        as_video(torch.zeros(shape, dtype=torch.uint8 if dtype == np.uint8 else torch.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_nan_and_inf_are_rejected(bad, dtype):
    video = np.full((3, 16, 16, 3), 0.5, dtype=dtype)
    video[1, 5, 7, 2] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        as_video(video)
    with pytest.raises(ValueError, match="NaN or inf"):
        as_video(torch.from_numpy(video.astype(np.float32)).to(torch.bfloat16))


@pytest.mark.parametrize("low, high", [(-0.1, 0.5), (0.0, 1.1), (0.0, 255.0), (-1.0, 1.0)])
def test_floats_outside_unit_range_are_rejected(low, high):
    video = np.full((3, 16, 16, 3), 0.5, dtype=np.float32)
    video[0, 0, 0] = low
    video[2, 3, 3] = high
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        as_video(video)


@pytest.mark.parametrize(
    "dtype", [np.int8, np.int16, np.int32, np.int64, np.uint16, np.uint32, np.bool_, np.complex64]
)
def test_wrong_dtypes_raise_type_error(dtype):
    with pytest.raises(TypeError, match="dtype"):
        as_video(np.zeros((3, 16, 16, 3), dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool])
def test_wrong_torch_dtypes_raise_type_error(dtype):
    with pytest.raises(TypeError, match="dtype"):
        as_video(torch.zeros((3, 16, 16, 3), dtype=dtype))


@pytest.mark.parametrize(
    "value", [None, 3, 2.5, [[1, 2], [3, 4]], (1, 2), {"frames": 1}, b"video.mp4", object()]
)
def test_wrong_types_raise_type_error(value):
    with pytest.raises(TypeError, match="numpy array, a torch tensor or a path"):
        as_video(value)


def test_missing_file_and_directory_raise_value_error(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        as_video(tmp_path / "nothing.mp4")
    with pytest.raises(ValueError, match="not found"):
        as_video(str(tmp_path))


def test_empty_file_raises_value_error(tmp_path):
    path = tmp_path / "empty.mp4"
    path.touch()
    with pytest.raises(ValueError, match="empty"):
        as_video(path)


@pytest.mark.parametrize("content", [b"\x00\x01garbage" * 500, b"this is not a video\n" * 40])
def test_corrupt_files_raise_value_error(tmp_path, content):
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="decod|video stream"):
        read_video(path)


def test_truncated_mp4_raises_value_error(tmp_path):
    path = write_video(tmp_path / "full.mp4", _clip(frames=8))
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    with pytest.raises(ValueError):
        read_video(truncated)


def test_single_image_file_is_not_a_video(tmp_path):
    path = tmp_path / "frame.png"
    cv2.imwrite(str(path), _clip()[0])
    with pytest.raises(ValueError, match="at least 2"):
        as_video(path)


def test_audio_only_file_has_no_video_stream(tmp_path):
    path = tmp_path / "sound.wav"
    with av.open(str(path), mode="w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), dtype=np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with pytest.raises(ValueError, match="no video stream"):
        read_video(path)


def test_lossy_write_rejects_odd_frame_sizes(tmp_path):
    with pytest.raises(ValueError, match="even"):
        write_video(tmp_path / "odd.mp4", _clip(height=33), lossless=False)


def test_resize_rejects_tiny_targets():
    with pytest.raises(ValueError, match="at least 8x8"):
        resize_video(_clip(), 4, 4)


# --- accepted inputs and round trips ---------------------------------------------------------------------


def test_uint8_passes_through_unchanged():
    video = _clip()
    out = as_video(video)
    assert out.dtype == np.uint8 and np.array_equal(out, video)
    strided = as_video(video[:, ::2, ::2])
    assert strided.flags["C_CONTIGUOUS"] and np.array_equal(strided, video[:, ::2, ::2])


@settings(max_examples=30, deadline=None)
@given(arrays(np.float32, (2, 8, 9, 3), elements=st.floats(0.0, 1.0, width=32)))
def test_float_video_maps_to_nearest_uint8(video):
    expected = np.floor(video.astype(np.float64) * 255.0 + 0.5)
    assert np.abs(as_video(video).astype(np.int64) - expected).max() <= 1
    assert np.array_equal(as_video(video), as_video(video.astype(np.float64)))


def test_float_round_trip_is_exact_and_edges_tolerate_rounding_error():
    video = _clip()
    assert np.array_equal(as_video(video.astype(np.float32) / 255.0), video)
    assert np.array_equal(as_video(video.astype(np.float64) / 255.0), video)
    edges = np.zeros((2, 8, 8, 3), dtype=np.float32)
    edges[0] = -1e-5
    edges[1] = 1.0 + 1e-5
    out = as_video(edges)
    assert (out[0] == 0).all() and (out[1] == 255).all()


def test_torch_tensors_are_accepted():
    video = _clip()
    floats = torch.from_numpy(video.astype(np.float32) / 255.0)
    assert np.array_equal(as_video(torch.from_numpy(video)), video)
    assert np.array_equal(as_video(floats), video)
    assert np.array_equal(as_video(floats.requires_grad_()), video)
    assert np.abs(as_video(floats.detach().half()).astype(int) - video).max() <= 1
    assert np.abs(as_video(floats.detach().to(torch.bfloat16)).astype(int) - video).max() <= 2
    channels_first = floats.detach().permute(0, 3, 1, 2)
    assert np.array_equal(as_video(channels_first.permute(0, 2, 3, 1)), video)  # non-contiguous view


def test_resizing_to_requested_size():
    video = _clip(height=64, width=96)
    assert as_video(video, 32, 48).shape == (4, 32, 48, 3)
    assert as_video(video, 128, 192).shape == (4, 128, 192, 3)
    assert as_video(video, 64, 96) is not None and np.array_equal(as_video(video, 64, 96), video)
    # Resizing a flat colour keeps it.
    flat = np.full((2, 20, 30, 3), (10, 200, 60), dtype=np.uint8)
    assert (as_video(flat, 40, 60) == (10, 200, 60)).all()


def test_h264_file_round_trip_keeps_frames_and_colours(tmp_path):
    video = _clip(frames=6, height=64, width=96)
    path = write_video(tmp_path / "nested" / "dir" / "clip.mp4", video)
    assert path.is_file()
    assert os.listdir(path.parent) == ["clip.mp4"]  # no temp files left behind
    decoded = read_video(path)
    assert decoded.shape == video.shape and decoded.dtype == np.uint8
    assert np.abs(decoded.astype(int) - video).mean() < 4
    assert np.array_equal(as_video(str(path)), decoded)
    assert np.array_equal(as_video(path, 32, 48), resize_video(decoded, 32, 48))


def test_write_overwrites_and_accepts_float_input(tmp_path):
    path = tmp_path / "clip.mp4"
    write_video(path, _clip(frames=3))
    write_video(path, _clip(frames=5).astype(np.float32) / 255.0, fps=8)
    assert read_video(path).shape[0] == 5
    assert os.listdir(tmp_path) == ["clip.mp4"]


def test_h264_round_trip_matches_writing_and_reading():
    video = _clip(frames=5, height=48, width=64)
    trip = h264_round_trip(video)
    assert trip.shape == video.shape
    assert np.abs(trip.astype(int) - video).mean() < 4
    assert (
        np.abs(h264_round_trip(video, crf=45).astype(int) - video).mean()
        > np.abs(trip.astype(int) - video).mean()
    )


# --- one resize rule: fit, aspect ratio kept, black letterbox ------------------------------------------


def test_fit_keeps_the_aspect_ratio_and_letterboxes_in_black():
    frame = np.full((100, 100, 3), 200, np.uint8)
    fitted = fit_frame(frame, 50, 100)
    assert fitted.shape == (50, 100, 3)
    assert (fitted[:, 25:75] == 200).all()  # the square, scaled to 50x50 and centred
    assert (fitted[:, :25] == 0).all() and (fitted[:, 75:] == 0).all()
    assert fit_size(720, 1280, 480, 832) == (468, 832)


def test_same_aspect_ratio_fills_the_target_and_as_video_uses_the_rule():
    video = _clip(height=64, width=96)
    assert np.array_equal(as_video(video, 32, 48), resize_video(video, 32, 48))
    assert np.array_equal(resize_video(video, 32, 48)[0], fit_frame(video[0], 32, 48))
    tall = _clip(height=96, width=48)
    assert (as_video(tall, 48, 96)[:, :, :24] == 0).all()  # black bars left and right


# --- bounded decoding ----------------------------------------------------------------------------------


def test_decoding_fits_each_frame_to_the_target(tmp_path):
    path = write_video(tmp_path / "clip.mp4", _clip(frames=5, height=64, width=96))
    assert read_video(path, 32, 48).shape == (5, 32, 48, 3)
    assert np.array_equal(read_video(path, 32, 48), resize_video(read_video(path), 32, 48))


def test_frame_and_pixel_limits_raise_naming_the_limit(tmp_path):
    path = write_video(tmp_path / "clip.mp4", _clip(frames=6, height=64, width=96))
    with pytest.raises(ValueError, match="more than 4 frames"):
        read_video(path, max_frames=4)
    with pytest.raises(ValueError, match="64x96|96x64"):  # width x height in the message
        read_video(path, 32, 48, max_frame_pixels=1000)
    with pytest.raises(ValueError, match="both height and width"):
        read_video(path, 32)


DECODE_4K = """
import sys
from videorlvr.envs.video import read_video

def status_mb(key):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(key)) / 1024

read_video(sys.argv[2], 32, 48)  # warm the codec
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # reset the peak (VmHWM) to the current RSS
before = status_mb("VmRSS")
video = read_video(sys.argv[1], 240, 416)
print(video.shape, status_mb("VmHWM") - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads and resets /proc/self peak RSS")
def test_decoding_a_tiny_4k_file_needs_memory_for_one_frame_not_the_whole_video(tmp_path):
    path = tmp_path / "uhd.mp4"
    with av.open(str(path), mode="w") as container:  # ultrafast: the test is about decoding, not encoding
        stream = container.add_stream("libx264", rate=16, options={"preset": "ultrafast"})
        stream.pix_fmt, stream.height, stream.width = "yuv420p", 2160, 3840
        frame = av.VideoFrame.from_ndarray(np.full((2160, 3840, 3), 90, np.uint8), format="rgb24")
        for _ in range(17):
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    small = write_video(tmp_path / "small.mp4", _clip(frames=3))
    assert path.stat().st_size < 200_000
    command = [sys.executable, "-c", DECODE_4K, str(path), str(small)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    shape, growth = result.stdout.rsplit(" ", 1)
    assert shape.startswith("(17, 240, 416, 3)")
    assert float(growth) < 300  # MB: the decoder's few 4K reference frames (184 measured); was 1 GB


# --- files honour the umask ----------------------------------------------------------------------------


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_honour_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write_bytes(tmp_path / "a.json", b"{}")
        write_video(tmp_path / "b.mp4", _clip(frames=2))
        write_csv_atomic(tmp_path / "c.csv", [{"x": 1}], ["x"])
        write_png_atomic(tmp_path / "d.png", _clip(frames=2)[0])
    finally:
        os.umask(old)
    for name in ("a.json", "b.mp4", "c.csv", "d.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name
