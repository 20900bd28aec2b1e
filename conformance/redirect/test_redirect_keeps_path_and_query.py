"""Check `redirect/redirect_keeps_path_and_query`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import urllib3

from flowlb.targets.base import Target

PATH = "/commander/link/jobDetails/jobs/42"
QUERY = "s=Jobs&filter=a%20b"


def test_redirect_keeps_path_and_query(lb: Target, http: Callable[..., urllib3.HTTPConnectionPool]) -> None:
    reply = http("http").request("GET", f"{PATH}?{QUERY}", headers={"Host": lb.endpoints.server_name}, redirect=False)
    location = urlsplit(reply.headers.get("Location", ""))
    assert (location.path, location.query) == (PATH, QUERY), (
        f"the redirect of {PATH}?{QUERY} goes to {reply.headers.get('Location')!r}: links and bookmarks break. "
        "Fix: redirect with `scheme https` or a location built from `%[capture.req.uri]`."
    )
