"""Shared fixtures.

``each_backend`` runs a test once per available backend (the NumPy reference and, when Numba is
installed, the Numba kernels), so the gradient checks and the torch parity tests hold for both.
Modules opt in with ``pytestmark = pytest.mark.usefixtures("each_backend")``.
``no_network`` makes any download fail the test (see ``tests/fake_mnist.py``).
"""

from __future__ import annotations

import urllib.request

import pytest

from minivae.fast.backend import numba_available, use_backend

BACKENDS = ["numpy"] + (["numba"] if numba_available() else [])


@pytest.fixture(params=BACKENDS)
def each_backend(request: pytest.FixtureRequest):
    """Run the test under ``request.param`` and restore the previous backend afterwards."""
    with use_backend(request.param):
        yield request.param


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any download fail the test (``urlopen`` refuses; ``MINIVAE_NO_DOWNLOAD`` is set).

    The experiment tests use it with the tiny files of ``tests/fake_mnist.py``; modules opt in
    with ``pytestmark = pytest.mark.usefixtures("no_network")``.
    """

    def refuse(*args, **kwargs):
        raise AssertionError("tests must never download")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setenv("MINIVAE_NO_DOWNLOAD", "1")
