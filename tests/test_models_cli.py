"""``mertool models list|show|table`` through the CLI runner."""

from __future__ import annotations

import json

import pytest

from mertool.models import model_names

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_models_list_json_has_every_model_with_cost(cli):
    result = cli("models", "list", "--json")
    assert result.exit_code == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert set(rows) == set(model_names())  # every registered model, the zoo's and any other
    assert {"resnet50", "resnet50-se", "resnet50-cbam", "se-resnet50", "se-resnext50", "resnext50"} <= set(
        rows
    )
    assert {"resnet-abn", "dual-branch", "dfr-net", "ststnet", "off-apexnet"} <= set(rows)
    dfr = rows["dfr-net"]
    assert dfr["inputs"] == ["flow", "apex", "diff"] and dfr["input_size"] == 56
    assert dfr["options"]["fusion"]["choices"] == ["attn", "add", "mul", "cat"]
    assert 3.0e6 < dfr["params"] < 3.3e6 and 2.0 < dfr["gflops"] < 2.5


def test_models_list_table(cli):
    result = cli("models", "list", "--no-cost")
    assert result.exit_code == 0
    for name in model_names():
        assert name in result.stdout
    assert "[attn|add|mul|cat]" in result.stdout  # choices shown, not eaten as markup


def test_models_show_layers(cli):
    result = cli("models", "show", "dfr-net", "--opt", "stages=2", "--opt", "attention=ca", "--size", "64")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "backbone.layer2" in out and "backbone.layer3" not in out
    assert "attention=ca" in out and "1x128x32x32" in out
    assert "total: 1,008,387 parameters" in out


def test_models_show_json_and_option_types(cli):
    result = cli(
        "models", "show", "resnet-abn", "--opt", "arcface=true", "--opt", "arcface_scale=64", "--json"
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["options"]["arcface"] is True and summary["options"]["arcface_scale"] == 64.0
    assert any(r["name"] == "arcface" and r["type"] == "ArcFaceHead" for r in summary["layers"])
    assert summary["inputs"] == {"face": [1, 3, 224, 224]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("models", "show", "dfr-net", "--opt", "fusion=sum"), "not one of"),
        (("models", "show", "dfr-net", "--opt", "layers=2"), "no option"),
        (("models", "show", "dfr-net", "--opt", "stages"), "expected KEY=VALUE"),
        (("models", "show", "nonet"), "unknown model"),
    ],
)
def test_models_show_errors(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_models_table_formats(cli):
    md = cli("models", "table", "--markdown")
    assert md.exit_code == 0, md.stderr
    assert md.stdout.startswith("| paper | row | model |")
    assert "| Hu et al. | SE-ResNet-50 | se-resnet50 |" in md.stdout
    assert "more than 15%" not in md.stderr
    csv = cli("models", "table", "--csv")
    assert csv.stdout.splitlines()[0].startswith("source,row,model,options,input")
    rows = json.loads(cli("models", "table", "--json").stdout)
    assert {r["source"] for r in rows} == {"002 T7", "004 T5", "004 T7", "004 T9", "Hu et al."}
