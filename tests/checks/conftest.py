"""What the fast tests of ``flowlb.checks`` share: the TLS files of a loopback LB named ``lb.test``."""

from __future__ import annotations

import pytest

from flowlb.tls import CertificateFiles, make_certificates


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return make_certificates(tmp_path_factory.mktemp("tls"), ["lb.test"])
