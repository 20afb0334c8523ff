"""``finetui`` with no subcommand: open the app on the workspace.

A first run on an empty local workspace builds the offline demo inside the
app, with its progress shown, so the panes have something real to show.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from finetui.core.backend import Backend


def launch(backend_factory: Callable[[], Backend], backend_name: str, workspace: Path) -> None:
    """Run the app; the backend is made in a worker after the first frame (the factory may import Azure's SDK)."""
    from .app import FinetuiApp

    app = FinetuiApp(
        backend_factory=backend_factory,
        workspace=str(workspace) if backend_name == "local" else None,
        build_demo=backend_name == "local",
        log_root=str(workspace),
    )
    app.run()
    if app.return_code:  # Textual prints the traceback and keeps the code; the shell must see it
        raise SystemExit(app.return_code)
