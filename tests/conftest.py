"""Shared pytest set-up: the hypothesis profile.

Under CI (``CI`` set, as CI runs ``.ci/run``) hypothesis draws the same examples on every run,
so that a submission passes or fails on its own code, never on a new random draw; a plain
``make test`` draws new examples each run and keeps exploring (a failure prints the example,
to be pinned with ``@example`` once understood).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
