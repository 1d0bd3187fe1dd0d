"""Hypothesis for the golden-model property tests: reproducible and timing-independent.

`derandomize`: examples come from a fixed seed per test, so CI and a developer's machine run the
same cases (a failure always reproduces); `deadline=None`: a loaded 2-core CI machine must not
turn slow examples into failures (speed is measured by `make bench`, never by tests).
Set HYPOTHESIS_PROFILE=explore for fresh random examples, e.g. when extending the model.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
