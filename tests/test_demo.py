"""`diffrl demo --quick`: every stage of the CPU demo runs and reports (the full run is ~20 min)."""

from __future__ import annotations

import json

import cv2
import pytest

from diffrl.cli import main


def test_quick_demo_runs_every_stage_and_writes_the_table(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    record = json.loads((out / "demo_results.json").read_text())
    assert record["readout"] == "final weights"
    # no EMA anywhere: GRPO starts from exactly the SFT weights scored as the start
    assert not list(out.glob("*/checkpoint-*/policy_ema")) and list(out.glob("sft/checkpoint-*/policy"))
    for split in ("held_out", "harder"):
        assert set(record["results"][split]) == {"sft", "grpo", "continued_sft"}
        for result in record["results"][split].values():
            low, high = result["interval"]
            assert 0.0 <= low <= result["success_rate"] <= high <= 1.0 and 0.0 <= result["f1"] <= 1.0
            assert len(result["successes"]) == 8 and result["components"]
    assert record["results"]["held_out"]["grpo"]["step"] == 2  # stage 2 is fixed in steps
    assert record["results"]["held_out"]["continued_sft"]["step"] == 6 + 6
    assert set(record["comparisons"]) == {f"{split}/grpo_vs_{other}" for split in ("held_out", "harder")
                                          for other in ("sft", "continued_sft")}
    printed = capsys.readouterr().out
    assert "audit:" in printed and "95% interval" in printed and "McNemar" in printed
    for label, points in record["curves"].items():  # the SFT start, then every checkpoint of the run
        assert points[0]["progress"] == 0.0 and points[-1]["progress"] == 1.0, label
        steps = [point["step"] for point in points]
        assert steps == sorted(set(steps)) and len(steps) == 3, steps  # QUICK: 2 curve points per run
    report = cv2.imread(str(out / "report.png"))
    assert report is not None and report.shape[0] > 1000 and report.shape[1] >= 1400


def test_a_folder_with_an_earlier_demo_is_refused_unless_resumed(tmp_path):
    (tmp_path / "grpo").mkdir()
    with pytest.raises(SystemExit, match="already holds a demo"):
        main(["demo", "--quick", "--out", str(tmp_path)])


@pytest.mark.parametrize(
    ("flags", "named"),
    [(["--grpo-steps", "-1"], "grpo-steps"), (["--control-steps", "0"], "control-steps"),
     (["--eval-mazes", "0"], "eval-mazes"), (["--grpo-lr", "0"], "grpo-lr")],
)  # fmt: skip
def test_bad_demo_sizes_are_refused_before_any_training(tmp_path, capsys, flags, named):
    assert main(["demo", "--out", str(tmp_path / "demo"), *flags]) == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()  # nothing trained, nothing written
