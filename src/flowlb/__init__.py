"""flowlb: prove that a load balancer in front of a CloudBees CD / ElectricFlow cluster does its job.

This module deliberately imports nothing: the mock Flow node (``flowlb.mocknode``) is copied into
container images that have only ``python3`` and must import without the rest of the package.
"""

__version__ = "0.1.0"
