"""Audio-only manifest preparation (``recipes/AudioOnly/A2A/audio_prepare.py``).

Every corpus is a tiny fake tree in its real layout, written here with real
(short) audio files; nothing is downloaded.
"""

import os

import numpy as np
import pytest
import soundfile
from prepare_helpers import (
    import_like_train_py,
    load,
    load_script,
    recipe_script,
    report_rows,
    run_script,
    tone,
    write_text,
)

from speechbrain_v2s.data import manifests

SCRIPT = recipe_script("AudioOnly", "A2A", "audio_prepare.py")
audio_prepare = load_script(SCRIPT)
prepare_audio = audio_prepare.prepare_audio


def write_audio(path, seconds=0.6, sr=16000, data=None, **kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    soundfile.write(path, tone(seconds, sr) if data is None else data, sr, **kwargs)
    return path


def read_report(save_folder):
    return {os.path.basename(r["file"]): r for r in report_rows(save_folder)}


def both(paths):
    return {**load(paths["train"]), **load(paths["valid"])}


# ---------------------------------------------------------------------------
# Fake corpora in their real layouts


def make_libritts(root):
    base = os.path.join(root, "LibriTTS")
    for subset, speaker, chapter in [
        ("dev-clean", "84", "121123"),
        ("dev-clean", "174", "50561"),
        ("train-clean-100", "19", "198"),
    ]:
        folder = os.path.join(base, subset, speaker, chapter)
        for i in range(2):
            utt = f"{speaker}_{chapter}_00000{i}_000001"
            write_audio(os.path.join(folder, utt + ".wav"), 0.6 + 0.1 * i, 24000)
            write_text(os.path.join(folder, utt + ".normalized.txt"), f"Norm {utt}.")
            write_text(os.path.join(folder, utt + ".original.txt"), f"Orig {utt}.")
    return base


def make_librispeech(root):
    base = os.path.join(root, "LibriSpeech")
    folder = os.path.join(base, "dev-clean", "1272", "128104")
    lines = []
    for i in range(3):
        utt = f"1272-128104-000{i}"
        write_audio(os.path.join(folder, utt + ".flac"), 0.7, 16000, format="FLAC")
        lines.append(f"{utt} MISTER QUILTER IS THE APOSTLE {i}")
    write_text(os.path.join(folder, "1272-128104.trans.txt"), "\n".join(lines) + "\n")
    write_text(os.path.join(base, "SPEAKERS.TXT"), "; speakers\n")
    return base


def make_vctk(root):
    base = os.path.join(root, "VCTK-Corpus-0.92")
    for speaker in ("p225", "p226"):
        for i in (1, 2):
            utt = f"{speaker}_00{i}"
            for mic in ("mic1", "mic2"):
                path = os.path.join(base, "wav48_silence_trimmed", speaker)
                write_audio(
                    os.path.join(path, f"{utt}_{mic}.flac"), 0.6, 48000, format="FLAC"
                )
            write_text(os.path.join(base, "txt", speaker, utt + ".txt"), f"Say {utt}.")
    return base


def make_old_vctk(root):
    base = os.path.join(root, "old")
    for i in (1, 2):
        utt = f"p227_00{i}"
        write_audio(os.path.join(base, "VCTK-Corpus", "wav48", "p227", utt + ".wav"))
        write_text(
            os.path.join(base, "VCTK-Corpus", "txt", "p227", utt + ".txt"), "Hi."
        )
    return base


def make_ljspeech(root):
    base = os.path.join(root, "LJSpeech-1.1")
    rows = [
        "LJ001-0001|Printing, in the only sense|Printing, in the only sense",
        "LJ001-0002|in being comparatively modern.|in being comparatively modern.",
        "LJ001-0003|For although the Chinese took 1 step|For although the Chinese "
        "took one step",
        "LJ001-0004|listed but missing|listed but missing",
    ]
    write_text(os.path.join(base, "metadata.csv"), "\n".join(rows) + "\n")
    for i in (1, 2, 3):
        write_audio(os.path.join(base, "wavs", f"LJ001-000{i}.wav"), 0.6, 22050)
    return base


def make_messy_folder(root):
    """A plain folder: good wav/flac/ogg/mp3, plus every kind of bad file."""
    base = os.path.join(root, "my_audio")
    write_audio(os.path.join(base, "anna", "a1.wav"))
    write_text(os.path.join(base, "anna", "a1.txt"), "hello there")
    write_audio(os.path.join(base, "anna", "a2.flac"), format="FLAC")
    write_audio(os.path.join(base, "bob", "sub", "b1.ogg"), sr=24000)
    write_audio(os.path.join(base, "bob", "b2.mp3"), sr=24000)
    write_audio(os.path.join(base, "root_level.wav"))
    # Bad files: never fatal, always reported.
    with open(os.path.join(base, "bob", "corrupt.wav"), "wb") as f:
        f.write(np.random.default_rng(0).bytes(2048))
    open(os.path.join(base, "bob", "empty.wav"), "wb").close()
    write_audio(os.path.join(base, "bob", "silent.wav"), data=np.zeros(16000))
    write_audio(os.path.join(base, "bob", "no_samples.wav"), data=np.zeros(0))
    write_audio(os.path.join(base, "bob", "short.wav"), seconds=0.2)
    write_text(os.path.join(base, "notes.txt"), "not audio")
    return base


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("corpora"))
    return {
        "libritts": make_libritts(root),
        "librispeech": make_librispeech(root),
        "vctk": make_vctk(root),
        "vctk_old": make_old_vctk(root),
        "ljspeech": make_ljspeech(root),
        "folder": make_messy_folder(root),
    }


