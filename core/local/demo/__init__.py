"""The offline demo: synthetic chat data and a tiny Phi-3 base, built by our own code."""

from .build import DEMO_DEFAULTS, DEMO_MODEL_NAME, DEMO_MODEL_VERSION, DemoResult, build_demo, demo_dirs
from .evaluate import evaluate_heldout

__all__ = ["DEMO_DEFAULTS", "DEMO_MODEL_NAME", "DEMO_MODEL_VERSION", "DemoResult", "build_demo", "demo_dirs", "evaluate_heldout"]
