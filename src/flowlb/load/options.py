"""The Flow options on Locust's own parser, each with an environment variable, and their parsing.

They appear in Locust's web UI under "Custom parameters" (Locust's ``--help`` does not load the
locustfile, so it does not list them); every one can be set as ``FLOWLB_*`` instead, which is how
``flowlb load`` and Locust's workers receive them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flowlb.load import searchoptions

SCENARIOS = ("api", "handshake", "stomp")
DEFAULT_MIX = "api=4,handshake=1,stomp=2"


def add_arguments(parser: Any) -> None:
    """Register the options on Locust's parser (``events.init_command_line_parser``)."""
    group = parser.add_argument_group("Flow load balancer", "flowlb's scenarios on 8443 (HTTPS) and 61613 (STOMP)")
    group.add_argument("--ca-file", env_var="FLOWLB_CA_FILE", default="",
                       help="CA that signed the LB certificate; verification is on unless --insecure")
    group.add_argument("--lb-name", env_var="FLOWLB_LB_NAME", default="",
                       help="the name the LB's certificate is for, sent as SNI and verified (default: the host "
                            "dialled; give it when --host and --stomp-host are the LB's address)")
    group.add_argument("--insecure", env_var="FLOWLB_INSECURE", action="store_true", default=False,
                       help="do not verify the LB certificate (opt-out, for a staging LB with a private CA you lack)")
    group.add_argument("--flow-mix", env_var="FLOWLB_MIX", default=DEFAULT_MIX,
                       help=f"weights of {', '.join(SCENARIOS)}; 0 leaves one out (default {DEFAULT_MIX})")
    group.add_argument("--stomp-host", env_var="FLOWLB_STOMP_HOST", default="",
                       help="STOMP endpoint host (default: the --host's)")
    group.add_argument("--stomp-port", env_var="FLOWLB_STOMP_PORT", type=int, default=61613,
                       help="STOMP-over-TLS port of the LB (default 61613)")
    group.add_argument("--stomp-plain", env_var="FLOWLB_STOMP_PLAIN", action="store_true", default=False,
                       help="STOMP without TLS (to measure a broker directly, without the LB)")
    group.add_argument("--stomp-vhost", env_var="FLOWLB_STOMP_VHOST", default="",
                       help="CONNECT host header (default: the STOMP host; RabbitMQ wants '/')")
    group.add_argument("--stomp-destination", env_var="FLOWLB_STOMP_DESTINATION", default="/queue/flowlb.load",
                       help="destination prefix for SENDs; each user subscribes to <prefix>.<user>")
    group.add_argument("--message-size", env_var="FLOWLB_MESSAGE_SIZE", type=int, default=256,
                       help="bytes in a STOMP message body and a POSTed body (default 256)")
    group.add_argument("--slo-p95-ms", env_var="FLOWLB_SLO_P95_MS", default="",
                       help="p95 limits per path, e.g. 'https=200,stomp=100' (ms); a breach sets exit code 1")
    group.add_argument("--slo-failure-ratio", env_var="FLOWLB_SLO_FAILURE_RATIO", type=float, default=0.01,
                       help="highest tolerated share of failed requests (default 0.01); above it exit code 1")
    search = parser.add_argument_group("Capacity search", "loadtests/capacity.py steps users up until the SLO breaks")
    searchoptions.add_locust_options(search)  # --capacity-step-users and the others: one table with flowlb load's
    search.add_argument("--capacity-file", env_var="FLOWLB_CAPACITY_FILE", default="",
                        help="JSON file for the steps and the verdict, rewritten after every step")


@dataclass(frozen=True)
class StompTarget:
    """Where the STOMP users connect and how."""

    host: str
    port: int
    tls: bool
    ca_file: str
    verify: bool
    destination: str
    vhost: str = ""
    server_name: str = ""  # --lb-name: what the certificate is verified against, when not the host dialled


def parse_weights(text: str, names: tuple[str, ...], what: str) -> dict[str, float]:
    """``"a=1,b=2"`` into ``{"a": 1.0, "b": 2.0}``; unknown names or bad numbers raise ``ValueError``."""
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in names:
            raise ValueError(f"{what}: '{item}' is not <name>=<number> with a name among {', '.join(names)}")
        try:
            weights[name] = float(value)
        except ValueError:
            raise ValueError(f"{what}: '{value.strip()}' in '{item}' is not a number") from None
        if weights[name] < 0:
            raise ValueError(f"{what}: '{item}' is negative")
    return weights


def check_mix(text: str, what: str) -> dict[str, float]:
    """``parse_weights`` for the scenario mix, which must also leave some user to run, each weight a whole number."""
    weights = parse_weights(text, SCENARIOS, what)
    for name, weight in weights.items():
        if weight != int(weight):
            raise ValueError(f"{what}: the weight of {name} must be a whole number, not {weight:g}")
    if not any(weights.get(name, 1) > 0 for name in SCENARIOS):
        raise ValueError(f"{what}: '{text}' gives every scenario the weight 0: no user would run")
    return weights


def stomp_target(options: Any, host_url: str) -> StompTarget:
    """The STOMP endpoint from the options: ``--stomp-host`` or the host of Locust's ``--host``."""
    host = options.stomp_host or urlsplit(host_url or "").hostname or "127.0.0.1"
    return StompTarget(
        host=host,
        port=options.stomp_port,
        tls=not options.stomp_plain,
        ca_file=options.ca_file,
        verify=not options.insecure,
        destination=options.stomp_destination,
        vhost=options.stomp_vhost,
        server_name=getattr(options, "lb_name", "") or "",
    )


