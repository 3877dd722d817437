"""Every task's oracle video still succeeds after what real video models and codecs do to it."""

import pytest
from video_artifacts import ARTIFACTS

from videorlvr.envs import TASK_NAMES, get_task

H, W = 240, 416


@pytest.mark.parametrize("artifact", sorted(ARTIFACTS))
@pytest.mark.parametrize("difficulty, frames", [("medium", 0), ("hard", 81)])
@pytest.mark.parametrize("task_name", TASK_NAMES)
def test_oracle_video_survives_artifacts(task_name, artifact, difficulty, frames):
    """frames 0: the fewest frames this puzzle's oracle needs (one move per frame, then the end held)."""
    task = get_task(task_name)
    puzzle = task.generate(11, difficulty)
    frames = max(frames, task.min_frames(puzzle))
    verdict = task.verify(puzzle, ARTIFACTS[artifact](task.render_solution(puzzle, H, W, frames)))
    assert verdict.success, verdict.reason
