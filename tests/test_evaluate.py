"""Scoring folders of model videos: matching, P/R/F1, failures reported (never fatal), path safety, CLI."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videorlvr import envs
from videorlvr.envs.cli import main
from videorlvr.envs.evaluate import (
    RESULT_FILES,
    RowResult,
    cell_prf,
    evaluate_videos,
    output_name_for_row,
    resolve_inside,
    summarise,
    write_report,
)
from videorlvr.envs.export import METADATA_COLUMNS, export_dataset, read_metadata, write_csv_atomic
from videorlvr.envs.generate import generate_videos
from videorlvr.envs.video import read_video, write_video

T = 33  # enough for every medium maze (one move per frame)
SIZE = {"height": 240, "width": 416, "num_frames": T}
cells = st.frozensets(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=12)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A test split of 3 mazes (the dataset's own oracle videos)."""
    root = tmp_path_factory.mktemp("data")
    export_dataset(root, tasks=["maze"], train_count=0, test_count=3, progress=False, **SIZE)
    return root / "test"


def _write_csv(path: Path, rows: list[dict], columns=METADATA_COLUMNS) -> Path:
    write_csv_atomic(path, [{c: row.get(c, "") for c in columns} for row in rows], columns)
    return path


def test_cell_prf_on_a_hand_made_case():
    predicted = {(0, 0), (0, 1), (1, 1), (5, 5)}
    oracle = {(0, 0), (0, 1), (1, 1), (1, 2), (2, 2)}
    precision, recall, f1 = cell_prf(predicted, oracle)
    assert precision == pytest.approx(3 / 4) and recall == pytest.approx(3 / 5)
    assert f1 == pytest.approx(2 * 0.75 * 0.6 / (0.75 + 0.6))
    assert cell_prf(set(), oracle) == (0.0, 0.0, 0.0)
    assert cell_prf(set(), set()) == (1.0, 1.0, 1.0)
    assert cell_prf(oracle, oracle) == (1.0, 1.0, 1.0)


@settings(max_examples=60, deadline=None)
@given(cells, cells)
def test_cell_prf_is_bounded_and_symmetric(predicted, oracle):
    precision, recall, f1 = cell_prf(predicted, oracle)
    assert 0.0 <= min(precision, recall, f1) <= max(precision, recall, f1) <= 1.0
    assert cell_prf(oracle, predicted)[:2] == pytest.approx((recall, precision))
    assert (f1 == 1.0) == (predicted == oracle)


def test_summary_counts_unscored_rows_as_failures():
    rows = [
        RowResult(0, "maze", success=True, reward=1.0, precision=1, recall=1, f1=1, components={"a": 1.0}),
        RowResult(1, "maze", reward=0.5, precision=0.5, recall=0.25, f1=1 / 3, components={"a": 0.5}),
        RowResult(2, "maze", error="missing: no video"),
    ]
    summary = summarise(rows)
    assert (summary.rows, summary.errors) == (3, 1)
    assert summary.success_rate == pytest.approx(1 / 3)
    assert summary.precision == pytest.approx(0.5) and summary.recall == pytest.approx(1.25 / 3)
    assert summary.mean_reward == pytest.approx(0.5)
    assert summary.components == {"a": pytest.approx(0.75)}  # over the scored rows only


@pytest.mark.parametrize(
    "path", ["../outside.mp4", "videos/../../x.mp4", "/etc/passwd", "", "videos/\x00.mp4"]
)
def test_paths_outside_the_root_are_rejected(tmp_path, path):
    with pytest.raises(ValueError):
        resolve_inside(tmp_path, path)


def test_paths_inside_the_root_resolve(tmp_path):
    assert resolve_inside(tmp_path, "videos/a.mp4") == (tmp_path / "videos" / "a.mp4").resolve()
    assert resolve_inside(tmp_path, str(tmp_path / "a.mp4")) == (tmp_path / "a.mp4").resolve()


def test_model_videos_are_matched_by_file_name_and_scored(dataset, tmp_path):
    rows = read_metadata(dataset / "metadata_all.csv")
    model_dir = tmp_path / "model"
    (model_dir / "nested").mkdir(parents=True)
    good, wrong_extension, reversed_row = rows
    shutil.copy(dataset / good["video"], model_dir / "nested" / output_name_for_row(good))
    shutil.copy(
        dataset / wrong_extension["video"],
        model_dir / Path(output_name_for_row(wrong_extension)).with_suffix(".mkv"),
    )
    write_video(
        model_dir / output_name_for_row(reversed_row), read_video(dataset / reversed_row["video"])[::-1]
    )

    report = evaluate_videos(dataset / "metadata_all.csv", model_dir, progress=False)

    assert [r.error for r in report.rows] == ["", "", ""]
    assert [r.success for r in report.rows] == [True, True, False]
    assert report.rows[2].reason and report.rows[2].reward < 1.0
    assert report.per_task["maze"].success_rate == pytest.approx(2 / 3)
    assert report.rows[0].f1 == 1.0
    assert set(report.per_task["maze"].components) == set(report.rows[0].components)


