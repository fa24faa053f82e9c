"""Benchmark settings: the portal's own, plus a minimal view to compare against."""

from aixops.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