def run(folders, save, **kwargs):
    kwargs.setdefault("progress", False)
    return prepare_audio(folders, str(save), **kwargs)


# ---------------------------------------------------------------------------
# Layouts


@pytest.mark.parametrize(
    "name, layout",
    [
        ("libritts", "libritts"),
        ("librispeech", "librispeech"),
        ("vctk", "vctk"),
        ("vctk_old", "vctk"),
        ("ljspeech", "ljspeech"),
        ("folder", "folder"),
    ],
)
def test_layout_detected_from_files(corpora, name, layout):
    assert audio_prepare.detect_layout(corpora[name]) == layout


def test_libritts(corpora, tmp_path):
    data = both(run(corpora["libritts"], tmp_path, valid_ratio=0.2))
    assert len(data) == 6
    entry = data["libritts_84_121123_000001_000001"]
    assert entry["spk_id"] == "libritts_84"
    assert entry["corpus"] == "libritts"
    assert entry["text"] == "Norm 84_121123_000001_000001."
    assert entry["sr"] == 24000
    assert entry["duration"] == pytest.approx(0.7)
    assert entry["wav"].endswith("dev-clean/84/121123/84_121123_000001_000001.wav")
    assert os.path.isabs(entry["wav"])


def test_libritts_subsets(corpora, tmp_path):
    data = both(run(corpora["libritts"], tmp_path, subsets=["train-clean-100"]))
    assert {e["spk_id"] for e in data.values()} == {"libritts_19"}
    with pytest.raises(FileNotFoundError, match="train-other-500"):
        run(corpora["libritts"], tmp_path / "x", subsets=["train-other-500"])


def test_librispeech(corpora, tmp_path):
    data = both(run(corpora["librispeech"], tmp_path))
    assert sorted(data) == [f"librispeech_1272-128104-000{i}" for i in range(3)]
    entry = data["librispeech_1272-128104-0002"]
    assert entry["text"] == "MISTER QUILTER IS THE APOSTLE 2"
    assert (entry["sr"], entry["spk_id"]) == (16000, "librispeech_1272")


def test_vctk_092_picks_mic1(corpora, tmp_path):
    data = both(run(corpora["vctk"], tmp_path))
    assert sorted(data) == [
        f"vctk_{s}_00{i}_mic1" for s in ("p225", "p226") for i in (1, 2)
    ]
    entry = data["vctk_p226_002_mic1"]
    assert (entry["text"], entry["spk_id"], entry["sr"]) == (
        "Say p226_002.",
        "vctk_p226",
        48000,
    )
    both_mics = both(run(corpora["vctk"], tmp_path / "both", vctk_mic=None))
    assert len(both_mics) == 8


def test_old_vctk(corpora, tmp_path):
    data = both(run(corpora["vctk_old"], tmp_path))
    assert sorted(data) == ["vctk_p227_001", "vctk_p227_002"]
    assert data["vctk_p227_001"]["text"] == "Hi."


