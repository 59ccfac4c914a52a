"""Shared test options: ``pytest --device cuda`` runs the device-aware tests on a GPU."""

import pytest
import torch

torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


def pytest_addoption(parser):
    parser.addoption("--device", default="cpu", help="device for device-aware tests: cpu or cuda")


@pytest.fixture
def device(request) -> torch.device:
    name = request.config.getoption("--device")
    if name.startswith("cuda") and not torch.cuda.is_available():
        pytest.skip("CUDA is not available on this machine")
    return torch.device(name)


@pytest.fixture(scope="module")
def tiny():
    """A tiny random-init open_clip model (no download), shared by a test module."""
    from clipvg.clip import tiny_clip

    return tiny_clip()
