"""The Gymnasium class of VideoSokoban-v0."""

from __future__ import annotations

from typing import Any, ClassVar

from videorlvr.envs.base import VideoReasoningEnv
from videorlvr.envs.sokoban import TASK
from videorlvr.envs.sokoban.generator import resolve_settings
from videorlvr.envs.types import TaskSpec


class VideoSokobanEnv(VideoReasoningEnv):
    """Push every box onto a target, answered with one whole video.

    ## Description
    A seeded Sokoban room seen from above inside a white frame: brown walls, a light grey floor, red
    target squares, amber boxes (green when on a target) and the player, a blue disc. The player walks
    one cell at a time and pushes a box by walking into it; a box moves only when pushed from behind
    into a free cell. Every level is confirmed solvable by the package's own push-optimal solver
    (A* over box sets and player regions with dead-square and freeze-deadlock pruning), whose solution
    is the oracle answer. The episode is one step: the agent (a video model) receives the first frame
    and a prompt, and answers with the whole video of the player solving the level.

    ## Action Space
    ``Box(0, 255, (num_frames, height, width, 3), uint8)``: the answer video. ``step`` also accepts
    float ``(T, H, W, 3)`` in [0, 1] (diffusers' ``output_type="np"``), a torch tensor of either, or a
    path to a video file; any T >= 2; other resolutions are resized. NaN/inf or wrong shapes raise
    ``ValueError``/``TypeError``.

    ## Observation Space
    ``Dict(frame=Box(0, 255, (height, width, 3), uint8), prompt=Text)``: the start position and the
    task in words.

    ## Starting State
    ``reset(seed=s)`` generates the level from ``s`` (same seed, same level, on any machine);
    ``reset(options={"puzzle": d})`` restores a stored level from its ``info["puzzle"]`` dict.

    ## Rewards
    The verifier reads the board in every frame (cell-centre colours after locating the white frame),
    keeps the readable frames (one player, all boxes, unambiguous colours), collapses them into
    distinct states and checks each transition: it must be explained by at most ``speed_limit`` legal
    moves (``SPEED_FACTOR`` x the oracle's mean moves per frame, at least 2, at most half the oracle's
    length, so a jump cut never passes). Components, each in [0, 1]:

    - ``start_correct``: the first readable frame shows the start state.
    - ``moves_valid``: share of the transitions that are legal and come before the first illegal one
      (0 if the player never moves); legal moves after a broken rule earn nothing.
    - ``boxes_on_target``: share of boxes on targets at the end of the legal prefix (the states up to
      the first illegal transition; the final state for a legal video).
    - ``progress``: 1 - pushes still needed (lower bound) / pushes needed at the start, at the end of
      the legal prefix; 0 once a box is deadlocked on a dead square.
    - ``layout_preserved``: share of readable frames whose walls and targets match the level.

    ``reward_mode="dense"``: the weighted mean (weights 0.1, 0.3, 0.25, 0.15, 0.2 in that order),
    exactly 1.0 on success and at most 0.99 otherwise. Progress counts only along the legal prefix, so a
    video that breaks a rule never scores above one that stops honestly where the rule was broken, and
    a video that never moves scores below any honest legal move. ``reward_mode="success"``:
    ``float(success)``.

    ## Episode End
    Every episode is one step: ``terminated=True``, ``truncated=False``. Success needs a correct
    start, every transition legal, the last frame readable and solved, and ``layout_preserved >= 0.9``.
    ``info`` holds ``task`` ("sokoban"), ``puzzle`` (the level dict: seed, difficulty, rows, cols,
    num_boxes, level rows in XSB notation, solution in ``udlr`` with pushes uppercase), and after
    ``step`` also ``success``, ``components``, ``reason`` (the first broken rule, "" on success) and
    ``dense_reward``.

    ## Arguments
    - ``difficulty``: "easy" (6x6 room, 1 box, solution 8-40 moves), "medium" (8x8, 2 boxes, 18-60)
      or "hard" (10x10, 3 boxes, 30-80); sizes include the outer wall ring.
    - ``height``, ``width``, ``num_frames``: the video shape (default 480 x 832, 81 frames).
    - ``reward_mode``: "dense" or "success". ``render_mode``: None or "rgb_array" (the first frame).
    - Level overrides passed to ``envs.sokoban.generate``: ``size`` (int or (rows, cols)),
      ``num_boxes``, ``min_moves``, ``max_moves``, ``max_attempts`` (rooms tried), ``node_budget``
      (solver expansions), ``reverse_budget`` (reverse-play states explored).

    ## Version History
    - v0: first release.
    """

    task: ClassVar[TaskSpec] = TASK

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        resolve_settings(self.difficulty, **self.puzzle_kwargs)  # fail at construction, not at reset
