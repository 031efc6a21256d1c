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


# --------------------------------------------------------------- one default pipeline run per test run
import pytest  # noqa: E402


def _shared_dir(tmp_path_factory, worker_id: str):
    """A directory shared by all xdist workers of this test run (the pipeline's lock serialises them)."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if worker_id != "master" else base) / "nep-default-run"


@pytest.fixture(scope="session")
def default_config(tmp_path_factory, worker_id):
    """The embedded default configuration (5 km synthetic scenario) with a per-test-run output dir."""
    from nep_core import Config

    return Config(out_dir=str(_shared_dir(tmp_path_factory, worker_id)))


@pytest.fixture(scope="session")
def default_results(default_config):
    """The pipeline on the embedded default: built once per test run, reused by every worker."""
    from nep_core import pipeline

    return pipeline.run(default_config)


@pytest.fixture(scope="session")
def book_config(default_config, default_results, tmp_path_factory):
    """NEP_CONFIG pointing chapter kernels at the shared default run (so they reuse its cache)."""
    path = tmp_path_factory.mktemp("book") / "nep.toml"
    path.write_text(f'out_dir = "{default_config.out_dir}"\n')
    old = os.environ.get("NEP_CONFIG")
    os.environ["NEP_CONFIG"] = str(path)
    yield path
    if old is None:
        os.environ.pop("NEP_CONFIG", None)
    else:
        os.environ["NEP_CONFIG"] = old