def test_ljspeech(corpora, tmp_path):
    paths = run(corpora["ljspeech"], tmp_path)
    data = both(paths)
    assert sorted(data) == [f"ljspeech_LJ001-000{i}" for i in (1, 2, 3)]
    entry = data["ljspeech_LJ001-0003"]
    assert entry["text"] == "For although the Chinese took one step"  # normalised
    assert (entry["spk_id"], entry["sr"]) == ("ljspeech_LJ", 22050)
    report = read_report(tmp_path)
    assert report["LJ001-0004.wav"]["reason"] == "listed in metadata.csv but missing"


def test_bad_files_reported_and_skipped(corpora, tmp_path):
    paths = run(corpora["folder"], tmp_path, layout="folder")
    data = both(paths)
    assert sorted(data) == [
        "my_audio_anna_a1",
        "my_audio_anna_a2",
        "my_audio_bob_b2",
        "my_audio_bob_sub_b1",
        "my_audio_root_level",
    ]
    assert data["my_audio_anna_a1"]["text"] == "hello there"
    assert data["my_audio_anna_a2"]["text"] == ""
    assert data["my_audio_bob_sub_b1"]["spk_id"] == "my_audio_bob"
    assert data["my_audio_root_level"]["spk_id"] == "my_audio"
    assert data["my_audio_bob_b2"]["duration"] == pytest.approx(0.6, abs=0.01)
    report = read_report(tmp_path)
    assert set(report) == {
        "corrupt.wav",
        "empty.wav",
        "silent.wav",
        "no_samples.wav",
        "short.wav",
    }
    assert report["corrupt.wav"]["reason"].startswith("unreadable audio")
    assert report["empty.wav"]["reason"] == "empty file (0 bytes)"
    assert report["silent.wav"]["reason"].startswith("silent audio")
    assert report["no_samples.wav"]["reason"] == "no samples"
    assert report["short.wav"]["reason"].startswith("too short")
    assert {r["action"] for r in report.values()} == {"skipped"}
    assert all(os.path.isabs(r["file"]) for r in report.values())


def test_several_corpora_at_once(corpora, tmp_path):
    folders = [corpora[n] for n in ("libritts", "vctk", "ljspeech", "folder")]
    paths = run(folders, tmp_path, valid_ratio=0.25, seed=7)
    train, valid = load(paths["train"]), load(paths["valid"])
    assert not set(train) & set(valid)
    data = {**train, **valid}
    assert len(data) == 6 + 4 + 3 + 5
    assert len(valid) == manifests.split_counts(len(data), (0.75, 0.25))[1] == 5
    assert {e["corpus"] for e in data.values()} == {
        "libritts",
        "vctk",
        "ljspeech",
        "my_audio",
    }
    for key, entry in data.items():
        assert key.startswith(entry["corpus"] + "_")
        assert entry["spk_id"].startswith(entry["corpus"])
        assert set(entry) == {"wav", "duration", "sr", "spk_id", "corpus", "text"}
    options = load(os.path.join(tmp_path, manifests.OPTIONS_NAME))
    assert options["target_sample_rate"] == 24000
    assert options["layout"] == ["auto"] * 4


def test_same_folder_name_twice_gets_distinct_corpora(tmp_path):
    for parent in ("a", "b"):
        write_audio(str(tmp_path / parent / "audio" / "spk" / "x.wav"))
    folders = [str(tmp_path / "a" / "audio"), str(tmp_path / "b" / "audio")]
    data = both(run(folders, tmp_path / "save", valid_ratio=0))
    assert sorted(data) == ["audio_2_spk_x", "audio_spk_x"]


def test_layout_per_folder_and_explicit_layout_errors(corpora, tmp_path):
    folders = [corpora["ljspeech"], corpora["vctk_old"]]
    data = both(run(folders, tmp_path, layout=["ljspeech", "vctk"]))
    assert len(data) == 5
    with pytest.raises(FileNotFoundError, match="metadata.csv"):
        run(corpora["vctk"], tmp_path / "x", layout="ljspeech")
    with pytest.raises(ValueError, match="unknown layout"):
        run(corpora["vctk"], tmp_path / "y", layout="timit")


