"""--pretrained imagenet (cache only, never a download) and --pretrained FILE (partial loads reported)."""

from __future__ import annotations

import pytest
import torch

from mertool.errors import EnvironmentProblem, MertoolError
from mertool.models import build_model

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    """An empty torch hub cache: what an offline machine without downloaded weights has."""
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_imagenet_offline_without_cache_names_the_file(hub_dir):
    with pytest.raises(EnvironmentProblem) as err:
        build_model("dfr-net", 3, pretrained="imagenet")
    message = str(err.value)
    assert "resnet18-f37072fd.pth" in message
    assert str(hub_dir / "checkpoints") in message
    assert "does not download" in message
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in err.value.hint
    assert not (hub_dir / "checkpoints").exists() or not any((hub_dir / "checkpoints").iterdir())


def test_imagenet_offline_through_the_cli(hub_dir, cli):
    result = cli("models", "show", "resnet50", "--opt", "pretrained=imagenet")
    assert result.exit_code == 2
    assert "not in the torch cache" in result.stderr
    assert "resnet50-" in result.stderr and ".pth" in result.stderr


def test_imagenet_from_the_cache_loads_the_trunk(hub_dir):
    import torchvision

    torch.manual_seed(1)
    reference = torchvision.models.resnet18().state_dict()
    (hub_dir / "checkpoints").mkdir(parents=True)
    torch.save(reference, hub_dir / "checkpoints" / "resnet18-f37072fd.pth")
    model = build_model("resnet-abn", 3, pretrained="imagenet")
    report = model.pretrained_report
    assert torch.equal(model.layer3[1].conv2.weight, reference["layer3.1.conv2.weight"])
    assert torch.equal(model.conv1.weight, reference["conv1.weight"])
    assert "layer4.0.conv1.weight" in report.loaded
    assert any(k.startswith("attention_branch.") for k in report.missing)
    assert any(k.startswith("fc.weight") for k in report.mismatched)  # 1000 ImageNet classes vs 3
    assert not report.unexpected
    # the 3D stem cannot take the 2D conv1: skipped for its shape, the rest loads
    model3 = build_model("resnet-abn", 3, input="3frames", pretrained="imagenet")
    assert any(k.startswith("conv1.conv.weight") for k in model3.pretrained_report.missing)
    assert "conv1.weight" in model3.pretrained_report.unexpected
    # dual-branch ResNet12 takes ResNet-18's first three stages under its global_branch prefix
    dual = build_model("dual-branch", 3, variant="GFEM", pretrained="imagenet")
    assert torch.equal(dual.global_branch.layer2[0].conv1.weight, reference["layer2.0.conv1.weight"])
    assert any(k.startswith("layer4.") for k in dual.pretrained_report.unexpected)


def test_imagenet_on_a_model_without_trunk_is_an_error():
    with pytest.raises(MertoolError, match="no torchvision ResNet"):
        build_model("ststnet", 3, pretrained="imagenet")
    with pytest.raises(MertoolError, match="no torchvision ResNet"):
        build_model("dfr-net", 3, backbone="alexnet", pretrained="imagenet")


def test_state_dict_file_reports_missing_unexpected_and_mismatched(tmp_path):
    torch.manual_seed(0)
    source = build_model("dfr-net", 5, attention="all", stages=1)
    path = tmp_path / "dfr.pt"
    torch.save(source.state_dict(), path)
    target = build_model("dfr-net", 3, attention="none", stages=1, pretrained=str(path))
    report = target.pretrained_report
    assert report.unexpected and all(".attn." in k for k in report.unexpected)
    assert sorted(k.split(" ")[0] for k in report.mismatched) == ["fc.bias", "fc.weight"]
    assert sorted(report.missing) == ["fc.bias", "fc.weight"]
    assert torch.equal(target.backbone.layer1[0].conv1.weight, source.backbone.layer1[0].conv1.weight)
    assert "missing" in report.summary() and "unexpected" in report.summary()
    # the other way round: the attention weights are missing and keep their initialisation
    torch.save(
        {"state_dict": {f"module.{k}": v for k, v in target.state_dict().items()}}, tmp_path / "wrapped.pt"
    )
    back = build_model("dfr-net", 3, attention="all", stages=1, pretrained=str(tmp_path / "wrapped.pt"))
    assert back.pretrained_report.missing and all(".attn." in k for k in back.pretrained_report.missing)
    assert not back.pretrained_report.unexpected


def test_state_dict_file_errors(tmp_path):
    with pytest.raises(MertoolError, match="no such file"):
        build_model("ststnet", 3, pretrained=str(tmp_path / "nope.pt"))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(MertoolError, match="not a readable torch state dict"):
        build_model("ststnet", 3, pretrained=str(bad))
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(MertoolError, match="no state dict"):
        build_model("ststnet", 3, pretrained=str(tmp_path / "list.pt"))
