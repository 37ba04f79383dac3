"""Losses: CE options, focal == CE at gamma 0, focal weighting, ArcFace loss, ABN's attention loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mertool.errors import MertoolError
from mertool.models import build_model
from mertool.training.losses import FocalLoss, balanced_weights, build_loss, output_loss

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _batch(seed: int = 0, n: int = 16, k: int = 4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, k, generator=g) * 3, torch.randint(0, k, (n,), generator=g)


def test_focal_equals_cross_entropy_at_gamma_zero():
    logits, labels = _batch()
    focal = build_loss("focal", 4, gamma=0.0)
    assert focal(logits, labels).item() == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-6)
    assert FocalLoss(0.0)(logits, labels).item() == pytest.approx(
        F.cross_entropy(logits, labels).item(), rel=1e-6
    )


def test_focal_down_weights_easy_examples_and_alpha_weights_classes():
    logits, labels = _batch(1)
    p = F.softmax(logits, 1).gather(1, labels[:, None]).squeeze(1)
    expected = (-((1 - p) ** 2) * p.log()).mean()
    assert build_loss("focal", 4, gamma=2.0)(logits, labels).item() == pytest.approx(
        expected.item(), rel=1e-5
    )
    assert build_loss("focal", 4, gamma=2.0)(logits, labels) < F.cross_entropy(logits, labels)
    alpha = [0.5, 1.0, 2.0, 4.0]
    weighted = build_loss("focal", 4, gamma=0.0, alpha=alpha)(logits, labels)
    manual = (torch.tensor(alpha)[labels] * F.cross_entropy(logits, labels, reduction="none")).mean()
    assert weighted.item() == pytest.approx(manual.item(), rel=1e-6)
    assert build_loss("focal", 4, gamma=0.0, alpha="0.5, 1, 2, 4")(logits, labels).item() == pytest.approx(
        manual.item(), rel=1e-6
    )


def test_cross_entropy_options():
    logits, labels = _batch(2)
    ce = build_loss("ce", 4)
    assert ce(logits, labels).item() == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-6)
    w = [1.0, 2.0, 3.0, 4.0]
    assert build_loss("ce", 4, class_weights=w)(logits, labels).item() == pytest.approx(
        F.cross_entropy(logits, labels, weight=torch.tensor(w)).item(), rel=1e-6
    )
    assert build_loss("ce", 4, label_smoothing=0.1)(logits, labels).item() == pytest.approx(
        F.cross_entropy(logits, labels, label_smoothing=0.1).item(), rel=1e-6
    )
    counts = [10, 5, 0, 5]
    assert balanced_weights(counts) == [0.5, 1.0, 0.0, 1.0]
    balanced = build_loss("ce", 4, class_weights="balanced", class_counts=counts)
    assert torch.allclose(balanced.weight, torch.tensor([0.5, 1.0, 0.0, 1.0]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "hinge"}, "unknown loss"),
        ({"name": "ce", "class_weights": [1.0, 2.0]}, "2 values for 4 classes"),
        ({"name": "ce", "class_weights": "balanced"}, "needs the training class counts"),
        ({"name": "ce", "label_smoothing": 1.5}, "label_smoothing"),
        ({"name": "focal", "gamma": -1.0}, "gamma"),
        ({"name": "focal", "alpha": "a,b"}, "comma-separated"),
    ],
)
def test_loss_errors_are_mertool_errors(kwargs, message):
    name = kwargs.pop("name")
    with pytest.raises(MertoolError, match=message):
        build_loss(name, 4, **kwargs)


def test_output_loss_uses_margin_logits_and_aux_heads():
    logits, labels = _batch(3)
    margin = logits - 1.0
    aux = logits * 0.5
    ce = build_loss("ce", 4)
    out = {"logits": logits, "loss_logits": margin, "aux_logits": [aux], "aux_weight": 0.25}
    expected = F.cross_entropy(margin, labels) + 0.25 * F.cross_entropy(aux, labels)
    assert output_loss(out, labels, ce).item() == pytest.approx(expected.item(), rel=1e-6)
    assert output_loss({"logits": logits}, labels, ce).item() == pytest.approx(
        F.cross_entropy(logits, labels).item(), rel=1e-6
    )


def test_arcface_loss_needs_margin_logits():
    logits, labels = _batch(4)
    arc = build_loss("arcface", 4)
    with pytest.raises(MertoolError, match="ArcFace head"):
        output_loss({"logits": logits}, labels, arc)
    assert output_loss({"logits": logits, "loss_logits": logits}, labels, arc).item() == pytest.approx(
        F.cross_entropy(logits, labels).item(), rel=1e-6
    )


def test_abn_attention_loss_reaches_the_optimiser():
    torch.manual_seed(0)
    model = build_model("resnet-abn", 3)
    branch = model.attention_branch
    x = {"face": torch.rand(2, 3, 32, 32)}
    y = torch.tensor([0, 2])
    out = model(x, y)
    loss = output_loss(out, y, build_loss("ce", 3))
    loss.backward()
    # the attention branch's own classifier gets gradient only through the aux (attention) loss
    assert branch.classifier.weight.grad is not None and branch.classifier.weight.grad.abs().sum() > 0
    assert branch.to_map.weight.grad.abs().sum() > 0  # and the map through the perception branch
    before = branch.classifier.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    opt.step()
    assert not torch.equal(before, branch.classifier.weight.detach())
    # without the aux term the attention classifier would get no gradient at all
    model.zero_grad(set_to_none=True)
    out = model(x, y)
    F.cross_entropy(out["logits"], y).backward()
    assert branch.classifier.weight.grad is None or branch.classifier.weight.grad.abs().sum() == 0
