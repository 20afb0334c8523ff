"""Fault-injection points for the tests: crash and disk-full at chosen moments.

Code that must survive a kill or a full disk calls ``fault_point("area.step")``
at the moments that matter. It does nothing unless a test set one of:

* ``FINETUI_TEST_PAUSE_AT=area.step``: write ``FINETUI_TEST_PAUSE_MARKER``
  (a file path) and block there until the process is killed, so a test can
  SIGKILL it at exactly that point after waiting on the marker;
* ``FINETUI_TEST_FAIL_AT=area.step:ERRNO`` (e.g. ``register.copy:ENOSPC``):
  raise ``OSError(ERRNO)`` there, as the filesystem would.

A real full disk or a kill at a precise instruction cannot be arranged
portably and without root, so these are the seams the tests use instead.
"""

from __future__ import annotations

import errno
import os
import signal
import time

PAUSE_AT = "FINETUI_TEST_PAUSE_AT"
PAUSE_MARKER = "FINETUI_TEST_PAUSE_MARKER"
FAIL_AT = "FINETUI_TEST_FAIL_AT"


def fault_point(name: str) -> None:
    if not (os.environ.get(PAUSE_AT) or os.environ.get(FAIL_AT)):
        return
    failing, _, code = os.environ.get(FAIL_AT, "").partition(":")
    if failing == name:
        number = getattr(errno, code, None) or int(code or errno.EIO)
        raise OSError(number, os.strerror(number))
    if os.environ.get(PAUSE_AT) == name:
        marker = os.environ.get(PAUSE_MARKER)
        if marker:
            with open(marker, "w", encoding="utf-8") as f:
                f.write(f"{os.getpid()}\n")
        while True:  # until killed; pause() wakes on any signal, so loop
            if hasattr(signal, "pause"):
                signal.pause()
            else:  # pragma: no cover - Windows
                time.sleep(3600)