def check_options(argv: list[str]) -> None:
    """Locust's options and the Flow ones as a Locust run will read them (``argv``, then ``FLOWLB_*`` and
    ``LOCUST_*`` variables), checked before any cluster starts; ``ValueError`` with one line naming the option.

    The check runs in a child interpreter: importing Locust runs gevent's ``monkey.patch_all()``, and in
    ``flowlb load``'s own process that turns its signal handlers and threads into greenlets, so a Ctrl-C
    became a greenlet's traceback instead of the run's clean interrupt.
    """
    import subprocess
    import sys

    try:
        checked = subprocess.run([sys.executable, "-m", "flowlb.load.options", *argv], check=False,
                                 stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=CHECK_SECONDS)
    except subprocess.TimeoutExpired:
        raise ValueError(f"checking Locust's options took over {CHECK_SECONDS} s") from None
    if checked.returncode == 0:
        return
    lines = checked.stderr.strip().splitlines() or [f"exit code {checked.returncode}"]
    if checked.returncode == BAD_OPTION:
        raise ValueError(lines[-1])
    raise ValueError(f"checking Locust's options failed: {lines[-1]}")


CHECK_SECONDS = 120
BAD_OPTION = 2


def check_here(argv: list[str]) -> None:
    """``check_options`` in this process, which Locust's import patches with gevent.

    Options this parser does not know (a locustfile's own) are left to the locustfile.
    """
    from locust.argument_parser import get_empty_argument_parser, setup_parser_arguments

    from flowlb.load.credentials import add_arguments as add_credentials
    from flowlb.load.credentials import login_from, refuse_password_arguments
    from flowlb.load.paths import PATHS

    refuse_password_arguments(argv)
    parser = get_empty_argument_parser(add_help=False)
    setup_parser_arguments(parser)
    locustfile = _locustfile_of(argv)
    if locustfile:
        _load_locustfile(locustfile)  # its own options join the parser, as they do when Locust runs it
        import locust

        locust.events.init_command_line_parser.fire(parser=parser)
    else:
        add_arguments(parser)
        add_credentials(parser)

    def error(message: str) -> None:
        raise ValueError(f"{message} (on the command line or in its environment variable)")

    parser.error = error  # argparse's own prints the usage and exits; one line is enough
    if locustfile:
        parsed = parser.parse_args(argv)  # every option is known now: an unknown one is a mistake
    else:
        parsed, _unknown = parser.parse_known_args(argv)  # options only a locustfile knows are left to it
    if not hasattr(parsed, "flow_mix"):
        return  # a locustfile of the user's own, without the Flow options
    check_mix(parsed.flow_mix, "--mix (FLOWLB_MIX)")
    if hasattr(parsed, "flow_user"):
        login_from(parsed.flow_user, parsed.flow_password_file)  # the password is read here and nowhere shown
    parse_weights(parsed.slo_p95_ms, PATHS, "--slo-p95-ms (FLOWLB_SLO_P95_MS)")
    for name, value, low, high in (
        ("--slo-failure-ratio (FLOWLB_SLO_FAILURE_RATIO)", parsed.slo_failure_ratio, 0, 1),
        ("--stomp-port (FLOWLB_STOMP_PORT)", parsed.stomp_port, 1, 65535),
        ("--message-size (FLOWLB_MESSAGE_SIZE)", parsed.message_size, 0, 16 << 20),
    ):
        if not low <= value <= high:  # NaN too
            raise ValueError(f"{name} {value!r}: give a number from {low} to {high}")
    searchoptions.check(searchoptions.from_locust(parsed), lambda option: f"{option.locust_flag} ({option.variable})")


def _locustfile_of(argv: list[str]) -> str:
    """The ``-f``/``--locustfile`` in ``argv``, or ``""``."""
    for index, word in enumerate(argv):
        if word in ("-f", "--locustfile") and index + 1 < len(argv):
            return argv[index + 1]
        if word.startswith("--locustfile="):
            return word.partition("=")[2]
    return ""


def _load_locustfile(path: str) -> None:
    """Import the locustfile as Locust does; anything that stops it is one line naming the file."""
    from locust.util.load_locustfile import load_locustfile

    try:
        load_locustfile(path)
    except BaseException as exc:  # noqa: BLE001 - a locustfile may raise anything, SystemExit included
        raise ValueError(f"--locustfile {path}: Locust cannot load it: {type(exc).__name__}: {exc}") from None


def check_locustfile(path: Path) -> None:
    """A locustfile is a regular ``.py`` file of Python, checked before any cluster starts: one-line ``ValueError``."""
    from flowlb.errors import FlowlbError
    from flowlb.inputs import read_input

    try:
        source = read_input(path, "locustfile")
    except FlowlbError as exc:
        raise ValueError(f"--locustfile {exc}") from None
    if path.suffix != ".py":
        raise ValueError(f"--locustfile {path}: not a .py file (Locust imports a locustfile as a Python module)")
    try:
        compile(source, str(path), "exec")
    except (SyntaxError, ValueError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
        raise ValueError(f"--locustfile {path}: not Python{where}: {getattr(exc, 'msg', exc)}") from None


if __name__ == "__main__":
    import sys

    try:
        check_here(sys.argv[1:])
    except ValueError as exc:
        print(exc, file=sys.stderr)
        sys.exit(BAD_OPTION)
