"""The conformance suite's pytest plugin: it only registers its parts (``flowlb.plugin``), each with one job.

Loaded by ``conformance/conftest.py``, or by its pytest11 entry point ``flowlb`` where flowlb is installed. The
options (:mod:`flowlb.plugin.options`) are checked before anything starts. The cluster (a target of
``flowlb.targets``: local processes, containers, or a live LB) is started once per session
(:mod:`flowlb.plugin.start`), the expensive part; every test gets it through the function-scoped ``lb`` fixture
(:mod:`flowlb.plugin.fixtures`), which first brings it back to its starting state (all nodes running and healthy,
counters zeroed) so tests never leak state; :mod:`flowlb.plugin.clients` gives the HTTP and STOMP clients. The run
report (:mod:`flowlb.plugin.report`) collects each check's outcome, the causes and the verdict, and decides the exit
code by ``--fail-on``.

pytest registers each part once, as this module registers (a second registration of this module is refused by
pluggy, as before, and so never reaches its parts).
"""

pytest_plugins = [
    "flowlb.plugin.options",
    "flowlb.plugin.report",
    "flowlb.plugin.start",
    "flowlb.plugin.fixtures",
    "flowlb.plugin.clients",
]
