"""``python -m videorlvr.envs {demo,export,score,overlay}`` (see :mod:`videorlvr.envs.cli`)."""

from videorlvr.envs.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
