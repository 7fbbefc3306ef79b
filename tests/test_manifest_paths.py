"""One ``{data_root}`` rule: v2s-preprocess and v2s-evaluate read a manifest's
paths the same way (speechbrain_v2s.manifest_paths)."""

import json

import pytest

from speechbrain_v2s.evaluation.references import reference_files
from speechbrain_v2s.manifest_paths import DATA_ROOT_PLACEHOLDERS, fill_data_root
from speechbrain_v2s.video.inputs import collect_inputs


@pytest.mark.parametrize("placeholder", DATA_ROOT_PLACEHOLDERS)
def test_preprocess_and_evaluate_fill_the_same_placeholders(tmp_path, placeholder):
    root = tmp_path / "GRID"
    entry = {"video": f"{placeholder}/s1/a.mpg", "wav": f"{placeholder}/s1/a.wav"}
    manifest = tmp_path / "test.json"
    manifest.write_text(json.dumps({"s1_a": entry}))
    (item,) = collect_inputs(str(manifest), data_root=str(root))
    assert item["video"] == str(root / "s1" / "a.mpg")
    assert item["wav"] == str(root / "s1" / "a.wav")
    assert reference_files(manifest=str(manifest), data_root=root) == {
        "s1_a": str(root / "s1" / "a.wav")
    }


def test_without_data_root_a_placeholder_is_one_clear_error(tmp_path):
    from speechbrain_v2s.evaluation import EvaluationError

    manifest = tmp_path / "test.json"
    manifest.write_text(json.dumps({"u": {"wav": "{data_root}/a.wav"}}))
    with pytest.raises(EvaluationError, match="entry u has .data_root.*--data-root"):
        reference_files(manifest=str(manifest))
    assert fill_data_root("{data_root}/a.wav", None) == "{data_root}/a.wav"
