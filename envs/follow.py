"""Action-conditioned (world-model) mode: the prompt gives moves, the video must show what they do.

A world model is asked to render the consequence of a move list, which may include blocked moves (a
bump into a wall leaves the agent in place; a push against a wall or a second box leaves player and box
in place). The video is read into per-frame board states by the task's own perception, and compared
with the states the moves imply: consecutive repeats are merged (a blocked move shows nothing), every
frame must be readable, each frame transition may show at most one move, and the final frames must hold
the end state. The judge is pixel-free, like the tasks' rules.

Components, each in [0, 1]:

- ``move_agreement``: the share of the moves shown, in order, before the first frame that disagrees
  with them (or is unreadable);
- ``first_divergence``: where that frame lies, as the share of the video before it (1.0 when no frame
  disagrees, also for a video that merely stops early), so diverging later scores higher and stopping
  scores above diverging;
- ``end_state``: every move was shown and the final frames hold the state the moves end in.

Success: every move shown, in order, one at a time, ending on the right state.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from typing import TypeVar

from videorlvr.envs.types import Verdict, make_verdict

State = TypeVar("State", bound=Hashable)
FOLLOW_WEIGHTS = {"move_agreement": 3.0, "first_divergence": 1.0, "end_state": 1.0}
END_FRAMES = 2  # the end state must be shown in at least the last two frames


def merge_repeats(states: Sequence[State]) -> list[State]:
    """The states with consecutive repeats merged: what a video of them can show."""
    return [state for state, _ in itertools.groupby(states)]


def min_follow_frames(expected: Sequence[State]) -> int:
    """Fewest frames that show every move of ``expected`` one per transition and hold the end state."""
    return len(expected) - 1 + END_FRAMES


def judge_follow(expected: Sequence[State], observed: Sequence[State | None]) -> Verdict:
    """Judge the states a video shows (``None``: an unreadable frame) against the states moves imply.

    expected: the state after each move, starting with the start state (one entry per move + 1).
    """
    if len(expected) < 1:
        raise ValueError("expected needs at least the start state")
    target = merge_repeats(expected)
    moves = max(1, len(target) - 1)
    components = dict.fromkeys(FOLLOW_WEIGHTS, 0.0)
    frames = len(observed)
    if frames < min_follow_frames(target):
        reason = f"{frames} frames cannot show {moves} moves one at a time (need {min_follow_frames(target)})"
        return make_verdict(False, components, FOLLOW_WEIGHTS, reason)
    shown: list[State] = []  # merged readable states up to the first disagreement
    broken: int | None = None  # the first frame that is unreadable or disagrees with the moves
    for t, state in enumerate(observed):
        if shown and state == shown[-1]:
            continue
        if state is None or len(shown) == len(target) or state != target[len(shown)]:
            broken = t
            break
        shown.append(state)
    matched = len(shown)
    components["move_agreement"] = max(0, matched - 1) / moves
    components["first_divergence"] = 1.0 if broken is None else broken / (frames - 1)
    end_held = broken is None and matched == len(target) and all(s == target[-1] for s in observed[-END_FRAMES:])
    components["end_state"] = float(end_held)
    if end_held:
        return make_verdict(True, components, FOLLOW_WEIGHTS, broken_frame=None)
    if broken == 0:
        reason = "the first frame does not show the start state"
    elif broken is not None:
        what = "is unreadable" if observed[broken] is None else "diverges from the moves"
        reason = f"frame {broken} {what} after move {matched - 1} of {moves}"
    elif matched < len(target):
        reason = f"the video stops after move {matched - 1} of {moves}"
    else:
        reason = "the end state is not held in the final frames"
    return make_verdict(False, components, FOLLOW_WEIGHTS, reason, broken_frame=broken)
