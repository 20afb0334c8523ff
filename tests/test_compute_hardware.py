"""Hardware detection: the CPU target is always there; GPUs come from nvidia-smi when present."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from finetui.core.local import hardware
from finetui.core.models import GpuInfo


def test_cpu_target_has_cores_and_ram():
    targets = hardware.detect_targets()
    cpu = targets[0]
    assert cpu.name == "cpu" and cpu.kind == "cpu" and not cpu.gpus
    assert cpu.cpu_cores >= 1 and cpu.cpu_cores <= (os.cpu_count() or 1)
    assert cpu.memory_bytes > 256 * 2**20
    available = hardware.available_memory_bytes()
    assert available is None or 0 < available <= cpu.memory_bytes
    for t in targets[1:]:
        assert t.kind == "cuda" and t.name.startswith("cuda:") and len(t.gpus) == 1


def test_detection_is_fast_and_does_not_import_torch():
    code = (
        "import sys, time; t = time.perf_counter();"
        "from finetui.core.local.hardware import detect_targets; detect_targets();"
        "print(time.perf_counter() - t, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[1] == "False"
    # nvidia-smi itself may take a while where it exists; without it detection is instant
    if not __import__("shutil").which("nvidia-smi"):
        assert float(out[0]) < 0.5


def test_parse_nvidia_smi_output():
    text = "0, NVIDIA A10, 23028\n1, NVIDIA H100 80GB HBM3, 81559\nnot a line\n"
    gpus = hardware.parse_nvidia_smi(text)
    assert gpus == [
        (0, GpuInfo("NVIDIA A10", 23028 * 2**20)),
        (1, GpuInfo("NVIDIA H100 80GB HBM3", 81559 * 2**20)),
    ]


def test_cuda_visible_devices_renumbers(monkeypatch):
    found = tuple(hardware.parse_nvidia_smi("0, A, 100\n1, B, 200\n2, C, 300\n"))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,0")
    assert [g.name for g in hardware._visible(found)] == ["C", "A"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert hardware._visible(found) == []
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,-1,2")
    assert [g.name for g in hardware._visible(found)] == ["B"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert len(hardware._visible(found)) == 3


def test_repeated_detection_is_cheap():
    hardware.detect_targets()
    start = time.perf_counter()
    for _ in range(10):
        hardware.detect_targets()
    assert (time.perf_counter() - start) / 10 < 0.1
