"""Pictures of a verdict: the trace drawn over the board, the broken frame in red, the reason as text."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from videorlvr.envs import get_task
from videorlvr.envs.board import BoardGeometry
from videorlvr.envs.cli import main
from videorlvr.envs.overlay import (
    BROKEN_RGB,
    LEGAL_RGB,
    draw_verdict,
    grid_shape,
    scored_overlay,
    verdict_video,
)
from videorlvr.envs.recording import RecordVerdictVideo
from videorlvr.envs.types import Verdict
from videorlvr.envs.video import read_video, write_video

H, W, T = 240, 416, 81


@pytest.fixture(scope="module")
def maze():
    return get_task("maze").generate(0, "easy")


def _verdict(success: bool, trace=(), broken_frame=None, reason="") -> Verdict:
    return Verdict(success=success, reward=1.0 if success else 0.2, components={}, reason=reason,
                   trace=tuple(trace), broken_frame=broken_frame)  # fmt: skip


def _near(image: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 40) -> np.ndarray:
    return (np.abs(image.astype(int) - rgb).max(axis=-1) <= tolerance)


def _cell_centre(maze, cell) -> tuple[int, int]:
    geometry = BoardGeometry(*grid_shape(maze), H, W)
    y0, x0 = geometry.origin
    return int(y0 + (cell[0] + 0.5) * geometry.cell), int(x0 + (cell[1] + 0.5) * geometry.cell)


def test_success_and_failure_pictures_differ_even_without_a_trace(maze):
    frame = get_task("maze").render_first_frame(maze, H, W)
    solved = draw_verdict(frame, maze, _verdict(True))
    failed = draw_verdict(frame, maze, _verdict(False, reason="agent jumped over a wall"))
    assert solved.shape == failed.shape == (H, W, 3) and not np.array_equal(solved, failed)
    assert _near(solved[:40], LEGAL_RGB).any() and _near(failed[:40], BROKEN_RGB).any()
    assert np.array_equal(frame, get_task("maze").render_first_frame(maze, H, W))  # not drawn in place


def test_the_legal_path_is_green_and_the_illegal_step_red(maze):
    frame = get_task("maze").render_first_frame(maze, H, W)
    path = [tuple(cell) for cell in maze.solution[:3]]
    far = (maze.rows - 1, maze.cols - 1) if path[-1] != (maze.rows - 1, maze.cols - 1) else (0, 0)
    trace = [(path[0],), (path[1],), None, (path[2],), (far,)]
    picture = draw_verdict(frame, maze, _verdict(False, trace, broken_frame=4, reason="jump"), frames=5)
    y, x = _cell_centre(maze, path[1])
    assert _near(picture[y - 2 : y + 3, x - 2 : x + 3], LEGAL_RGB).any()
    y, x = _cell_centre(maze, far)
    assert _near(picture[y - 3 : y + 4, x - 3 : x + 4], BROKEN_RGB, 90).any()


def test_an_unreadable_broken_frame_crosses_out_the_board(maze):
    frame = get_task("maze").render_first_frame(maze, H, W)
    picture = draw_verdict(frame, maze, _verdict(False, [(tuple(maze.start),), None], broken_frame=1))
    geometry = BoardGeometry(*grid_shape(maze), H, W)
    left, _, top, _ = (int(v) for v in geometry.outer)
    assert _near(picture[top - 2 : top + 3, left - 2 : left + 3], BROKEN_RGB, 60).any()


def test_flowfree_traces_fill_the_cells_read():
    puzzle = get_task("flowfree").generate(0, "easy")
    frame = get_task("flowfree").render_first_frame(puzzle, H, W)
    cells = tuple((0, c) for c in range(puzzle.size))
    picture = draw_verdict(frame, puzzle, _verdict(True, [cells[:1], cells]))
    assert not np.array_equal(picture[60:], draw_verdict(frame, puzzle, _verdict(True))[60:])


def test_verdict_video_draws_the_trace_so_far_on_every_frame(maze):
    video = get_task("maze").render_solution(maze, H, W, T)
    trace = [(tuple(maze.start),)] * T
    overlay = verdict_video(video, maze, _verdict(False, trace, broken_frame=T - 1, reason="late"))
    assert overlay.shape == video.shape and overlay.dtype == np.uint8
    assert not np.array_equal(overlay[0], video[0])
    assert np.array_equal(video, get_task("maze").render_solution(maze, H, W, T))  # input untouched


def test_scored_overlay_verifies_and_draws_for_training_logs(maze):
    video = get_task("maze").render_solution(maze, H, W, T)
    overlay, verdict = scored_overlay("maze", maze, video.astype(np.float32) / 255.0)
    assert verdict.success and overlay.shape == video.shape
    assert _near(overlay[-1, :40], LEGAL_RGB).any()


def test_record_verdict_video_writes_each_answer_with_its_verdict(tmp_path):
    env = RecordVerdictVideo(
        gym.make("VideoMaze-v0", difficulty="easy", height=H, width=W, num_frames=T, render_mode="rgb_array_list"),
        tmp_path, episode_trigger=lambda episode: episode != 1,
    )  # fmt: skip
    for seed in range(3):
        env.reset(seed=seed)
        env.step(env.unwrapped.solution_video())
    assert [p.name for p in env.paths] == ["verdict-episode-0.mp4", "verdict-episode-2.mp4"]
    assert read_video(env.paths[0]).shape == (T, H, W, 3)
    with pytest.raises(ValueError, match="rgb_array_list"):
        RecordVerdictVideo(gym.make("VideoMaze-v0", render_mode="rgb_array"), tmp_path)


def test_overlay_command_writes_an_mp4_and_a_png(tmp_path, capsys):
    task = get_task("maze")
    puzzle = task.generate(5, "easy")
    path = write_video(tmp_path / "answer.mp4", task.render_solution(puzzle, H, W, T)[::-1])
    code = main(["overlay", str(path), "--task", "maze", "--seed", "5", "--difficulty", "easy",
                 "--height", str(H), "--width", str(W)])  # fmt: skip
    assert code == 0 and "success=False" in capsys.readouterr().out
    assert read_video(tmp_path / "answer_overlay.mp4").shape == (T, H, W, 3)
    assert (tmp_path / "answer_overlay.png").is_file()
    assert main(["overlay", str(path)]) == 2  # no puzzle given
