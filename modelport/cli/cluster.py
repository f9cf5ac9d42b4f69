"""``modelport cluster ...``: start, attach, show and stop a workspace's Ray clusters (AKS compute
for web services, AmlCompute for script runs and batch runs)."""

from __future__ import annotations

import argparse
from typing import Any

from modelport.cli._commands import Subparsers, command, group
from modelport.cli._output import emit
from modelport.cli.workspace import workspace_of


def cmd_start(args: argparse.Namespace) -> int:
    from modelport.core.compute import AksCompute, AmlCompute, ComputeTarget

    ws = workspace_of(args)
    if args.type == "amlcompute":
        if args.address:
            config = AmlCompute.attach_configuration(address=args.address, max_nodes=args.max_nodes)
            target = ComputeTarget.attach(ws, args.name, config)
        else:
            aml = AmlCompute.provisioning_configuration(max_nodes=args.max_nodes or 4, num_cpus=args.num_cpus)
            target = ComputeTarget.create(ws, args.name, aml)
        emit(args, target.serialize())
        return 0
    if args.address:
        target = ComputeTarget.attach(ws, args.name, AksCompute.attach_configuration(address=args.address))
    else:
        prov = AksCompute.provisioning_configuration(
            agent_count=args.agent_count, num_cpus=args.num_cpus, ingress=args.ingress
        )
        target = ComputeTarget.create(ws, args.name, prov)
    emit(args, target.serialize())
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from modelport.core.compute import ComputeTarget

    ws = workspace_of(args)
    targets = [ComputeTarget(ws, args.name)] if args.name else ComputeTarget.list(ws)
    rows: list[dict[str, Any]] = [t.serialize() for t in targets]
    emit(args, rows, ["name", "type", "provisioningState", "address", "owned"])
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from modelport.core.compute import ComputeTarget

    target = ComputeTarget(workspace_of(args), args.name)
    owned = target.serialize()["owned"]
    target.delete()
    emit(args, {"name": args.name, "action": "stopped" if owned else "detached"})
    return 0


def configure(top: Subparsers, common: argparse.ArgumentParser) -> None:
    sub = group(
        top,
        "cluster",
        "Ray clusters for services (AKS) and runs (AmlCompute): start one here, attach one, show, stop",
        "modelport cluster start aks-cluster",
        "modelport cluster start cpu-cluster --type amlcompute --max-nodes 4",
    )
    p = command(
        sub,
        "start",
        cmd_start,
        "start a Ray head node on this machine owned by the workspace (or attach one with --address)",
        "modelport cluster start aks-cluster",
        "modelport cluster start cpu-cluster --type amlcompute --max-nodes 4",
        "modelport cluster start big --address ray://head.example:10001",
        parents=[common],
    )
    p.add_argument("name", help="compute target name (2-16 letters, digits and '-')")
    p.add_argument(
        "--type",
        choices=("aks", "amlcompute"),
        default="aks",
        help="aks: web services on Ray Serve (default); amlcompute: script runs (Ray jobs) and batch runs",
    )
    p.add_argument("--max-nodes", type=int, help="amlcompute: v1's max_nodes, the most a batch run's --nodes")
    p.add_argument("--address", help="attach the running Ray cluster at this address instead")
    p.add_argument("--agent-count", type=int, default=None, help="v1's node count (recorded)")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs Ray may schedule on")
    p.add_argument(
        "--ingress",
        choices=("haproxy", "proxy"),
        default="haproxy",
        help="HTTP ingress: HAProxy straight to the replicas (default) or Ray Serve's Python proxy",
    )
    p = command(
        sub,
        "status",
        cmd_status,
        "show the workspace's clusters (Succeeded while a cluster answers)",
        "modelport cluster status",
        parents=[common],
    )
    p.add_argument("name", nargs="?", help="one compute target (default: all)")
    p = command(
        sub,
        "stop",
        cmd_stop,
        "stop a cluster this workspace started (detach an attached one) and forget it",
        "modelport cluster stop aks-cluster",
        parents=[common],
    )
    p.add_argument("name", help="compute target name")
