"""The data check a submit runs before anything starts, the same for a local job, an Azure job and an evaluation.

A bad row must fail in seconds, not after a runner loads the model or a
cluster spins up. The file is read once: the caller that also masks and
measures rows (a local job) takes the first rows from this same pass.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import DataError
from ..models import ValidationReport

MAX_ISSUES = 20


def require_valid_data(
    path: str | os.PathLike[str],
    which: str | None = None,
    *,
    sample: list[list[dict[str, Any]]] | None = None,
    sample_rows: int = 0,
) -> ValidationReport:
    """The file's report, or DataError naming the first bad line and how many more there are.

    ``which`` ("train", "test") names the file the Azure way, ``train file PATH: line N: ...``;
    without it the message is ``PATH:N: ...``, the form editors jump to. ``sample`` receives the
    first ``sample_rows`` conversations (role and content only, as the runner keeps them).
    """
    from .validate import validate_file

    report = validate_file(path, max_issues=MAX_ISSUES, sample=sample, sample_rows=sample_rows)
    if report.ok:
        return report
    if not report.issues:
        raise DataError(f"{which} file {path}: no valid rows" if which else f"{path}: no valid rows", report)
    first = report.issues[0]
    more = len(report.issues) - 1 + report.issues_truncated
    tail = f" (and {more} more problem{'s' if more != 1 else ''}; run `finetui data validate {path}`)" if more else ""
    where = f"{which} file {path}: {first}" if which else f"{path}:{first.line}: {first.reason}"
    raise DataError(where + tail, report)
