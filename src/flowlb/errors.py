"""The one exception type flowlb's commands turn into a one-line message and a non-zero exit."""


class FlowlbError(Exception):
    """A failure the operator can act on; ``str(error)`` is the whole message, one line."""


class SpecError(FlowlbError):
    """The cluster spec is invalid; the message names the file and the key."""


class HAProxyConfigError(FlowlbError):
    """HAProxy rejected a configuration; the message carries HAProxy's own reason and line."""


class TargetError(FlowlbError):
    """A cluster target could not be started, found or controlled."""


class ClusterTooBig(FlowlbError):
    """A config asks for more Flow nodes than the test cluster runs: bad input for the suite, whatever HAProxy says."""
