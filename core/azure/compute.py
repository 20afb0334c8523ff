"""Compute clusters: the tutorial's checks, GPUs per node and the memory-fit estimate.

The tutorial stops with a ValueError when a cluster failed provisioning, its
VM size is not in the model's ``finetune_compute_allow_list`` (compared case-
insensitively: the service answers ``STANDARD_NC24ADS_A100_V4``), it is one of
the retired K80 sizes, or ``compute.list_sizes()`` does not know its GPU count.
Here those become reasons in a FitReport, next to the memory estimate.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput, NotFound
from ..models import CatalogModel, ComputeTarget, FitReport, GpuInfo, MemoryEstimate, Verdict
from ..spec import FineTuneSpec
from .catalog import parse_list_tag
from .client import AzureClient, quiet

GIB = 1 << 30  # NVIDIA's "16 GB" V100 or "80 GB" A100 holds 16 or 80 GiB
UNSUPPORTED_GPU_VMS = ("standard_nc6", "standard_nc12", "standard_nc24", "standard_nc24r")

# GPU per VM size: (GPU name, memory per GPU in GiB, GPUs). list_sizes gives the count; only
# the memory per GPU needs this table. NV*ads_A10_v5 sizes get a slice of one A10.
_V100_16, _V100_32, _A100_40, _A100_80, _T4 = ("V100", 16), ("V100", 32), ("A100", 40), ("A100", 80), ("T4", 16)
GPU_TABLE: dict[str, tuple[str, float, int]] = {
    "standard_nc6s_v3": (*_V100_16, 1),
    "standard_nc12s_v3": (*_V100_16, 2),
    "standard_nc24s_v3": (*_V100_16, 4),
    "standard_nc24rs_v3": (*_V100_16, 4),
    "standard_nc24ads_a100_v4": (*_A100_80, 1),
    "standard_nc48ads_a100_v4": (*_A100_80, 2),
    "standard_nc96ads_a100_v4": (*_A100_80, 4),
    "standard_nd40rs_v2": (*_V100_32, 8),
    "standard_nd96asr_v4": (*_A100_40, 8),
    "standard_nd96amsr_a100_v4": (*_A100_80, 8),
    "standard_nc4as_t4_v3": (*_T4, 1),
    "standard_nc8as_t4_v3": (*_T4, 1),
    "standard_nc16as_t4_v3": (*_T4, 1),
    "standard_nc64as_t4_v3": (*_T4, 4),
    "standard_nv6ads_a10_v5": ("A10 (1/6)", 4, 1),
    "standard_nv12ads_a10_v5": ("A10 (1/3)", 8, 1),
    "standard_nv18ads_a10_v5": ("A10 (1/2)", 12, 1),
    "standard_nv36ads_a10_v5": ("A10", 24, 1),
    "standard_nv36adms_a10_v5": ("A10", 24, 1),
    "standard_nv72ads_a10_v5": ("A10", 24, 2),
    "standard_nc40ads_h100_v5": ("H100 NVL", 94, 1),
    "standard_nc80adis_h100_v5": ("H100 NVL", 94, 2),
    "standard_nd96isr_h100_v5": ("H100", 80, 8),
    "standard_nc6": ("K80", 12, 1),
    "standard_nc12": ("K80", 12, 2),
    "standard_nc24": ("K80", 12, 4),
    "standard_nc24r": ("K80", 12, 4),
}

# Dimensions of registry models commonly fine-tuned, since a registry model has no local
# config.json for compute_fit to read. Keys are lower-case registry names.
_DIM_FIELDS = (
    "model_type",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
)
KNOWN_DIMS: dict[str, dict[str, Any]] = {
    name: dict(zip(_DIM_FIELDS, row))
    for name, row in (
        ("phi-3-mini-4k-instruct", ("phi3", 3072, 32, 32, 32, 8192, 32064, 4096)),
        ("phi-3-mini-128k-instruct", ("phi3", 3072, 32, 32, 32, 8192, 32064, 131072)),
        ("phi-3-medium-4k-instruct", ("phi3", 5120, 40, 40, 10, 17920, 32064, 4096)),
        ("llama-2-7b", ("llama", 4096, 32, 32, 32, 11008, 32000, 4096)),
    )
}


def gpu_info(vm_size: str, gpus_per_node: int | None) -> tuple[GpuInfo, ...]:
    known = GPU_TABLE.get(vm_size.lower())
    count = gpus_per_node if gpus_per_node is not None else (known[2] if known else 0)
    if not count:
        return ()
    if known is None:
        return tuple(GpuInfo(f"GPU of {vm_size}", 0) for _ in range(count))
    return tuple(GpuInfo(known[0], int(known[1] * GIB)) for _ in range(count))


def to_target(compute: Any, gpus_per_node: int | None) -> ComputeTarget:
    size = str(getattr(compute, "size", None) or "")
    gpus = gpu_info(size, gpus_per_node) if size else ()
    return ComputeTarget(
        name=str(compute.name),
        kind="aml-cluster",
        vm_size=size or None,
        gpus=tuple(g for g in gpus if g.memory_bytes) or (),
        gpus_per_node=gpus_per_node,
        max_nodes=getattr(compute, "max_instances", None),
        provisioning_state=_state(getattr(compute, "provisioning_state", None)),
        tier=_tier(getattr(compute, "tier", None)),
        min_nodes=getattr(compute, "min_instances", None),
        idle_seconds=_int_or_none(getattr(compute, "idle_time_before_scale_down", None)),
    )


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _tier(raw: Any) -> str | None:
    text = _state(raw)
    return None if text is None else text.lower().replace("lowpriority", "low_priority").replace(" ", "_")


def _state(raw: Any) -> str | None:
    return None if raw is None else str(getattr(raw, "value", raw))


def allow_list_problems(size: str, tags: dict[str, str], key: str = "finetune_compute_allow_list") -> list[str]:
    """The tutorial's allow-list / unsupported-size checks, as messages (empty when fine)."""
    allow, warning = parse_list_tag(tags, key)
    problems = [warning] if warning else []
    if allow is not None:
        if size.lower() not in [x.lower() for x in allow]:
            problems.append(f"VM size {size} is not in the allow-listed computes for finetuning: {', '.join(allow)}")
    elif size.lower() in UNSUPPORTED_GPU_VMS:
        problems.append(f"VM size {size} is currently not supported for finetuning")
    return problems


