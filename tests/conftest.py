"""Shared fixtures.

``each_backend`` runs a test once per available backend (the NumPy reference and, when Numba is
installed, the Numba kernels), so the gradient checks and the torch parity tests hold for both.
Modules opt in with ``pytestmark = pytest.mark.usefixtures("each_backend")``.
"""

from __future__ import annotations

import pytest

from minivae.fast.backend import numba_available, use_backend

BACKENDS = ["numpy"] + (["numba"] if numba_available() else [])


@pytest.fixture(params=BACKENDS)
def each_backend(request: pytest.FixtureRequest):
    """Run the test under ``request.param`` and restore the previous backend afterwards."""
    with use_backend(request.param):
        yield request.param
