"""``flowlb``: the command line. Every failure is one line on stderr and a non-zero exit.

flowlb generate [--spec PATH] [--profile kb|hardened] [--cert PATH] [-o FILE]
flowlb up [--target auto|containers|local] [--spec PATH] [--profile kb|hardened] [--hold]
flowlb mock-node --name node1 [--host H] [--web-port P] [--server-port P] [--stomp-port P] [--control-port P]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from flowlb.errors import FlowlbError
from flowlb.haproxy.layout import Layout
from flowlb.haproxy.render import render
from flowlb.spec import PROFILES, load_spec


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``flowlb`` command; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["mock-node"]:
        from flowlb.mocknode.__main__ import main as mock_node_main

        return mock_node_main(args[1:])
    parser = _parser()
    options = parser.parse_args(args)
    try:
        code: int = options.run(options)
    except FlowlbError as exc:
        print(f"flowlb: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("flowlb: interrupted", file=sys.stderr)
        return 130
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowlb", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="write haproxy.cfg for a cluster spec")
    generate.add_argument("--spec", type=Path, help="cluster spec (TOML); default fixtures/cluster.toml")
    generate.add_argument("--profile", choices=PROFILES, help="kb (the article) or hardened; default: the spec's")
    generate.add_argument("--cert", default="/etc/haproxy/server.pem", help="PEM path HAProxy serves on TLS ports")
    generate.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    generate.set_defaults(run=_generate)

    up = commands.add_parser("up", help="start a cluster, print its endpoints and how long it took")
    up.add_argument("--target", choices=("auto", "containers", "local"), default="auto")
    up.add_argument("--spec", type=Path, help="cluster spec (TOML); default fixtures/cluster.toml")
    up.add_argument("--profile", choices=PROFILES, help="default: the spec's")
    up.add_argument("--hold", action="store_true", help="keep it running until Ctrl-C (default: tear down)")
    up.set_defaults(run=_up)

    commands.add_parser("mock-node", help="run one mock Flow node (see flowlb mock-node --help)", add_help=False)
    return parser


def _generate(options: argparse.Namespace) -> int:
    spec = load_spec(options.spec)
    text = render(spec, options.profile or spec.profile, Layout.for_spec(spec, cert_path=options.cert))
    if options.output is None:
        sys.stdout.write(text)
    else:
        write_atomically(options.output, text)
    return 0


def _up(options: argparse.Namespace) -> int:
    import signal
    import time

    from flowlb.targets.select import choose_target, start_target

    spec = load_spec(options.spec)
    kind = choose_target(options.target)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    started = time.monotonic()
    target = start_target(kind, spec, options.profile or spec.profile)
    try:
        print(f"cluster ready on {kind} ({target.profile}) in {time.monotonic() - started:.2f} s")
        for role, endpoint in target.endpoints.by_role().items():
            print(f"  {role:<10} {endpoint.host}:{endpoint.port}")
        print(f"  CA file    {target.ca_file}  (verify the name {target.endpoints.server_name})")
        if options.hold:
            print("holding; Ctrl-C tears it down", flush=True)
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        stopping = time.monotonic()
        target.close()
        print(f"torn down in {time.monotonic() - stopping:.2f} s")
    return 0


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that no half-written file is ever left behind."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        raise FlowlbError(f"cannot write {path}: {exc.strerror or exc}") from None


if __name__ == "__main__":
    sys.exit(main())
