"""The Gymnasium environment VideoFlowFree-v0."""

from __future__ import annotations

from typing import Any, ClassVar

from videorlvr.envs.base import VideoReasoningEnv
from videorlvr.envs.flowfree import TASK
from videorlvr.envs.flowfree.generator import resolve_settings
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
    The oracle draws the pipes one colour after another, spreading the cells evenly over the frames
    (several per frame when frames are few), and holds the solved board for the last 10% of frames.

    ## Action Space
    ``Box(0, 255, (num_frames, height, width, 3), uint8)``: the answer video. ``step`` also accepts
    float videos in [0, 1] (as diffusers returns with ``output_type="np"``), torch tensors of either,
    a path to a video file, another resolution (resized to the env's) and any frame count T >= 2.
    Anything else raises ``ValueError``/``TypeError``; NaN/inf is rejected.

    ## Observation Space
    ``Dict(frame=Box(0, 255, (height, width, 3), uint8), prompt=Text)``: the first frame and the task
    in words (board size and the colours in play).

    ## Starting State
    ``reset(seed=s)`` draws a board from the seed (same seed, same board, on any machine): easy 5x5
    with 4 colours, medium 7x7 with 6, hard 9x9 with 8, unless ``size``/``num_colors`` are given.
    ``reset(options={"puzzle": d})`` restores a stored board from its ``info["puzzle"]`` dict.

    ## Rewards
    The verifier locates the board in every frame, reads a small patch at every cell centre and
    labels each cell with the nearest of the floor colour and the puzzle's own pipe colours (which
    colours, and where the dots are, come from the puzzle, not from the video). Frames with an
    ambiguous cell are skipped; a one-frame blip of a cell is voted away. The rules then judge the
    sequence of cell-colour states: the first reading shows the puzzle; every dot keeps its colour;
    a filled cell never changes colour or empties again; each colour only grows as at most two
    unbranched arms out of its own dots, never touching itself, with no loose cells; one transition
    fills at most ``max(2, ceil(4 * C / (T - 1)))`` cells per frame it spans (C: cells to fill,
    T: frames; a gap of unreadable frames earns at most 2 frames), so a jump cut fails while a fast
    solve between still holds passes. Components, each in [0, 1]:

    - ``endpoints_preserved``: share of dots that show their colour in every readable frame.
    - ``no_crossing``: 1.0 if no filled cell ever changes colour or empties, else 0.0.
    - ``process_valid``: 1.0 if every rule above holds in every reading, else 0.0.
    - ``fill_rate``: share of the non-dot cells filled in the *judged state*: the last state before
      the first broken rule (the final state of a legal video).
    - ``connectivity``: share of colours whose two dots are joined by a 4-connected run of their
      colour in the judged state.
    - ``cell_f1``: macro F1 over colours of the judged state's non-dot cells of each colour against
      the oracle solution.

    ``reward_mode="dense"``: the weighted mean (weights 0.5, 0.5, 1, 1, 2, 3 in that order), exactly
    1.0 iff success and at most 0.99 otherwise. Progress counts only along the legal prefix, so a
    video that breaks a rule never scores above one that stops honestly where the rule broke, and
    an honest partial solution scores above a video that does nothing (0.25). ``reward_mode="success"``:
    ``float(success)``. Success: every rule holds, the last readable frame lies in the final 10% of the
    video and shows a full board on which every colour joins its dots (with the rules above, that is
    the puzzle's unique solution). ``Verdict.predicted_cells`` / ``oracle_cells`` (from the task's
    ``verify``) are ``(row * size + col, colour)`` pairs of the non-dot cells, for micro P/R/F1.

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
    (running out rejects the board); an impossible request raises ``ValueError``.
    ``render_mode="rgb_array"`` renders the first frame.

    ## Version History
    - v0: initial version.
    """

    task: ClassVar[TaskSpec] = TASK

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        unknown = set(self.puzzle_kwargs) - {"size", "num_colors", "max_attempts", "node_budget"}
        if unknown:
            raise TypeError(f"unknown VideoFlowFree-v0 arguments: {sorted(unknown)}")
        resolve_settings(self.difficulty, self.puzzle_kwargs.get("size"), self.puzzle_kwargs.get("num_colors"))
