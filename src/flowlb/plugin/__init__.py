"""The parts of flowlb's pytest plugin, each with one job; ``flowlb.pytest_plugin`` registers them.

- :mod:`~flowlb.plugin.options`: the command-line options, their checks, the run's configure and unconfigure;
- :mod:`~flowlb.plugin.report`: the run report (each check's outcome, the verdict, the exit code, the causes);
- :mod:`~flowlb.plugin.start`: the session's cluster (a harness target, the shared cluster, a live LB) and the
  long waits' twin;
- :mod:`~flowlb.plugin.fixtures`: what a check asks for of the cluster (``lb``, ``node_control``, ``runtime``...);
- :mod:`~flowlb.plugin.clients`: the clients a check talks to the LB with (``http``, ``stomp_session``, ``backend``);
- :mod:`~flowlb.plugin.keys`: the stash keys and marks the parts share.
"""