class AzureCompute:
    def __init__(self, client: AzureClient) -> None:
        self.client = client
        self._sizes: dict[str, Any] | None = None

    def sizes(self) -> dict[str, Any]:
        """VM sizes of the workspace's region by lower-case name (one call, then cached)."""
        if self._sizes is None:
            ws = self.client.ws
            found = self.client.call(lambda: list(ws.compute.list_sizes()), self.client.ws_ctx("VM sizes"))
            self._sizes = {str(s.name).lower(): s for s in found}
        return self._sizes

    def gpus_per_node(self, compute: Any) -> int:
        """``compute.list_sizes()``'s GPU count for the cluster's size, or the tutorial's error."""
        size = str(compute.size)
        sizes = self.sizes()
        sku = sizes.get(size.lower())
        if sku is None:
            available = sorted(str(s.name) for s in sizes.values())
            raise NotFound(
                f"Number of GPU's in compute {size} not found. Available skus are: {available}. "
                f"This should not happen. Please check the selected compute cluster: {compute.name} and try again."
            )
        return int(getattr(sku, "gpus", 0) or 0)

    def get_sdk(self, name: str) -> Any:
        ws = self.client.ws
        return self.client.call(lambda: ws.compute.get(name), self.client.ws_ctx(f"compute {name}"))

    def get(self, name: str) -> ComputeTarget:
        compute = self.get_sdk(name)
        return to_target(compute, self._gpus_or_none(compute))

    def _gpus_or_none(self, compute: Any) -> int | None:
        if not getattr(compute, "size", None):
            return None
        sku = self.sizes().get(str(compute.size).lower())
        return int(getattr(sku, "gpus", 0) or 0) if sku is not None else None

    def list(self) -> list[ComputeTarget]:
        ws = self.client.ws
        found = self.client.call(lambda: list(ws.compute.list()), self.client.ws_ctx("compute"))
        clusters = [c for c in found if str(getattr(c, "type", "")).lower() in ("amlcompute", "computeinstance")]
        return [to_target(c, self._gpus_or_none(c)) for c in clusters]

    def scale_to_zero(self, name: str) -> ComputeTarget:
        """Let a cluster scale down to no nodes when idle (min nodes 0): it stops billing between jobs."""
        with quiet():
            from azure.ai.ml.entities import AmlCompute

        found = self.get_sdk(name)
        # a fresh entity, not the fetched one: the SDK cannot send back a cluster it read without a subnet
        cluster = AmlCompute(
            name=found.name,
            size=found.size,
            min_instances=0,
            max_instances=found.max_instances,
            idle_time_before_scale_down=found.idle_time_before_scale_down,
            tier=found.tier,
        )
        ws = self.client.ws
        ctx = self.client.ws_ctx(f"compute {name}", "update")
        poller = self.client.call(lambda: ws.compute.begin_create_or_update(cluster), ctx)
        self.client.call(poller.result, ctx)
        return self.get(name)

    # -- the check ---------------------------------------------------------------------
    def check(
        self, model: CatalogModel, spec: FineTuneSpec, name: str, component_inputs: dict[str, Any] | None = None
    ) -> tuple[FitReport, ComputeTarget]:
        compute = self.get_sdk(name)
        size = str(compute.size)
        problems: list[str] = []
        if (_state(getattr(compute, "provisioning_state", None)) or "").lower() == "failed":
            problems.append(f"Provisioning failed, Compute '{name}' is in failed state. please try creating a different compute")
        problems += allow_list_problems(size, model.tags)
        try:
            gpus_per_node: int | None = self.gpus_per_node(compute)
        except NotFound as exc:
            gpus_per_node = None
            problems.append(str(exc))
        if gpus_per_node == 0:
            problems.append(f"VM size {size} has no GPU; fine-tuning runs only on GPU compute")
        target = to_target(compute, gpus_per_node)
        return combine(model, spec, target, problems, component_inputs), target


