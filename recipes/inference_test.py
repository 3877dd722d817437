"""Generate an answer video for every row of a metadata CSV with a trained policy (test-split inference).

    python recipes/inference_test.py --config recipes/maze_success.yaml --checkpoint RUN_DIR \
        --metadata DATA_ROOT/test/metadata_all.csv --out VIDEO_DIR

The policy is built from the run config (``policy:`` section) and, with ``--checkpoint`` (a run, checkpoint
or policy folder), loaded with those trained weights; without it the config's own weights are used (e.g.
the SFT checkpoint: the baseline). Deterministic Euler sampling; each row's noise is seeded by its row
index, so results do not depend on batching or resuming. Videos are named for ``envs.evaluate``; rows
whose video exists are skipped. Score them with ``python -m videorlvr.envs score VIDEO_DIR --metadata ...``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from diffrl.checkpoint import resolve_policy_folder
from diffrl.config import load_config
from diffrl.policies import build_policy
from diffrl.sampling import SamplingPlan, rollout, sample_generators
from videorlvr.envs.generate import generate_videos


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=Path, help="the run's YAML (defines the policy)")
    parser.add_argument("--checkpoint", type=Path, help="trained weights: run, checkpoint or policy folder")
    parser.add_argument("--metadata", required=True, type=Path, help="metadata CSV of the rows to answer")
    parser.add_argument("--out", required=True, type=Path, help="folder for the generated mp4s")
    parser.add_argument("--steps", type=int, default=20, help="Euler steps (default 20, as in training)")
    parser.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance scale")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="row i is sampled with seed SEED + i")
    parser.add_argument("--limit", type=int, help="only the first N rows")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = load_config(args.config)
    policy = build_policy(config.policy, args.device)
    if args.checkpoint is not None:
        policy.load_pretrained(resolve_policy_folder(args.checkpoint))
    plan = SamplingPlan.ode(args.steps, config.grpo.shift or policy.shift)

    def model(first_frames, prompts, rows):
        conditions = policy.encode_conditions(first_frames, prompts)
        generators = sample_generators([args.seed + row for row in rows])
        return policy.decode(rollout(policy, conditions, plan, args.guidance, generators).final)

    paths = generate_videos(
        args.metadata, args.out, model, height=policy.height, width=policy.width,
        batch_size=args.batch_size, limit=args.limit,
    )  # fmt: skip
    print(f"{len(paths)} videos in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
