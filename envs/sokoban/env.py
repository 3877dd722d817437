"""The Gymnasium class of VideoSokoban-v0."""

from __future__ import annotations

from typing import ClassVar

from videorlvr.envs.base import VideoReasoningEnv
from videorlvr.envs.sokoban import TASK
from videorlvr.envs.types import TaskSpec


class VideoSokobanEnv(VideoReasoningEnv):
    """Push every box onto a target, answered with one whole video.

    ## Description
    A seeded Sokoban room seen from above inside a white frame: brown walls, a light grey floor, red
    target squares, amber boxes (green when on a target) and the player, a blue disc. The player walks
    one cell at a time and pushes a box by walking into it; a box moves only when pushed from behind
    into a free cell. Every level is solved by the package's own solver (A* over box sets and player
    cells with dead-square and freeze-deadlock pruning), whose solution has the fewest pushes and,
    among those, the fewest moves; it is the oracle answer. The episode is one step: the agent (a
    video model) receives the first frame and a prompt, and answers with the whole video of the player
    solving the level, at most one move per frame.

    ## Action Space
    ``Box(0, 255, (num_frames, height, width, 3), uint8)``: the answer video. ``step`` also accepts
    float ``(T, H, W, 3)`` in [0, 1] (diffusers' ``output_type="np"``), a torch tensor of either, or a
    path to a video file; other resolutions are resized. Any T >= 2 is scored, but a video shorter than
    the puzzle's minimum (``TASK.min_frames(puzzle)``: its oracle's moves plus the end window) never
    succeeds. NaN/inf or wrong shapes raise ``ValueError``/``TypeError``.

    ## Observation Space
    ``Dict(frame=Box(0, 255, (height, width, 3), uint8), prompt=Text)``: the start position and the
    task in words.

    ## Starting State
    ``reset(seed=s)`` generates the level from ``s`` (same seed, same level, on any machine);
    ``reset(options={"puzzle": d})`` restores a stored level from its ``info["puzzle"]`` dict.

    ## Rewards
    The verifier locates the board in every frame, averages every pixel of it into a few blocks per
    cell, and reads each cell as whichever of the renderer's drawings of it (empty, with a box, with
    the player) matches best. A frame is readable only if that reading explains every cell (walls and
    targets included) and shows one player and every box. The *legal prefix* runs from frame 0 (which
    must show the start) up to the first unreadable frame, impossible position (a player or box in a
    wall, boxes merged) or transition that is not zero or one legal move (a one-cell step into a free
    cell, or a push of one box from behind into a free cell). Components, each in [0, 1], score the
    state the legal prefix ends in against an optimal solution (fewest pushes, then fewest moves):

    - ``moves``: 1 - optimal moves still needed / optimal moves needed at the start.
    - ``pushes``: 1 - pushes still needed / pushes needed at the start.

    Both are 0 for a deadlocked (or unpriceable) state and for the start itself, and along the oracle
    they rise with every move (``moves``) and every push (``pushes``), never falling.
    ``reward_mode="dense"``: the weighted mean (weights 0.6, 0.4 in that order), exactly 1.0 on success
    and at most 0.99 otherwise. Since only the legal prefix counts, a video that breaks a rule scores
    exactly what it scores when stopped where it broke the rule, and a video that never moves scores 0.
    ``reward_mode="success"``: ``float(success)``.

    ## Episode End
    Every episode is one step: ``terminated=True``, ``truncated=False``. Success needs every frame in
    the legal prefix, at least the puzzle's minimum number of frames, and the solved state in each of
    the last max(2, ceil(0.1 T)) frames. ``info`` holds ``task`` ("sokoban"), ``puzzle`` (the level
    dict: seed, difficulty, rows, cols, num_boxes, level rows in XSB notation, solution in ``udlr`` with
    pushes uppercase), and after ``step`` also ``success``, ``components``, ``reason`` (the first
    broken rule, naming its frame; "" on success) and ``dense_reward``.

    ## Arguments
    - ``difficulty``: "easy" (6x6 room, 1 box, optimal solution 8-40 moves), "medium" (8x8, 2 boxes,
      18-60) or "hard" (10x10, 3 boxes, 30-72); sizes include the outer wall ring.
    - ``height``, ``width``, ``num_frames``: the video shape (default 480 x 832, 81 frames). The room
      must fit with cells of at least 4 px, and ``num_frames`` must leave room for the longest allowed
      solution at one move per frame plus the end window (72 moves need 80 frames), else the
      constructor raises ``ValueError`` saying what is allowed.
    - ``reward_mode``: "dense" or "success". ``render_mode``: None or "rgb_array" (the first frame).
    - Level overrides passed to ``envs.sokoban.generate``: ``size`` (int or (rows, cols)),
      ``num_boxes``, ``min_moves``, ``max_moves``, ``max_attempts`` (rooms tried), ``node_budget``
      (solver expansions), ``reverse_budget`` (reverse-play states explored).

    ## Version History
    - v0: first release; verifier hardened (every frame explained, one move per frame, minimum frame
      count, dense reward from the legal prefix's distance to solved).
    """

    task: ClassVar[TaskSpec] = TASK
