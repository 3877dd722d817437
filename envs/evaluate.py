"""Score a folder of model videos against a metadata CSV: success rate, path-cell P/R/F1, reward terms.

Each CSV row (the layout :mod:`videorlvr.envs.export` writes: ``video``, ``task_type``, ``puzzle`` or, for
Sokoban, ``sokoban_metadata``) names one puzzle; the model's video for it is found in ``video_dir``
by the file name of the row's ``video`` (any video extension, any sub-folder), or by an explicit
column of paths relative to ``video_dir``. Without ``video_dir`` the dataset's own videos are scored.

A video of another size is fitted to the row's size by the one rule the environments use
(:func:`videorlvr.envs.video.fit_frame`: aspect ratio kept, black letterbox), decoded frame by frame so
memory does not grow with the file's resolution. A row that cannot be scored (malformed, missing or
unreadable video, a path that leaves its root) counts as a failure with P = R = F1 = reward = 0 and its
reason in ``error``; the run goes on. Reward-component means are over the rows that were scored.

The results layout (:meth:`EvaluationReport.to_dict`, written by :func:`write_report`) is shared by every
command that scores videos: ``score``/``diffrl eval``, ``demo`` and ``diffrl sample``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path, PurePosixPath
from typing import Any

import cv2

from videorlvr.envs import TASK_NAMES, get_task
from videorlvr.envs.export import read_metadata, write_csv_atomic
from videorlvr.envs.files import atomic_write_bytes
from videorlvr.envs.progress import progress_bar
from videorlvr.envs.types import Verdict
from videorlvr.envs.video import read_video

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".mov", ".avi", ".gif")
RESULT_FILES = {"json": "eval_results.json", "rows": "eval_rows.csv", "summary": "eval_summary.csv"}
ROW_COLUMNS = ("row", "task", "seed", "video", "error", "success", "reward", "precision", "recall", "f1",
               "reason", "components")  # fmt: skip


def cell_prf(predicted: frozenset | set, oracle: frozenset | set) -> tuple[float, float, float]:
    """Precision, recall and F1 of the predicted path cells against the oracle's (all 1.0 if both empty)."""
    predicted, oracle = set(predicted), set(oracle)
    hits = len(predicted & oracle)
    precision = hits / len(predicted) if predicted else float(not oracle)
    recall = hits / len(oracle) if oracle else float(not predicted)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def resolve_inside(root: str | os.PathLike, path: str) -> Path:
    """Resolve a CSV path against ``root``; reject ``..``, empty paths and anything outside ``root``."""
    if not isinstance(path, str) or not path.strip() or "\x00" in path:
        raise ValueError(f"invalid path {path!r}")
    if ".." in PurePosixPath(path.replace("\\", "/")).parts:
        raise ValueError(f"path {path!r} contains '..' (paths must stay inside {root})")
    base = Path(root).resolve()
    resolved = (base / path).resolve()  # an absolute ``path`` replaces ``base`` here
    if not resolved.is_relative_to(base):
        raise ValueError(f"path {path!r} is outside the root {base}")
    return resolved


def output_name_for_row(row: Mapping[str, Any]) -> str:
    """The file name a model's video for this row should have so that :func:`evaluate_videos` finds it."""
    return PurePosixPath(str(row["video"]).replace("\\", "/")).name


@dataclass
class RowResult:
    """The outcome for one CSV row. ``error`` is empty when the video was scored."""

    row: int  # 0-based data row of the CSV (or of the command's list of puzzles)
    task: str
    seed: int | None = None  # the puzzle's seed, when known
    video: str = ""
    error: str = ""
    success: bool = False
    reward: float = 0.0
    precision: float = 0.0
    recall: float = 0.0
    f1: float = 0.0
    reason: str = ""  # the verifier's reason for a failing video
    components: dict[str, float] = field(default_factory=dict)


def row_from_verdict(row: int, task: str, verdict: Verdict, video: str = "", seed: int | None = None) -> RowResult:
    """The result row of a scored video (what ``demo`` and ``diffrl sample`` report)."""
    precision, recall, f1 = cell_prf(verdict.predicted_cells, verdict.oracle_cells)
    return RowResult(
        row=row, task=task, seed=seed, video=video, success=bool(verdict.success), reward=float(verdict.reward),
        precision=precision, recall=recall, f1=f1, reason=verdict.reason, components=dict(verdict.components),
    )  # fmt: skip


