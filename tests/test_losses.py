"""Tests of clipvg.losses: directional CLIP loss on hand-made features."""

import pytest
import torch
from tolerance import U32

from clipvg.errors import ClipvgError
from clipvg.losses import (
    DIRECTION_FLOOR,
    FLOOR_FRACTION,
    direction_floor,
    directional_loss,
    image_direction,
    roi_loss,
    text_direction,
)

#: float32 on 3-vectors: two normalizations, a difference and a dot product are fewer
#: than 32 roundings of values <= 2, so results are off by less than 64 u.
SMALL = 64 * U32


def test_text_direction_is_the_shift_of_unit_features_from_source_to_target():
    d = text_direction(torch.tensor([2.0, 0, 0]), torch.tensor([0, 3.0, 0]))
    assert torch.allclose(d, torch.tensor([1.0, -1.0, 0]), rtol=0, atol=SMALL)


@pytest.mark.parametrize("length", [1e-4, 0.1, 1.0, 2.0])
def test_floor_is_a_fraction_of_the_text_shift_never_below_the_minimum(length):
    d = torch.tensor([0.0, length, 0.0])
    expected = max(DIRECTION_FLOOR, FLOOR_FRACTION * length)
    assert float(direction_floor(d)) == pytest.approx(expected, rel=SMALL)
    assert direction_floor(d.expand(4, 3)).shape == (4, 1)


def test_loss_pays_for_length_below_the_floor_and_only_for_angle_above_it():
    """Below the floor (half the text shift) the loss is 1 - dI.dT / floor, linear in
    the step; above it, 1 - cos(dI, dT). An absolute 0.01 floor would be direction-only
    from the first small step."""
    initial = torch.tensor([[1.0, 0.0, 0.0]])
    shift = torch.tensor([0.0, 0.8, 0.0])  # floor 0.4
    unit = torch.tensor([0.0, 1.0, 0.0])
    for y in (0.1, 0.2, 0.3, 0.5, 0.8):
        current = torch.tensor([[1.0, y, 0.0]])
        d = torch.nn.functional.normalize(current, dim=-1) - initial
        dot = float(d[0] @ unit)
        expected = 1 - dot / max(0.4, float(d.norm()))
        assert float(directional_loss(current, initial, shift)) == pytest.approx(
            expected, abs=SMALL
        )
    small = torch.tensor([[1.0, 0.1, 0.0]])
    assert float(directional_loss(small, initial, shift)) > 0.7  # 0.1 of the way: 1 - 0.1/0.4
    assert float(directional_loss(small, initial, shift, floor=0.01)) < 0.01


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
