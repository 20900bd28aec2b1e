"""Pick and start a target by name: ``auto`` means containers when Docker answers, else local."""

from __future__ import annotations

import shutil

from flowlb.errors import FlowlbError
from flowlb.haproxy.operator import OperatorConfig
from flowlb.spec import ClusterSpec
from flowlb.targets.base import Target

DEFAULT_TARGET = "auto"
"""Containers when a Docker engine answers, else local (:func:`choose_target`): every command's default."""
CLUSTER_TARGETS = (DEFAULT_TARGET, "containers", "local")
"""Where flowlb starts a cluster of its own (``flowlb up``, the suite, ``flowlb load``)."""
TARGETS = (*CLUSTER_TARGETS, "external")
"""Every target a run may name: a cluster of flowlb's own, or a live LB (:mod:`flowlb.targets.external`)."""


def choose_target(requested: str) -> str:
    """Resolve ``auto``: containers when a Docker engine answers, else local when haproxy is installed."""
    if requested != DEFAULT_TARGET:
        return requested
    from flowlb.targets.dockerenv import docker_answers

    if docker_answers():
        return "containers"
    if shutil.which("haproxy"):
        return "local"
    raise FlowlbError(
        "no target: no Docker engine answers and no 'haproxy' on PATH "
        "(start dockerd, or apt-get install -y haproxy for --target local)"
    )


def start_target(
    kind: str,
    spec: ClusterSpec,
    profile: str,
    operator: OperatorConfig | None = None,
    haproxy_version: str | None = None,
    haproxy_image: str | None = None,
    keep: bool = False,
) -> Target:
    """Start the cluster on the named target (``containers`` or ``local``).

    With ``operator``, the operator's own config runs (remapped) instead of the ``profile``, on the cluster its
    plan asks for (:func:`~flowlb.targets.prepare.prepare`).
    ``haproxy_version`` or ``haproxy_image`` (not both) choose the HAProxy the containers target runs.
    """
    if haproxy_version and haproxy_image:
        raise FlowlbError(f"--haproxy-version {haproxy_version} and --haproxy-image {haproxy_image} both choose the "
                          "HAProxy to run: give one")
    if kind == "external":
        raise FlowlbError("the external target is a live LB: run the conformance suite with --target external")
    if kind == "containers":
        from flowlb.targets.containers import ContainersTarget

        return ContainersTarget(spec, profile, haproxy_version=haproxy_version, haproxy_image=haproxy_image, keep=keep,
                                operator=operator)
    if haproxy_image:
        raise FlowlbError(f"--haproxy-image {haproxy_image} needs the containers target; the local target runs "
                          "the haproxy on PATH (its version is in the report)")
    if haproxy_version:
        raise FlowlbError(f"--haproxy-version {haproxy_version} needs the containers target; the local target runs "
                          "the haproxy on PATH (its version is in the report)")
    from flowlb.targets.local import LocalTarget

    return LocalTarget(spec, profile, operator=operator)
