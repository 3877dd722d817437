"""`diffrl demo --quick`: every stage of the CPU demo runs and reports (the full run is ~20 min)."""

from __future__ import annotations

import json

from diffrl.cli import main


def test_quick_demo_runs_every_stage_and_writes_the_table(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "demo_results.json").read_text())
    assert set(record["results"]) == {"sft", "grpo", "grpo_ema", "continued_sft"}
    for result in record["results"].values():
        assert 0.0 <= result["success_rate"] <= 1.0 and 0.0 <= result["f1"] <= 1.0 and result["components"]
    assert record["results"]["grpo"]["step"] >= 1 and record["results"]["continued_sft"]["step"] > 6
    assert len(list((tmp_path / "held_out_samples" / "grpo").glob("*.mp4"))) == 4
    assert "held-out success" in capsys.readouterr().out
