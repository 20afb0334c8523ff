"""The app's panes in their order: (id, label, class). Key N shows pane N.

Its own module so the app, the command palette, help and the screenshot
script all read one table without importing each other.
"""

from __future__ import annotations

from .panes.base import Pane
from .panes.compute import ComputePane
from .panes.data import DataPane
from .panes.endpoints import EndpointsPane
from .panes.jobs import JobsPane
from .panes.models import ModelsPane

PANES: tuple[tuple[str, str, type[Pane]], ...] = (
    ("models", "Models", ModelsPane),
    ("compute", "Compute", ComputePane),
    ("data", "Data", DataPane),
    ("jobs", "Jobs", JobsPane),
    ("endpoints", "Endpoints", EndpointsPane),
)
