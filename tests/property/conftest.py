"""Hypothesis settings for the property tests: a bounded default profile and a longer one."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("kairos", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("kairos-long", parent=settings.get_profile("kairos"), max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "kairos"))
