"""A mock CloudBees Flow (ElectricFlow) node: HTTP web and server ports, STOMP, and a control API.

One process is one node. It answers Flow's health URL according to a state that tests switch at
run time through the control port, echoes every other HTTP request as JSON naming the node that
answered, and runs a small in-memory STOMP broker. Standard library only, so the package can be
copied into images that have nothing but ``python3``::

    PYTHONPATH=src python3 -m flowlb.mocknode --name node1 --web-port 0 --server-port 0 \\
        --stomp-port 0 --control-port 0
"""
