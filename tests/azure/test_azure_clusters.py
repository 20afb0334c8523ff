"""Item 9 of issue 12: cluster creation with the tutorial's choices, and the quota it draws on."""

from __future__ import annotations


def _scale(cli, name):
    return cli.fake.compute_bodies[name]["properties"]["properties"]


def test_every_choice_reaches_the_service_and_the_quota_is_shown(azure_cli):
    azure_cli.fake.add_usage("standardNCSv3Family", used=6, limit=24)
    out = azure_cli.json(
        "azure",
        "compute-create",
        "v100s",
        "--size",
        "Standard_NC6s_v3",
        "--min-nodes",
        "1",
        "--max-nodes",
        "2",
        "--idle-time",
        "600",
    )
    props = _scale(azure_cli, "v100s")
    assert props["vmPriority"] == "Dedicated"
    assert props["scaleSettings"] == {"maxNodeCount": 2, "minNodeCount": 1, "nodeIdleTimeBeforeScaleDown": "PT10M"}
    assert (out["compute"]["tier"], out["compute"]["min_nodes"], out["compute"]["max_nodes"], out["compute"]["idle_seconds"]) == (
        "dedicated",
        1,
        2,
        600,
    )
    assert out["quota"] == {
        "tier": "dedicated",
        "usage_name": "standardNCSv3Family",
        "used_cores": 6,
        "limit_cores": 24,
        "needed_cores": 12,
        "cores_per_node": 6,
        "free_cores": 18,
        "short": False,
    }
    assert out["note"] is None
    text = azure_cli.run("azure", "compute-create", "v100t", "--size", "Standard_NC6s_v3")
    assert "quota standardNCSv3Family: needs 6 cores (6 per node), 18 of 24 free" in text.stdout


def test_short_dedicated_quota_falls_back_to_low_priority(azure_cli):
    azure_cli.fake.add_usage("standardNCSv3Family", used=20, limit=24)
    azure_cli.fake.add_usage("lowPriorityCores", used=0, limit=100)
    proc = azure_cli.run("azure", "compute-create", "v100s", "--size", "Standard_NC6s_v3", "--max-nodes", "2")
    assert proc.returncode == 0, proc.stderr
    assert _scale(azure_cli, "v100s")["vmPriority"] == "LowPriority"
    assert (
        "note: dedicated quota for standardNCSv3Family is short (4 of 12 cores free): creating the cluster low priority instead"
    ) in proc.stderr
    assert "quota lowPriorityCores: needs 12 cores (6 per node), 100 of 100 free" in proc.stdout


def test_refused_dedicated_falls_back_unless_told_not_to(azure_cli):
    azure_cli.fake.refuse_dedicated = True  # the service's own quota check, when usages said nothing
    refused = azure_cli.run("azure", "compute-create", "a", "--size", "Standard_NC6s_v3", "--no-fallback")
    assert refused.returncode == 1 and "not enough quota for Standard_NC6s_v3" in refused.stderr
    assert "a" not in azure_cli.fake.computes
    out = azure_cli.json("azure", "compute-create", "b", "--size", "Standard_NC6s_v3")
    assert out["compute"]["tier"] == "low_priority" and "refused dedicated nodes" in out["note"]
    low = azure_cli.json("azure", "compute-create", "c", "--size", "Standard_NC6s_v3", "--tier", "low_priority")
    assert low["compute"]["tier"] == "low_priority" and low["note"] is None
