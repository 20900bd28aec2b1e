"""Plumbing for the Locust scenarios in ``loadtests/flow.py``: options, TLS, the STOMP user, SLO gates.

Importing Locust monkey-patches the process with gevent, so only the Locust side imports these
modules; the pytest side runs Locust as a subprocess (see :mod:`flowlb.load.runner`).
"""