# The finetune step of chat_completion_pipeline runs LoRA training with gradient checkpointing
# on (acft's LoRA path); full fine-tunes keep every activation. An assumption, named in the reasons.
def component_checkpoints(spec: FineTuneSpec) -> bool:
    return spec.apply_lora


def allow_listed(size: str, tags: dict[str, str], key: str = "finetune_compute_allow_list") -> str | None:
    """The allow list's own spelling of ``size`` (the service upper-cases sizes), or None."""
    allow, _ = parse_list_tag(tags, key)
    return next((str(x) for x in allow or () if str(x).lower() == size.lower()), None)


def combine(
    model: CatalogModel,
    spec: FineTuneSpec,
    target: ComputeTarget,
    problems: list[str],
    component_inputs: dict[str, Any] | None = None,
) -> FitReport:
    """The memory estimate from compute_fit, overruled by any of the tutorial's hard checks.

    A SKU on the model's ``finetune_compute_allow_list`` is Microsoft's statement that it works:
    the estimate can make it TIGHT, never DOES_NOT_FIT.
    """
    import dataclasses

    from ..compute_fit import check_fit, gpu_fields

    precision = "fp32" if str((component_inputs or {}).get("precision", "")) == "32" else None
    report, note = None, None
    if target.gpus:
        try:
            report = check_fit(
                model,
                spec,
                target,
                config=KNOWN_DIMS.get(model.name.lower()),
                precision=precision,
                gradient_checkpointing=component_checkpoints(spec),
            )
        except InvalidInput as exc:  # no dimensions known for this model: the checks above still stand
            note = f"memory not estimated: {exc}"
    else:
        note = f"memory not estimated: no GPU memory known for {target.vm_size}"
    if report is None:
        return FitReport(
            model=model.ref,
            target=target.name,
            verdict=Verdict.DOES_NOT_FIT if problems else Verdict.TIGHT,
            estimate=MemoryEstimate(0, 0, 0, 0, 0, 0),
            available_bytes=target.accelerator_memory_bytes,
            reasons=tuple(problems) + ((note,) if note else ()),
            decided_by=problems[0] if problems else note,
            **gpu_fields(target),
        )
    if problems:
        return dataclasses.replace(
            report, verdict=Verdict.DOES_NOT_FIT, reasons=tuple(problems) + report.reasons, decided_by=problems[0]
        )
    listed = allow_listed(target.vm_size or "", model.tags)
    if report.verdict is Verdict.DOES_NOT_FIT and listed:
        vouched = (
            f"{listed} is on {model.name}'s finetune_compute_allow_list, so it is vouched for: "
            f"tight rather than does-not-fit ({report.decided_by})"
        )
        return dataclasses.replace(report, verdict=Verdict.TIGHT, reasons=report.reasons + (vouched,), decided_by=vouched)
    return report
