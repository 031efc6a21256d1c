"""Shared test configuration: seeded hypothesis profiles.

``dev`` (default) and ``ci`` are both derandomized (the examples are a fixed function of the test),
so a failure reproduces exactly; ``ci`` tries more examples. Select with HYPOTHESIS_PROFILE=ci.
"""
import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=30, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
