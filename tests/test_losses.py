"""Tests of clipvg.losses: directional CLIP loss on hand-made features."""

import pytest
import torch
from tolerance import U32

from clipvg.errors import ClipvgError
from clipvg.losses import directional_loss, image_direction, roi_loss, text_direction

#: float32 on 3-vectors: two normalizations, a difference and a dot product are fewer
#: than 32 roundings of values <= 2, so results are off by less than 64 u.
SMALL = 64 * U32


def test_text_direction_is_unit_and_points_from_source_to_target():
    d = text_direction(torch.tensor([1.0, 0, 0]), torch.tensor([0, 1.0, 0]))
    assert torch.allclose(d, torch.tensor([1.0, -1.0, 0]) / 2**0.5, rtol=0, atol=SMALL)


def test_same_prompt_and_source_is_an_error():
    with pytest.raises(ClipvgError, match="source prompt"):
        text_direction(torch.tensor([1.0, 2, 3]), torch.tensor([2.0, 4, 6]))


@pytest.mark.parametrize(
    "target,source,expected",
    [
        ([1.0, 0, 0], [0, 0, 1.0], 0.0),
        ([0, 0, 1.0], [1.0, 0, 0], 2.0),
        ([0, 1.0, 0], [0, -1.0, 0], 1.0),
        ([0, 1.0, 0], [0, 0, 1.0], 0.5),
    ],
)
def test_loss_values(target, source, expected):
    initial = torch.tensor([[0.0, 0.0, 2.0]])  # scale does not matter: features are normalized
    current = torch.tensor([[3.0, 0.0, 0.0]])
    dt = text_direction(torch.tensor(target), torch.tensor(source))
    loss = directional_loss(current, initial, dt)
    assert loss.shape == (1,) and float(loss) == pytest.approx(expected, abs=SMALL)


def test_zero_direction_has_finite_gradient_toward_text():
    initial = torch.tensor([[0.3, 0.4, 0.5]])
    current = initial.clone().requires_grad_(True)
    dt = torch.tensor([1.0, 0, 0])
    loss = directional_loss(current, initial, dt)
    loss.sum().backward()
    assert float(loss.detach()) == 1.0  # current == initial: d is exactly 0
    assert torch.isfinite(current.grad).all() and float(current.grad[0, 0]) < 0  # descent raises x


def test_image_direction_normalizes_long_and_keeps_short():
    long = image_direction(torch.tensor([[1.0, 0, 0]]), torch.tensor([[0.0, 1.0, 0]]))
    assert float(long.norm()) == pytest.approx(1.0, abs=SMALL)
    short = image_direction(torch.tensor([[1.0, 1e-3, 0]]), torch.tensor([[1.0, 0, 0]]))
    assert float(short.norm()) < 0.2


def test_gradcheck_double():
    initial = torch.randn(3, 5, dtype=torch.float64)
    current = (initial + torch.randn(3, 5, dtype=torch.float64)).requires_grad_(True)
    dt = torch.nn.functional.normalize(torch.randn(5, dtype=torch.float64), dim=0)
    assert torch.autograd.gradcheck(lambda c: directional_loss(c, initial, dt), (current,))


def test_roi_loss_weights_whole_and_mean_patch():
    out = roi_loss(torch.tensor([0.5]), torch.tensor([1.0, 0.0]), 30, 80)
    # halves, means of two and small integers are exact in float32
    assert float(out) == 30 * 0.5 + 80 * 0.5
    assert float(roi_loss(torch.tensor([0.5]), torch.tensor([]), 30, 80)) == 15


def test_shape_mismatch_raises():
    with pytest.raises(ClipvgError):
        directional_loss(torch.zeros(2, 3), torch.zeros(3, 3), torch.ones(3))