@dataclass
class Summary:
    """Aggregates over a set of rows; rates and P/R/F1 are means over rows (errors count as 0)."""

    rows: int
    errors: int
    success_rate: float
    precision: float
    recall: float
    f1: float
    mean_reward: float
    components: dict[str, float]  # mean of each reward component over the scored rows


def summarise(results: Sequence[RowResult]) -> Summary:
    """Per-row means of success, P/R/F1 and reward, and component means over the scored rows."""
    count = max(len(results), 1)
    sums: dict[str, list[float]] = {}
    for result in results:
        for name, value in result.components.items():
            sums.setdefault(name, []).append(value)
    return Summary(
        rows=len(results),
        errors=sum(bool(r.error) for r in results),
        success_rate=sum(r.success for r in results) / count,
        precision=sum(r.precision for r in results) / count,
        recall=sum(r.recall for r in results) / count,
        f1=sum(r.f1 for r in results) / count,
        mean_reward=sum(r.reward for r in results) / count,
        components={name: sum(values) / len(values) for name, values in sums.items()},
    )


@dataclass
class EvaluationReport:
    """Row results plus per-task and overall summaries."""

    metadata_csv: str
    video_dir: str
    rows: list[RowResult]
    per_task: dict[str, Summary]
    overall: Summary

    def to_dict(self) -> dict[str, Any]:
        return {
            "metadata_csv": self.metadata_csv, "video_dir": self.video_dir,
            "overall": asdict(self.overall), "per_task": {t: asdict(s) for t, s in self.per_task.items()},
            "rows": [asdict(r) for r in self.rows],
        }  # fmt: skip

    def format(self, max_errors: int = 5) -> str:
        """A readable table: per task and overall SR / Prec / Rec / F1 (%) and components."""
        head = f"{'task':<10}{'rows':>6}{'errors':>8}{'SR':>7}{'Prec':>7}{'Rec':>7}{'F1':>7}{'reward':>8}"
        lines = [f"videos: {self.video_dir}  metadata: {self.metadata_csv}", head, "-" * len(head)]
        for name, summary in [*self.per_task.items(), ("overall", self.overall)]:
            lines.append(
                f"{name:<10}{summary.rows:>6}{summary.errors:>8}{100 * summary.success_rate:>7.1f}"
                f"{100 * summary.precision:>7.1f}{100 * summary.recall:>7.1f}{100 * summary.f1:>7.1f}"
                f"{summary.mean_reward:>8.3f}"
            )
        for name, summary in self.per_task.items():
            if summary.components:
                terms = ", ".join(f"{key} {value:.3f}" for key, value in summary.components.items())
                lines.append(f"{name} components: {terms}")
        errors = [r for r in self.rows if r.error]
        for result in errors[:max_errors]:
            lines.append(f"row {result.row} ({result.task or '?'}): {result.error}")
        if len(errors) > max_errors:
            lines.append(f"... and {len(errors) - max_errors} more rows not scored (all are in {RESULT_FILES['rows']})")
        return "\n".join(lines)


