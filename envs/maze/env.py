"""The Gymnasium environment VideoMaze-v0."""

from __future__ import annotations

from typing import ClassVar

from videorlvr.envs.base import VideoReasoningEnv
from videorlvr.envs.maze import TASK
from videorlvr.envs.types import TaskSpec


class VideoMazeEnv(VideoReasoningEnv):
    """Walk the agent through a maze to the goal — answered by a whole video.

    ## Description
    A perfect maze (exactly one path between any two cells) on a square grid, seen from above:
    dark walls on a light floor, inside a white frame on a black letterbox. A red disc (the agent)
    stands on a blue square (the start); a green square is the goal. The answer is a video that
    starts from the given first frame and shows the red disc walking the corridors, one cell at a
    time, to the green square and resting there, while the camera, walls and goal stay put.

    ## Action Space
    ``Box(0, 255, (num_frames, height, width, 3), uint8)``: the answer video. ``step`` also accepts
    float videos in [0, 1] (as diffusers returns with ``output_type="np"``), torch tensors of either,
    a path to a video file, another resolution (resized to the env's) and any frame count T >= 2.
    Anything else raises ``ValueError``/``TypeError``; NaN/inf is rejected.

    ## Observation Space
    ``Dict(frame=Box(0, 255, (height, width, 3), uint8), prompt=Text)``: the first frame and the task
    in words.

    ## Starting State
    ``reset(seed=s)`` draws a maze from the seed: the grid size and the bucket of oracle path lengths
    (moves) come from ``difficulty`` — easy 5x5 / 4-8 moves, medium 7x7 / 10-18, hard 9x9 / 20-32 —
    unless ``size``/``path_length`` are given. ``reset(options={"puzzle": d})`` restores a stored
    puzzle from its ``info["puzzle"]`` dict.

    ## Rewards
    The video is read frame by frame (the board is located in every frame; only cell-centre,
    wall and goal-corner pixels are read). Frames with the agent between cells or unreadable are
    skipped, never guessed. The agent may cover at most ``k = max(1, ceil(1.5 * L / (T - 1)))``
    cells per frame along open passages (L: oracle moves, T: frames), so at 81 frames every step
    must be visible; an unreadable stretch earns at most 2 frames of motion. Components, each in
    [0, 1]:

    - ``start_correct``: the agent is first seen on the start, early in the video.
    - ``path_valid``: 1.0 if every move is legal (adjacent open cells, within the speed limit, no
      wall crossing, no jump); otherwise the share of the video before the first illegal move.
    - ``progress``: how much of the start-goal distance the agent closed, over the legal prefix only.
    - ``goal_reached``: the process was legal and the agent is last seen on the goal in the final
      10% of the frames.
    - ``maze_preserved``: share of checked frames whose walls, openings and goal read as drawn.

    ``reward_mode="dense"``: the weighted mean (weights 1, 2, 4, 2, 1), exactly 1.0 iff success and
    at most 0.99 otherwise; an honest partial solution scores above any video that breaks a rule to
    get further and above a video that does nothing. ``reward_mode="success"``: ``float(success)``.
    Success: started right, every move legal, ended on the goal, maze preserved in >= 90% of frames.

    ## Episode End
    One step: ``terminated=True``, ``truncated=False``. ``info`` holds ``task`` ("maze"),
    ``puzzle`` (JSON-serialisable dict), ``success`` (bool), ``components`` (the dict above),
    ``reason`` (the first rule that broke, "" on success) and ``dense_reward``.

    ## Arguments
    ``gym.make("VideoMaze-v0", difficulty="medium", height=480, width=832, num_frames=81,
    reward_mode="dense", render_mode=None, size=None, path_length=None, algorithm="dfs")``.
    ``size=(rows, cols)`` overrides the grid (2..32 per side; the path bucket scales with the cell
    count), ``path_length=(low, high)`` the bucket, ``algorithm`` is "dfs" (long corridors) or
    "kruskal" (many branches). ``render_mode="rgb_array"`` renders the first frame.

    ## Version History
    - v0: initial version.
    """

    task: ClassVar[TaskSpec] = TASK
