"""What this machine can train on: its CPU and RAM, and any NVIDIA GPUs.

GPUs are found with ``nvidia-smi`` rather than torch, because importing torch
costs seconds and this runs whenever the app or the CLI lists compute. The
GPU query runs once per process: the hardware does not change under us.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

from ..models import ComputeTarget, GpuInfo

NVIDIA_SMI_TIMEOUT_S = 3.0


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use, not the machine's
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    out[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    except OSError:
        pass
    return out


def _cgroup_limit() -> int | None:
    """A container's memory limit; /proc/meminfo shows the host's RAM inside one."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="ascii") as fh:
                text = fh.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:  # "max" or a huge number means no limit
            return int(text)
    return None


def total_memory_bytes() -> int | None:
    info = _meminfo()
    total = info.get("MemTotal")
    if total is None:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, ValueError, OSError):
            total = None
    limit = _cgroup_limit()
    if limit is not None and (total is None or limit < total):
        return limit
    return total


def available_memory_bytes() -> int | None:
    """RAM free for a new process right now (MemAvailable), or None where unknown."""
    info = _meminfo()
    if "MemAvailable" in info:
        return info["MemAvailable"]
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def parse_nvidia_smi(text: str) -> list[tuple[int, GpuInfo]]:
    """Parse ``--query-gpu=index,name,memory.total --format=csv,noheader,nounits`` (MiB)."""
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3:
            continue
        index, memory = parts[0], parts[-1]
        name = ",".join(parts[1:-1])
        try:
            gpus.append((int(index), GpuInfo(name=name, memory_bytes=int(float(memory) * 1024 * 1024))))
        except ValueError:
            continue
    return gpus


@functools.lru_cache(maxsize=1)
def _query_nvidia_smi() -> tuple[tuple[int, GpuInfo], ...]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return ()
    try:
        proc = subprocess.run(
            [exe, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError):
        return ()
    if proc.returncode != 0:
        return ()
    return tuple(parse_nvidia_smi(proc.stdout))


def _visible(gpus: tuple[tuple[int, GpuInfo], ...]) -> list[GpuInfo]:
    """Apply CUDA_VISIBLE_DEVICES the way CUDA numbers devices (visible order, from 0)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is None:
        return [g for _, g in gpus]
    wanted = [p.strip() for p in env.split(",") if p.strip()]
    if not all(p.lstrip("-").isdigit() for p in wanted):
        return [g for _, g in gpus]  # UUID or MIG names: keep nvidia-smi's view
    by_index = dict(gpus)
    out = []
    for p in wanted:
        if int(p) < 0 or int(p) not in by_index:
            break  # CUDA stops at the first invalid entry
        out.append(by_index[int(p)])
    return out


def detect_gpus() -> list[GpuInfo]:
    return _visible(_query_nvidia_smi())


def detect_targets() -> list[ComputeTarget]:
    """A ``cpu`` target, then one ``cuda:N`` target per visible GPU."""
    cores = cpu_cores()
    ram = total_memory_bytes()
    targets = [ComputeTarget(name="cpu", kind="cpu", cpu_cores=cores, memory_bytes=ram)]
    for i, gpu in enumerate(detect_gpus()):
        targets.append(
            ComputeTarget(
                name=f"cuda:{i}",
                kind="cuda",
                cpu_cores=cores,
                memory_bytes=ram,
                gpus=(gpu,),
                gpus_per_node=1,
                max_nodes=1,
            )
        )
    return targets
