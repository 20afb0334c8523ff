"""``finetui`` with no subcommand: open the app on the workspace.

A first run on an empty local workspace builds the offline demo inside the
app, with its progress shown, so the panes have something real to show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .cli.common import CliContext


def launch(ctx: CliContext) -> None:
    from .app import FinetuiApp

    app = FinetuiApp(
        backend_factory=lambda: ctx.backend,
        workspace=str(ctx.workspace_path) if ctx.backend_name == "local" else None,
        build_demo=ctx.backend_name == "local",
        log_root=str(ctx.workspace_path),
    )
    app.run()
    if app.return_code:  # Textual prints the traceback and keeps the code; the shell must see it
        raise SystemExit(app.return_code)