def test_two_videos_with_the_same_name_are_reported_as_ambiguous(dataset, tmp_path):
    row = read_metadata(dataset / "metadata_all.csv")[0]
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(dataset / row["video"], tmp_path / folder / output_name_for_row(row))
    csv_path = _write_csv(dataset / "one_row.csv", [row])
    assert evaluate_videos(csv_path, tmp_path, progress=False).rows[0].error.startswith("ambiguous")


def test_bad_rows_and_videos_are_reported_and_the_run_continues(dataset, tmp_path):
    good = read_metadata(dataset / "metadata_all.csv")[0]
    root = tmp_path / "root"
    (root / "videos").mkdir(parents=True)
    shutil.copy(dataset / good["video"], root / "videos" / "good.mp4")
    (root / "videos" / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    (root / "videos" / "empty.mp4").write_bytes(b"")
    (tmp_path / "outside.mp4").write_bytes(b"")
    cases = {
        "good": good | {"video": "videos/good.mp4"},
        "missing": good | {"video": "videos/nope.mp4"},
        "unreadable": good | {"video": "videos/corrupt.mp4"},
        "empty": good | {"video": "videos/empty.mp4"},
        "escapes": good | {"video": "../outside.mp4"},
        "absolute": good | {"video": str(tmp_path / "outside.mp4")},
        "bad json": good | {"puzzle": "{not json"},
        "not an object": good | {"puzzle": "[1, 2]"},
        "unknown task": good | {"task_type": "chess"},
        "no puzzle": good | {"puzzle": ""},
        "incomplete puzzle": good | {"puzzle": '{"seed": 3}'},
    }
    csv_path = _write_csv(root / "metadata.csv", list(cases.values()))
    with csv_path.open("a") as file:
        file.write(f"videos/good.mp4,p,maze,{{}},,,1,easy,240,416,{T},EXTRA\n")  # more fields than the header

    report = evaluate_videos(csv_path, progress=False)

    errors = dict(zip([*cases, "extra fields"], [r.error for r in report.rows], strict=True))
    assert errors.pop("good") == ""
    assert errors["missing"].startswith("missing")
    assert errors["unreadable"].startswith("unreadable") and errors["empty"].startswith("unreadable")
    for name in (
        "escapes",
        "absolute",
        "bad json",
        "not an object",
        "unknown task",
        "no puzzle",
        "extra fields",
    ):
        assert errors[name].startswith("malformed row"), (name, errors[name])
    assert report.rows[0].success
    assert report.overall.rows == 12 and report.overall.errors == 11
    assert report.overall.success_rate == pytest.approx(1 / 12)
    assert "unknown" not in report.per_task or report.per_task["unknown"].errors >= 1
    assert "more rows not scored (all are in eval_rows.csv)" in report.format()


def test_a_video_of_another_size_is_fitted_like_the_env_does(dataset, tmp_path):
    row = read_metadata(dataset / "metadata_all.csv")[0]
    task = envs.get_task("maze")
    puzzle = task.puzzle_from_dict(json.loads(row["puzzle"]))
    write_video(tmp_path / output_name_for_row(row), task.render_solution(puzzle, 288, 512, T))
    csv_path = _write_csv(tmp_path / "one.csv", [row])
    assert evaluate_videos(csv_path, tmp_path, progress=False).rows[0].success


def test_a_folder_where_no_row_finds_its_video_is_an_error(dataset, tmp_path, capsys):
    (tmp_path / "unrelated.mp4").write_bytes(b"")
    with pytest.raises(ValueError, match="no video in .* matches any of the 3 rows"):
        evaluate_videos(dataset / "metadata_all.csv", tmp_path, progress=False)
    assert main(["score", str(tmp_path), "--metadata", str(dataset / "metadata_all.csv"), "--quiet"]) == 2
    assert "no video in" in capsys.readouterr().err


def test_score_exits_1_when_a_row_was_not_scored_unless_allowed(dataset, tmp_path):
    shutil.copy(dataset / read_metadata(dataset / "metadata_all.csv")[0]["video"], tmp_path)
    args = ["score", str(tmp_path), "--metadata", str(dataset / "metadata_all.csv"), "--quiet"]
    assert main(args) == 1  # two of three rows have no video
    assert main([*args, "--allow-errors"]) == 0


def test_an_explicit_video_column_is_resolved_inside_the_video_folder(dataset, tmp_path):
    rows = read_metadata(dataset / "metadata_all.csv")[:2]
    shutil.copy(dataset / rows[0]["video"], tmp_path / "answer.mp4")
    columns = (*METADATA_COLUMNS, "generated")
    csv_path = _write_csv(
        dataset / "with_column.csv",
        [rows[0] | {"generated": "answer.mp4"}, rows[1] | {"generated": "../answer.mp4"}],
        columns,
    )
    report = evaluate_videos(csv_path, tmp_path, video_column="generated", progress=False)
    assert report.rows[0].success and report.rows[0].error == ""
    assert report.rows[1].error.startswith("malformed row") and ".." in report.rows[1].error


def test_worker_processes_give_the_same_results(dataset):
    serial = evaluate_videos(dataset / "metadata_all.csv", progress=False)
    parallel = evaluate_videos(dataset / "metadata_all.csv", num_workers=2, progress=False)
    assert [(r.success, r.reward, r.f1) for r in parallel.rows] == [
        (r.success, r.reward, r.f1) for r in serial.rows
    ]


def test_report_is_written_as_json_and_csv(dataset, tmp_path):
    report = evaluate_videos(dataset / "metadata_all.csv", progress=False)
    paths = write_report(report, tmp_path / "eval")
    assert set(paths) == set(RESULT_FILES)
    data = json.loads(paths["json"].read_text())
    assert data["overall"]["success_rate"] == 1.0 and len(data["rows"]) == 3
    with paths["rows"].open() as file:
        assert len(list(csv.DictReader(file))) == 3
    with paths["summary"].open() as file:
        summary = list(csv.DictReader(file))
    assert [row["task"] for row in summary] == ["maze", "overall"]
    assert any(key.startswith("component_") for key in summary[0])


def test_score_command_prints_a_table_and_writes_results(dataset, tmp_path, capsys):
    code = main(["score", str(dataset), "--metadata", str(dataset / "metadata_all.csv"),
                 "--out", str(tmp_path / "eval"), "--quiet"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "SR" in out and "overall" in out and "100.0" in out
    assert (tmp_path / "eval" / RESULT_FILES["json"]).is_file()
    assert main(["score", "--metadata", str(tmp_path / "nope.csv"), "--quiet"]) == 2


def test_demo_scores_oracles_as_successes_and_reversed_videos_as_failures(tmp_path, capsys):
    code = main(["demo", "--out", str(tmp_path), "--seeds", "3", "--difficulty", "easy", "--height", "240",
                 "--width", "416", "--num-frames", "81", "--quiet"])  # fmt: skip
    assert code == 0
    results = json.loads((tmp_path / RESULT_FILES["json"]).read_text())
    assert set(results) == {"metadata_csv", "video_dir", "overall", "per_task", "rows"}  # the shared layout
    assert {r["task"] for r in results["rows"]} == set(envs.TASK_NAMES) == set(results["per_task"])
    for record in results["rows"]:
        assert record["seed"] == 3 and record["error"] == ""
        assert record["success"] == record["video"].endswith("_oracle.mp4"), record
        assert Path(record["video"]).is_file()
        assert Path(record["video"].replace(".mp4", "_overlay.mp4")).is_file()
    assert results["overall"]["success_rate"] == 0.5
    assert "reversed" in capsys.readouterr().out


def test_demo_and_diffrl_demo_default_to_different_folders():
    from diffrl.cli import build_parser
    from videorlvr.envs.cli import build_parser as envs_parser

    envs_out = envs_parser().parse_args(["demo"]).out
    diffrl_out = build_parser("demo").parse_args(["demo"]).out
    assert envs_out != diffrl_out


def test_generated_answers_are_named_for_matching_and_generation_resumes(dataset, tmp_path):
    rows = read_metadata(dataset / "metadata_all.csv")
    maze = envs.get_task("maze")
    puzzles = iter([maze.puzzle_from_dict(json.loads(row["puzzle"])) for row in rows])
    calls = []

    def oracle_model(first_frames, prompts, row_indices):  # knows the answers, in row order
        calls.append(row_indices)
        assert first_frames.shape[1:] == (240, 416, 3) and len(prompts) == len(first_frames)
        return np.stack([maze.render_solution(next(puzzles), 240, 416, T) for _ in prompts]) / 255.0

    paths = generate_videos(dataset / "metadata_all.csv", tmp_path, oracle_model, height=240, width=416,
                            batch_size=2, progress=False)  # fmt: skip
    assert calls == [[0, 1], [2]] and all(path.is_file() for path in paths)
    assert generate_videos(dataset / "metadata_all.csv", tmp_path, oracle_model, height=240, width=416,
                           progress=False) == paths  # fmt: skip
    assert calls == [[0, 1], [2]]  # nothing left to generate
    assert evaluate_videos(dataset / "metadata_all.csv", tmp_path, progress=False).overall.success_rate == 1.0


def test_a_model_that_only_holds_the_first_frame_scores_zero(dataset, tmp_path):
    def frozen_model(first_frames, prompts, row_indices):
        return np.repeat(first_frames[:, None], T, axis=1)

    generate_videos(
        dataset / "metadata_all.csv", tmp_path, frozen_model, height=240, width=416, progress=False
    )
    report = evaluate_videos(dataset / "metadata_all.csv", tmp_path, progress=False)
    assert report.overall.errors == 0 and report.overall.success_rate == 0.0
    assert all(row.reason for row in report.rows)
