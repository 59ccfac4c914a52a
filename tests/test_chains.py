"""Closed cubic chains: numpy and torch give the same chains."""

import numpy as np
import torch

from clipvg.chains import reverse_chain, straight_chain


def test_a_straight_chain_puts_the_controls_on_its_edges():
    square = np.array([[0.0, 0.0], [3.0, 0.0], [3.0, 3.0], [0.0, 3.0]])
    chain = straight_chain(square)
    assert chain.shape == (12, 2)
    assert chain[3:6].tolist() == [[3.0, 0.0], [3.0, 1.0], [3.0, 2.0]]
    assert chain[9:12].tolist() == [[0.0, 3.0], [0.0, 2.0], [0.0, 1.0]]
    assert torch.equal(straight_chain(torch.as_tensor(square)), torch.as_tensor(chain))


def test_reversing_walks_the_same_segments_backwards_from_the_same_anchor():
    rng = np.random.default_rng(0)
    chain = rng.normal(size=(9, 2))
    back = reverse_chain(chain)
    assert back[0].tolist() == chain[0].tolist()
    # segment 2 walked backwards: anchor 0 (its end), its second control, its first
    assert back[1:3].tolist() == [chain[8].tolist(), chain[7].tolist()]
    assert back[3].tolist() == chain[6].tolist()
    assert np.array_equal(reverse_chain(back), chain)
    assert torch.equal(reverse_chain(torch.as_tensor(chain)), torch.as_tensor(back))


def test_a_straight_chain_carries_gradients():
    anchors = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 2.0]], requires_grad=True)
    straight_chain(anchors).sum().backward()
    assert torch.equal(anchors.grad, torch.full((3, 2), 3.0))
