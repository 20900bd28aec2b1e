"""The conformance suite: checks that a load balancer in front of a Flow cluster does its job.

Options (``pytest conformance/ --help``, group "flowlb"): --target, --profile, --spec, --keep-cluster.
"""

pytest_plugins = ["flowlb.pytest_plugin"]
