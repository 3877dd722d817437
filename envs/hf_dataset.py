"""An exported dataset as a Hugging Face ``datasets`` layout: Parquet shards plus a dataset card.

``write_hf_dataset(data_root)`` reads the metadata CSVs that :func:`videorlvr.envs.export.export_dataset`
wrote and writes, under ``data_root / "hf"``::

    README.md                          the dataset card: fields, sizes, seeds, difficulty presets, license
    data/train-00000-of-00001.parquet  one row per puzzle (and test-...)

so ``datasets.load_dataset(str(data_root / "hf"))`` gives ``train`` and ``test`` splits whose ``image``
column is the first frame. Needs the optional extra ``pip install "videorlvr[hf]"``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from videorlvr.envs.answers import question, solution_answer
from videorlvr.envs.export import SPLITS, metadata_name, read_metadata
from videorlvr.envs.files import TEMP_MARK, atomic_write_bytes

HF_FOLDER = "hf"
LICENSE = "apache-2.0"
FIELDS = {
    "image": "the first video frame (PNG), what a video or vision-language model is shown",
    "prompt": "the task in words, as a video model is prompted",
    "question": "the task for a text model: the board drawn in characters and the answer format",
    "answer": "the oracle's answer in the task's text format (udlr moves; FlowFree: cells per colour)",
    "task": "maze, flowfree or sokoban",
    "difficulty": "easy, medium or hard",
    "seed": "the generator seed: generate(seed, difficulty) re-creates the puzzle",
    "puzzle": "JSON of the puzzle dict; re-score any answer with get_task(task).score_answer(answer, puzzle)",
    "video": "path of the oracle solution mp4, relative to the dataset folder",
    "height": "frame height in pixels",
    "width": "frame width in pixels",
    "num_frames": "frames in the oracle video",
}


def _require_datasets() -> Any:
    try:
        import datasets
    except ImportError as error:
        raise RuntimeError('the Hugging Face layout needs the optional extra: pip install "videorlvr[hf]"') from error
    return datasets


def _rows(data_root: Path, split: str, out: Path) -> list[dict[str, Any]]:
    csv_path = data_root / split / metadata_name()
    if not csv_path.is_file():
        raise FileNotFoundError(f"no {csv_path}: export the dataset first (diffrl data / python -m videorlvr.envs export)")
    rows = []
    for row in read_metadata(csv_path):
        task, puzzle = row["task_type"], json.loads(row["puzzle"])
        rows.append({
            # The PNG's bytes, so the layout does not depend on the export's first_frames/ folder.
            "image": {"bytes": (csv_path.parent / row["first_frame"]).read_bytes(), "path": Path(row["first_frame"]).name},
            "prompt": row["prompt"],
            "question": question(task, puzzle),
            "answer": solution_answer(task, puzzle),
            "task": task,
            "difficulty": row["difficulty"],
            "seed": int(row["seed"]),
            "puzzle": json.dumps(puzzle, sort_keys=True),
            "video": os.path.relpath(csv_path.parent / row["video"], out),
            "height": int(row["height"]),
            "width": int(row["width"]),
            "num_frames": int(row["num_frames"]),
        })
    return rows


CARD_HEADER = """---
license: {license}
task_categories:
- image-to-video
- visual-question-answering
tags:
- reasoning
- verifiable-rewards
- procedurally-generated
---

# VideoRLVR puzzles

Procedurally generated maze, FlowFree and Sokoban puzzles with oracle solutions, exported by VideoRLVR.
Every row is fully determined by `task`, `difficulty` and `seed`; answers are scored from the stored
`puzzle` with `videorlvr.envs.get_task(task).score_answer(answer, puzzle)` (text) or
`.verify(puzzle, video)` (video).

## Fields

"""
CARD_FOOTER = """
Test seeds come from a range disjoint from the training seeds, and test puzzles are deduplicated by
content. Difficulty presets: maze easy 5x5 / medium 7x7 / hard 9x9 grids with growing oracle path
lengths; FlowFree easy 5x5 with 4 colours / medium 7x7 with 6 / hard 9x9 with 8; Sokoban easy 6x6 with
1 box / medium 8x8 with 2 / hard 10x10 with 3.
"""


def dataset_card(splits: dict[str, list[dict[str, Any]]]) -> str:
    """The card: YAML header for the Hub, what each field means, and what each split holds."""
    lines = [f"- `{name}`: {meaning}" for name, meaning in FIELDS.items()]
    lines += ["", "## Splits", "", "| split | rows | tasks | difficulties | seeds | frame size | frames |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for split, rows in splits.items():
        tasks = ", ".join(f"{task} {n}" for task, n in sorted(Counter(r["task"] for r in rows).items()))
        levels = ", ".join(sorted({r["difficulty"] for r in rows}))
        seeds = f"{min(r['seed'] for r in rows)}-{max(r['seed'] for r in rows)}" if rows else "-"
        sizes = ", ".join(sorted({f"{r['height']}x{r['width']}" for r in rows}))
        frames = ", ".join(sorted({str(r["num_frames"]) for r in rows}))
        lines.append(f"| {split} | {len(rows)} | {tasks} | {levels} | {seeds} | {sizes} | {frames} |")
    return CARD_HEADER.format(license=LICENSE) + "\n".join(lines) + "\n" + CARD_FOOTER


def write_hf_dataset(data_root: str | os.PathLike) -> Path:
    """Write the Hugging Face layout of an exported dataset under ``data_root/hf``; returns that folder."""
    datasets = _require_datasets()
    data_root = Path(data_root)
    out = data_root / HF_FOLDER
    splits = {split: _rows(data_root, split, out) for split in SPLITS if (data_root / split).is_dir()}
    if not splits:
        raise FileNotFoundError(f"{data_root} has neither train/ nor test/: export the dataset first")
    features = datasets.Features({name: datasets.Value("string") for name in FIELDS} | {
        "image": datasets.Image(), "seed": datasets.Value("int64"), "height": datasets.Value("int32"),
        "width": datasets.Value("int32"), "num_frames": datasets.Value("int32")})
    for split, rows in splits.items():
        columns = {name: [row[name] for row in rows] for name in FIELDS}
        table = datasets.Dataset.from_dict(columns, features=features)
        path = out / "data" / f"{split}-00000-of-00001.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}{TEMP_MARK}")
        bars = datasets.is_progress_bar_enabled()
        datasets.disable_progress_bars()  # one shard per split: a bar per shard is only noise
        try:
            table.to_parquet(str(temp))
        finally:
            if bars:
                datasets.enable_progress_bars()
        os.replace(temp, path)
    atomic_write_bytes(out / "README.md", dataset_card(splits).encode())
    return out