def write_report(report: EvaluationReport, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write the report as JSON (everything), a per-row CSV and a per-task summary CSV, atomically."""
    out = Path(out_dir)
    paths = {key: out / name for key, name in RESULT_FILES.items()}
    atomic_write_bytes(paths["json"], (json.dumps(report.to_dict(), indent=2) + "\n").encode())
    rows = [asdict(r) | {"components": json.dumps(r.components, sort_keys=True)} for r in report.rows]
    write_csv_atomic(paths["rows"], rows, ROW_COLUMNS)
    names = sorted({name for s in report.per_task.values() for name in s.components})
    summary_rows = []
    for task, summary in [*report.per_task.items(), ("overall", report.overall)]:
        row = {k: v for k, v in asdict(summary).items() if k != "components"} | {"task": task}
        summary_rows.append(row | {f"component_{n}": summary.components.get(n, "") for n in names})
    columns = [
        "task",
        *(k for k in asdict(report.overall) if k != "components"),
        *(f"component_{n}" for n in names),
    ]
    write_csv_atomic(paths["summary"], summary_rows, columns)
    return paths


def _index_videos(video_dir: Path) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """Video files under ``video_dir`` (recursively) by file name and by stem."""
    by_name: dict[str, list[Path]] = {}
    by_stem: dict[str, list[Path]] = {}
    for path in sorted(video_dir.rglob("*")):
        if path.suffix.lower() in VIDEO_EXTENSIONS and not path.name.startswith(".") and path.is_file():
            by_name.setdefault(path.name, []).append(path)
            by_stem.setdefault(path.stem, []).append(path)
    return by_name, by_stem


class VideoNotMatched(ValueError):
    """No video, or more than one, in the video folder matches a row; ``kind`` is "missing" or "ambiguous"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _find_video(name: str, by_name: dict[str, list[Path]], by_stem: dict[str, list[Path]]) -> Path:
    matches = by_name.get(name) or by_stem.get(PurePosixPath(name).stem) or []
    if not matches:
        raise VideoNotMatched("missing", f"no video named {name!r} (or with its stem) in the video folder")
    if len(matches) > 1:
        listed = ", ".join(str(p) for p in matches[:3])
        raise VideoNotMatched("ambiguous", f"{len(matches)} videos match {name!r}: {listed}")
    return matches[0]


def _expected_size(row: Mapping[str, Any], height: int | None, width: int | None) -> tuple[int, int] | None:
    if height is not None and width is not None:
        return height, width
    try:
        return int(row["height"]), int(row["width"])
    except (KeyError, TypeError, ValueError):
        return None


def _prepare_row(index: int, row: Mapping[str, Any], ctx: dict[str, Any]) -> tuple[RowResult, dict | None]:
    """Check one row and find its video; returns the result so far and the scoring job (None on error)."""
    task = str(row.get("task_type") or row.get("task") or "").strip()
    seed = str(row.get("seed") or "").strip()
    result = RowResult(row=index, task=task, seed=int(seed) if seed.isdigit() else None)
    try:
        if None in row:
            raise ValueError(f"row has {len(row[None])} more field(s) than the header")
        if task not in TASK_NAMES:
            raise ValueError(f"task_type {task!r} is not one of {', '.join(TASK_NAMES)}")
        text = row.get("puzzle") or (row.get("sokoban_metadata") if task == "sokoban" else None)
        if not text:
            raise ValueError("row has no puzzle JSON (column 'puzzle' or, for sokoban, 'sokoban_metadata')")
        puzzle = json.loads(text)
        if not isinstance(puzzle, dict):
            raise TypeError(f"puzzle JSON must be an object, got {type(puzzle).__name__}")
        try:
            get_task(task).puzzle_from_dict(puzzle)
        except (KeyError, IndexError) as error:
            raise ValueError(f"puzzle JSON does not describe a {task} puzzle: {error!r}") from error
        if ctx["video_column"]:
            if ctx["video_column"] not in row or row[ctx["video_column"]] in (None, ""):
                raise ValueError(f"row has no value in column {ctx['video_column']!r}")
            path = resolve_inside(ctx["video_root"], row[ctx["video_column"]])
        else:
            reference = row.get("video")
            if not reference:
                raise ValueError("row has no 'video' value")
            # checked even when only the file name is used, so a row cannot point outside the data root
            path = resolve_inside(ctx["data_root"], reference)
            if ctx["index"] is not None:
                path = _find_video(output_name_for_row(row), *ctx["index"])
        result.video = str(path)
        job = {"task": task, "puzzle": puzzle, "path": str(path), "size": _expected_size(row, *ctx["size"])}
        return result, job
    except VideoNotMatched as error:
        result.error = f"{error.kind}: {error}"
    except (ValueError, TypeError) as error:  # JSONDecodeError is a ValueError
        result.error = f"malformed row: {error}"
    return result, None


def _score_job(job: dict[str, Any]) -> dict[str, Any]:
    """Read (fitted to the row's size) and verify one video. Returns RowResult fields (``error`` on failure)."""
    path = Path(job["path"])
    try:
        if not path.is_file():
            return {"error": f"missing: video file not found: {path}"}
        video = read_video(path, *(job["size"] or (None, None)))
    except ValueError as error:
        return {"error": f"unreadable: {error}"}
    try:
        task = get_task(job["task"])
        verdict = task.verify(task.puzzle_from_dict(job["puzzle"]), video)
    except Exception as error:  # noqa: BLE001 - one bad row (or verifier bug) must not end an evaluation
        return {"error": f"not scored: {type(error).__name__}: {error}"}
    precision, recall, f1 = cell_prf(verdict.predicted_cells, verdict.oracle_cells)
    return {
        "success": bool(verdict.success), "reward": float(verdict.reward), "reason": verdict.reason,
        "precision": precision, "recall": recall, "f1": f1, "components": dict(verdict.components),
    }  # fmt: skip


def _worker_init() -> None:
    cv2.setNumThreads(1)


def evaluate_videos(
    metadata_csv: str | os.PathLike,
    video_dir: str | os.PathLike | None = None,
    *,
    data_root: str | os.PathLike | None = None,
    video_column: str | None = None,
    height: int | None = None,
    width: int | None = None,
    num_workers: int = 0,
    progress: bool = True,
) -> EvaluationReport:
    """Score the videos for every row of ``metadata_csv``; never stops on a bad row or video.

    ``video_dir``: the model's videos, matched to rows by the file name of the row's ``video`` (see
    :func:`output_name_for_row`), or, with ``video_column``, by that column's paths relative to
    ``video_dir``. ``None`` scores the dataset's own videos (``video_column`` or ``video``, relative
    to ``data_root``). ``data_root``: the root CSV paths must stay inside (default: the CSV's folder).
    ``height``/``width``: the size videos are scored at (default: the row's ``height``/``width`` columns
    when present, else each video's own); a video of another size is fitted to it by
    :func:`videorlvr.envs.video.fit_frame`, as ``env.step`` does. ``num_workers > 0`` scores in that many
    processes. A ``video_dir`` in which no row finds its video is a ValueError (wrong folder or names).
    """
    metadata_csv = Path(metadata_csv)
    rows = read_metadata(metadata_csv)
    if (height is None) != (width is None):
        raise ValueError("give both height and width, or neither")
    data_root = Path(data_root) if data_root is not None else metadata_csv.parent
    if video_dir is not None and not Path(video_dir).is_dir():
        raise ValueError(f"video folder not found: {video_dir}")
    ctx = {
        "data_root": data_root, "video_column": video_column, "size": (height, width),
        "video_root": Path(video_dir) if video_dir is not None else data_root,
        "index": _index_videos(Path(video_dir)) if video_dir is not None and not video_column else None,
    }  # fmt: skip
    results: list[RowResult] = []
    jobs: list[tuple[RowResult, dict]] = []
    for index, row in enumerate(rows):
        result, job = _prepare_row(index, row, ctx)
        results.append(result)
        if job is not None:
            jobs.append((result, job))
    if video_dir is not None and not jobs and any(r.error.startswith("missing:") for r in results):
        example = output_name_for_row(rows[0]) if rows[0].get("video") else "<the video column's paths>"
        raise ValueError(
            f"no video in {video_dir} matches any of the {len(rows)} rows of {metadata_csv} "
            f"(the first row's video would be named {example!r})"
        )
    bar = progress_bar(total=len(jobs), desc="score", unit="video", disable=not progress)
    if num_workers > 0 and len(jobs) > 1:
        with ProcessPoolExecutor(
            num_workers, mp_context=get_context("spawn"), initializer=_worker_init
        ) as pool:
            outcomes = pool.map(
                _score_job, [job for _, job in jobs], chunksize=max(1, len(jobs) // (8 * num_workers))
            )
            for (result, _), outcome in zip(jobs, outcomes, strict=True):
                _apply(result, outcome)
                bar.update()
    else:
        for result, job in jobs:
            _apply(result, _score_job(job))
            bar.update()
    bar.close()
    video_source = str(video_dir) if video_dir is not None else f"{data_root} (dataset videos)"
    return build_report(results, str(metadata_csv), video_source)


def build_report(results: list[RowResult], metadata_csv: str = "", video_dir: str = "") -> EvaluationReport:
    """Per-task and overall summaries of ``results`` (tasks in the registry's order)."""
    present = {r.task for r in results}
    tasks = [t for t in TASK_NAMES if t in present] + sorted(present - set(TASK_NAMES))
    per_task = {task or "unknown": summarise([r for r in results if r.task == task]) for task in tasks}
    return EvaluationReport(metadata_csv, video_dir, results, per_task, summarise(results))


def _apply(result: RowResult, outcome: Mapping[str, Any]) -> None:
    for key, value in outcome.items():
        setattr(result, key, value)
