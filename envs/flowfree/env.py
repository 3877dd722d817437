"""The Gymnasium environment VideoFlowFree-v0."""

from __future__ import annotations

from typing import ClassVar

from videorlvr.envs.base import VideoReasoningEnv
from videorlvr.envs.flowfree import TASK
from videorlvr.envs.types import TaskSpec


class VideoFlowFreeEnv(VideoReasoningEnv):
    """Join every pair of same-coloured dots with a pipe and fill the board — answered by a whole video.

    ## Description
    A FlowFree (Numberlink) board seen from above, inside a white frame on a black letterbox: a dark
    grid holding pairs of coloured dots. The answer is a video that starts from the given first frame
    and shows pipes growing out of the dots through the cell centres, cell by cell, until every pair
    is joined by a pipe of its colour and every cell is filled; pipes never cross or branch and the
    dots never move. Every board has exactly one solution: it is generated from a random cover of the
    grid by pipes that never touch themselves, and kept only if an exact solver (constraint
    propagation + depth-first search, counting to 2 within a node budget) finds no second solution.
    The oracle draws the pipes one colour after another, one cell per frame or slower (cells spread
    evenly over the frames), and holds the solved board for the last ``max(2, ceil(T / 10))`` frames.

    ## Action Space
    ``Box(0, 255, (num_frames, height, width, 3), uint8)``: the answer video. ``step`` also accepts
    float videos in [0, 1] (as diffusers returns with ``output_type="np"``), torch tensors of either,
    a path to a video file, another resolution (resized to the env's) and any frame count; a video
    shorter than the puzzle's ``min_frames`` (below) cannot succeed. Anything else raises
    ``ValueError``/``TypeError``; NaN/inf is rejected.

    ## Observation Space
    ``Dict(frame=Box(0, 255, (height, width, 3), uint8), prompt=Text)``: the first frame and the task
    in words (board size and the colours in play).

    ## Starting State
    ``reset(seed=s)`` draws a board from the seed (same seed, same board, on any machine): easy 5x5
    with 4 colours, medium 7x7 with 6, hard 9x9 with 8, unless ``size``/``num_colors`` are given.
    ``reset(options={"puzzle": d})`` restores a stored board from its ``info["puzzle"]`` dict.

    ## Rewards
    The verifier locates the board in every frame and reads *every* pixel of it, area-averaged into
    3x3 to 6x6 blocks per cell. Each cell's colour is the nearest of the floor colour and the
    puzzle's own pipe colours (which colours, and where the dots are, come from the puzzle, not from
    the video), read at the cell's centre; the state read that way must then *explain* the frame:
    every block of every cell must look as the renderer draws that state (pipe strokes, joins to
    same-coloured neighbours, dots, floor and grid lines), drawn sharp or mildly blurred, to within a
    tolerance that absorbs compression, noise, drift, casts and flicker. A frame that is not explained is
    unreadable. The rules then judge the frames in order; the *legal prefix* ends at the first frame
    that is unreadable or breaks a rule (``Verdict.broken_frame``):

    - frame 0 shows the puzzle; every dot keeps its colour in every frame;
    - a filled cell never changes colour or empties again;
    - each colour only grows as at most two unbranched arms out of its own dots, never touching
      itself, with no loose cells;
    - from one frame to the next at most one cell is filled, so the process is visible: a board with
      C cells to fill needs ``min_frames`` = the least T with ``T - max(2, ceil(T / 10)) >= C`` frames
      (easy 5x5: 19, medium 7x7: 42, hard 9x9: 73; see ``videorlvr.envs.flowfree.min_frames``).

    Success: the whole video is legal, has at least ``min_frames`` frames, and its last
    ``max(2, ceil(T / 10))`` frames show a full board on which every colour joins its dots (with the
    rules above, the puzzle's unique solution). Components, each in [0, 1]; the first three are read
    on the *judged state*, the last state of the legal prefix:

    - ``fill_rate``: share of the non-dot cells filled.
    - ``connectivity``: share of colours whose two dots are joined by a 4-connected run of their colour.
    - ``cell_f1``: macro F1 over colours of the non-dot cells of each colour against the oracle solution.
    - ``endpoints_preserved``: ``fill_rate`` times the share of dots that show their colour in every
      readable frame.
    - ``no_crossing``: ``fill_rate`` if no readable frame changes or empties a cell filled in the
      readable frame before it, else 0.
    - ``process_valid``: ``fill_rate`` times the share of the video's frames inside the legal prefix.

    ``reward_mode="dense"``: the weighted mean (weights 0.5, 0.5, 1, 1, 2, 3 in that order), exactly
    1.0 iff success and at most 0.99 otherwise. Nothing is credited for the bare puzzle (a video that
    does nothing scores 0), no term is earned in full by one cell, the oracle cut after k cells (last
    frame held) scores more with every k, and a video that breaks a rule -- or becomes unreadable --
    scores at most what its legal prefix, held to the end, scores. ``reward_mode="success"``:
    ``float(success)``. ``Verdict.predicted_cells`` / ``oracle_cells`` (from the task's ``verify``)
    are ``(row * size + col, colour)`` pairs of the non-dot cells, for micro P/R/F1;
    ``Verdict.trace`` holds per frame the filled non-dot cells read (None where unreadable).

    ## Episode End
    One step: ``terminated=True``, ``truncated=False``. ``info`` holds ``task`` ("flowfree"),
    ``puzzle`` (JSON-serialisable dict: ``seed``, ``difficulty``, ``size`` and ``paths``, the
    oracle pipe of each colour as ``[row, col]`` cells from its first dot to its second), and after
    ``step`` also ``success`` (bool), ``components`` (the dict above), ``reason`` (the first rule
    that broke, "" on success) and ``dense_reward``.

    ## Arguments
    ``gym.make("VideoFlowFree-v0", difficulty="medium", height=480, width=832, num_frames=81,
    reward_mode="dense", render_mode=None, size=None, num_colors=None, max_attempts=300,
    node_budget=20000)``. ``size`` (4..12) and ``num_colors`` (2..16, at most size²/3) override the
    preset (another size defaults to ``size - 1`` colours up to 9x9, ``2 * size - 10`` above);
    ``max_attempts`` bounds the covers tried and ``node_budget`` the solver nodes per uniqueness check
    (running out rejects the board). Rejected with ``ValueError`` at construction: unknown arguments,
    an impossible size or colour count, cells under 9 px in the frame, and ``num_frames`` below the
    board's ``min_frames`` (at 81 frames every preset fits; sizes 10-12 with their default colours
    need 89, 108 and 129 frames). ``render_mode="rgb_array"`` renders the first frame.

    ## Version History
    - v0: initial version; verification reads every pixel, needs every frame explained and at most one
      pipe cell per frame, and credits progress only along the legal prefix.
    """

    task: ClassVar[TaskSpec] = TASK