def test_valid_split_is_deterministic_and_duration_filters(corpora, tmp_path):
    first = run(corpora["libritts"], tmp_path / "a", valid_ratio=0.5, seed=3)
    again = run(corpora["libritts"], tmp_path / "b", valid_ratio=0.5, seed=3)
    assert load(first["valid"]) == load(again["valid"])
    assert len(load(first["valid"])) == 3
    long_only = both(run(corpora["libritts"], tmp_path / "c", min_duration=0.65))
    assert len(long_only) == 3
    assert all(e["duration"] >= 0.65 for e in long_only.values())
    short_only = both(run(corpora["libritts"], tmp_path / "d", max_duration=0.65))
    assert len(short_only) == 3


def test_second_call_skipped_different_options_reprepare(corpora, tmp_path):
    paths = run(corpora["ljspeech"], tmp_path, valid_ratio=0.3)
    stamps = {p: os.stat(p).st_mtime_ns for p in paths.values()}
    report = os.path.join(tmp_path, manifests.REPORT_NAME)
    stamps[report] = os.stat(report).st_mtime_ns
    run(corpora["ljspeech"], tmp_path, valid_ratio=0.3)
    assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps
    run(corpora["ljspeech"], tmp_path, valid_ratio=0.0)
    assert os.stat(paths["train"]).st_mtime_ns != stamps[paths["train"]]
    assert len(load(paths["train"])) == 3 and load(paths["valid"]) == {}
    # A deleted manifest is rebuilt even with the same options.
    os.remove(paths["valid"])
    run(corpora["ljspeech"], tmp_path, valid_ratio=0.0)
    assert os.path.isfile(paths["valid"])


def test_missing_root_raises_clear_error(tmp_path):
    missing = str(tmp_path / "no_such_corpus")
    with pytest.raises(FileNotFoundError) as err:
        run(missing, tmp_path / "save")
    assert missing in str(err.value)
    assert "expected layout" in str(err.value)
    assert not os.path.exists(tmp_path / "save" / "train.json")


def test_audio_info_fallback_decoder(tmp_path):
    av = pytest.importorskip("av")
    path = str(tmp_path / "clip.m4a")
    with av.open(path, "w") as out:
        stream = out.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(
            tone(0.5, 16000)[None], format="fltp", layout="mono"
        )
        frame.sample_rate = 16000
        for packet in list(stream.encode(frame)) + list(stream.encode()):
            out.mux(packet)
    info = manifests.audio_info(path)
    assert info["sr"] == 16000
    assert info["duration"] == pytest.approx(0.5, abs=0.1)


def test_parallel_probing_matches_serial(corpora):
    files = manifests.find_files(corpora["folder"], manifests.AUDIO_EXTENSIONS)
    tasks = [
        ({"id": str(i), "wav": f}, manifests.probe_settings())
        for i, f in enumerate(files)
    ]
    serial = manifests.parallel_map(manifests._probe_task, tasks, 1, progress=False)
    parallel = manifests.parallel_map(
        manifests._probe_task, tasks, 2, progress=False, min_parallel_items=0
    )
    assert parallel == serial
    assert sum(entry is None for entry, _ in serial) == 4  # short.wav passes


def test_splits_helpers():
    entries = [{"id": f"{s}_{i}", "spk_id": s} for s in "abcd" for i in range(10)]
    seen = manifests.split_seen(entries, (0.8, 0.1, 0.1), seed=1)
    ids = [{e["id"] for e in seen[n]} for n in manifests.SPLITS]
    assert sum(map(len, ids)) == 40 and not (ids[0] & ids[1] or ids[0] & ids[2])
    assert all({e["spk_id"] for e in seen[n]} == set("abcd") for n in seen)
    unseen = manifests.split_speakers(entries, (0.5, 0.25, 0.25), seed=1)
    speakers = [{e["spk_id"] for e in unseen[n]} for n in manifests.SPLITS]
    assert [len(s) for s in speakers] == [2, 1, 1]
    assert set().union(*speakers) == set("abcd")


def test_command_line(corpora, tmp_path):
    run_script(
        SCRIPT,
        corpora["ljspeech"],
        corpora["vctk_old"],
        tmp_path,
        "--valid_ratio",
        "0",
        "--num_workers",
        "1",
    )
    assert len(load(tmp_path / "train.json")) == 5


def test_import_like_train_py_and_doctests():
    assert callable(import_like_train_py(SCRIPT).prepare_audio)
