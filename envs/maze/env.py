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
    a path to a video file, another resolution (fitted to the env's) and any frame count; below the
    maze's minimum (see Rewards) it cannot succeed and the verdict says so. Anything else raises
    ``ValueError``/``TypeError``; NaN/inf is rejected.

    ## Observation Space
    ``Dict(frame=Box(0, 255, (height, width, 3), uint8), prompt=Text)``: the first frame and the task
    in words.

    ## Starting State
    ``reset(seed=s)`` draws a maze from the seed: the grid size and the bucket of oracle path lengths
    (moves) come from ``difficulty`` — easy 5x5 / 4-8 moves, medium 7x7 / 10-18, hard 9x9 / 20-32 —
    unless ``size``/``path_length`` are given. ``reset(options={"puzzle": d})`` restores a stored
    puzzle from its ``info["puzzle"]`` dict.

    ## Rewards
    Every frame is read whole: the board is located in it, every pixel of the board is averaged into
    square blocks of about a quarter cell, and the frame is *readable* only if one state (the agent on
    one cell) explains every block, i.e. the board drawn in that state (walls, start, goal, the agent;
    allowing for blur up to 3 px) matches each block within 0.2 (colours normalised per frame). A
    missing, doubled, faded or half-moved agent, an erased or added wall, a hidden goal or a lost board
    make a frame unreadable.
    The oracle stands on a whole cell in every frame; a disc drawn between cells is unreadable.

    Rules: frame 0 shows the agent on the start; between consecutive frames it stays or moves to one
    adjacent open cell (never across a wall, never diagonally, never a jump); the first unreadable or
    illegal frame ends the *legal prefix*. Success: no frame ends it, and the final
    ``max(2, ceil(0.1 * T))`` frames all show the agent on the goal. So a maze whose oracle path has L
    moves needs ``min_frames`` = the fewest T with ``T - max(2, ceil(0.1 * T)) >= L`` frames (easy <= 10,
    medium <= 20, hard <= 36; at 81 frames L <= 72); shorter videos fail with that reason. Components,
    each in [0, 1], credit only the legal prefix and only what the agent did:

    - ``progress``: share of the start-goal distance closed by the cells the agent stood on in the
      legal prefix (k / L after k oracle moves).
    - ``path_valid``: ``progress`` if no frame broke a rule, else 0.
    - ``goal_reached``: 1 on success.

    ``reward_mode="dense"``: the weighted mean (weights 4, 2, 2), exactly 1.0 iff success and at most
    0.99 otherwise. The oracle cut after k moves (last frame held) scores 0.75 k / L, rising in k;
    doing nothing scores 0; a video that breaks a rule scores below the same video cut at the break.
    ``reward_mode="success"``: ``float(success)``.

    ## Episode End
    One step: ``terminated=True``, ``truncated=False``. ``info`` holds ``task`` ("maze"),
    ``puzzle`` (JSON-serialisable dict), ``success`` (bool), ``components`` (the dict above),
    ``reason`` (the first rule that broke, "" on success) and ``dense_reward``.

    ## Arguments
    ``gym.make("VideoMaze-v0", difficulty="medium", height=480, width=832, num_frames=81,
    reward_mode="dense", render_mode=None, size=None, path_length=None, algorithm="dfs")``.
    ``size=(rows, cols)`` overrides the grid (2..32 per side; the path bucket scales with the cell
    count), ``path_length=(low, high)`` the bucket, ``algorithm`` is "dfs" (long corridors) or
    "kruskal" (many branches). Construction raises ``ValueError`` for unknown kwargs, malformed values,
    a bucket the grid cannot hold, cells under 4 px, and ``num_frames`` below the ``min_frames`` of the
    bucket's longest path. ``render_mode="rgb_array"`` renders the first frame.

    ## Version History
    - v0: initial version.
    """

    task: ClassVar[TaskSpec] = TASK
