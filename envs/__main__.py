"""``python -m envs {demo,export,score}`` (see :mod:`envs.cli`)."""

from envs.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
