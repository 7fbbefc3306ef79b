"""The model card's numbers come from the run's train log, read by the one
train-log parser (``training.logs``), ``nan`` included."""

import yaml

from speechbrain_v2s.hub_card import card_fields, last_logged_metrics, render_card

LOG = (
    "epoch: 1, lr: 1.00e-03 - train loss: 3.10 - valid loss: 2.50, valid stoi: 0.40\n"
    "epoch: 2, lr: 5.00e-04 - train loss: nan - valid loss: nan, valid stoi: 0.45\n"
    "\n"
    "Epoch loaded: 2 - test loss: 1.25, test stoi: 0.61, test pesq: nan, "
    "test wer: 12.5\n"
)


def _run(tmp_path):
    run = tmp_path / "V2A"
    run.mkdir()
    (run / "train_log.txt").write_text(LOG, encoding="utf-8")
    return run


def test_last_line_of_the_stage_with_nan(tmp_path):
    log = _run(tmp_path) / "train_log.txt"
    valid = last_logged_metrics(str(log), "valid")
    assert valid["stoi"] == 0.45 and valid["loss"] != valid["loss"]  # nan
    test = last_logged_metrics(str(log), "test")
    assert sorted(test) == ["loss", "pesq", "stoi", "wer"]
    assert (test["loss"], test["stoi"], test["wer"]) == (1.25, 0.61, 12.5)
    assert last_logged_metrics(str(tmp_path / "missing.txt")) == {}


def test_card_shows_the_logged_numbers(tmp_path):
    hparams = {"arch": {"vocoder": None}, "data_folder": "/data/GRID"}
    fields = card_fields(_run(tmp_path), hparams, "v2a", tmp_path / "out", {})
    card = render_card("v2a", fields)
    assert "| PESQ ↑ | STOI ↑ | WER ↓ |" in card
    assert "| nan | 0.610 | 12.500 |" in card
    # the front matter stays valid metadata: numbers only, no nan entry
    front = yaml.safe_load(card.split("---")[1])
    metrics = front["model-index"][0]["results"][0]["metrics"]
    assert {m["type"]: m["value"] for m in metrics} == {"stoi": 0.61, "wer": 12.5}
