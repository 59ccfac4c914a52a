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


@pytest.fixture(autouse=True)
def same_arithmetic_on_every_cpu(monkeypatch):
    """``--precision auto`` picks bf16 on CPUs with AMX and fp32 elsewhere; tests pin it
    to fp32 so that every CPU runs the same arithmetic (bf16 is tested by asking for it)."""
    import clipvg.clip

    monkeypatch.setattr(clipvg.clip, "cpu_flags", lambda: set())


@pytest.fixture
def tiny_model_name(tmp_path):
    """A tiny open_clip config registered under a name, so the real --clip-model /
    --clip-pretrained none path (load_clip) builds it."""
    import json

    import open_clip

    from clipvg.clip import tiny_config

    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "clipvg-test-tiny.json").write_text(json.dumps(tiny_config()))
    open_clip.add_model_config(folder)
    return "clipvg-test-tiny"


@pytest.fixture(scope="module")
def tiny():
    """A tiny random-init open_clip model (no download), shared by a test module."""
    from clipvg.clip import tiny_clip

    return tiny_clip()
