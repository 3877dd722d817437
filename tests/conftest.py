"""Test-wide settings: under CI, hypothesis draws the same examples on every run (``derandomize``), so a
red CI always points at a reproducible case; locally it keeps exploring new ones."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
