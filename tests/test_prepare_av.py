"""Audio-visual manifest preparation: GRID, TCD-TIMIT, LRW, LRS3 recipes.

Each dataset is a tiny fake tree in its real layout, with real (tiny) videos
written by OpenCV (``mp4v``/MPEG-1) or, where the audio lives inside the mp4,
by PyAV; nothing is downloaded.
"""

import logging
import os

import cv2
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

SCRIPTS = {
    "grid": recipe_script("GRID", "V2A", "grid_prepare.py"),
    "tcd": recipe_script("TCD-TIMIT", "V2A", "tcd_timit_prepare.py"),
    "lrw": recipe_script("LRW", "V2A", "lrw_prepare.py"),
    "lrs3": recipe_script("LRS3", "V2A", "lrs3_prepare.py"),
}
MODULES = {name: load_script(path) for name, path in SCRIPTS.items()}
HAVE_AV = manifests.pyav_available()
needs_av = pytest.mark.skipif(not HAVE_AV, reason="PyAV needed to mux audio")


def frames_of(count, size=32):
    return [
        np.full((size, size, 3), 10 + 20 * (i % 12), np.uint8) for i in range(count)
    ]


def write_video(path, frames=10, fps=25.0, audio_seconds=None, audio_sr=16000):
    """A real tiny video; with ``audio_seconds`` an mp4 with an AAC stream (PyAV)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if audio_seconds is None:
        fourcc = "PIM1" if path.endswith(".mpg") else "mp4v"
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), fps, (32, 32))
        for frame in frames_of(frames):
            writer.write(frame)
        writer.release()
        return path
    from fractions import Fraction

    import av

    with av.open(path, "w") as out:
        video = out.add_stream("mpeg4", rate=Fraction(fps).limit_denominator(1001))
        video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        audio = out.add_stream("aac", rate=audio_sr)
        for frame in frames_of(frames):
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, "rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        samples = tone(audio_seconds, audio_sr, freq=200)[None]
        chunk = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        chunk.sample_rate = audio_sr
        for packet in list(audio.encode(chunk)) + list(audio.encode()):
            out.mux(packet)
    return path


def write_wav(path, seconds=0.4, sr=25000, data=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    audio = tone(seconds, sr, freq=200) if data is None else data
    soundfile.write(path, audio, sr)
    return path


def load_all(paths):
    return {name: load(path) for name, path in paths.items()}


def report_for(rows, name):
    return [r for r in rows if os.path.basename(r["file"]) == name]


def speakers(entries):
    return {e["spk_id"] for e in entries.values()}


# ---------------------------------------------------------------------------
# GRID

ALIGN = (
    "0 2500 sil\n2500 5000 bin\n5000 7500 blue\n7500 8000 sp\n8000 10000 at\n"
    "10000 12000 f\n12000 14000 two\n14000 16000 now\n16000 20000 sil\n"
)
UTTS = ("bbaf2n", "bbaf3s", "bbal6n", "bbal7s")


def make_grid(root):
    """s1..s6 in every accepted layout, s21 without video, and broken files."""
    base = os.path.join(root, "GRID")

    def add(spk, utt, video, wav=None, align=None, audio_seconds=0.4, data=None):
        write_video(os.path.join(base, video))
        if wav is not None:
            write_wav(os.path.join(base, wav), audio_seconds, data=data)
        if align is not None:
            write_text(os.path.join(base, align), ALIGN)

    for utt in UTTS:
        for spk in ("s1", "s2"):
            add(spk, utt, f"{spk}/{utt}.mpg", f"audio_25k/{spk}/{utt}.wav",
                f"align/{spk}/{utt}.align")  # fmt: skip
        add("s3", utt, f"video/s3/{utt}.mpg", f"audio_25k/s3/{utt}.wav",
            f"alignments/s3/{utt}.align")  # fmt: skip
        add("s4", utt, f"s4/video/mpg_6000/{utt}.mpg", f"s4/audio/{utt}.wav",
            f"s4/align/{utt}.align")  # fmt: skip
        add("s5", utt, f"s5/{utt}.mp4", f"audio_25k/s5/{utt}.wav",
            f"align/s5/{utt}.align")  # fmt: skip
        add("s6", utt, f"s6/{utt}.mpg", f"s6/{utt}.wav", f"align/s6/{utt}.align")
        write_wav(os.path.join(base, "audio_25k", "s21", utt + ".wav"))
    # Problems: reported, never fatal.
    with open(os.path.join(base, "s1", "corrupt.mpg"), "wb") as f:
        f.write(np.random.default_rng(0).bytes(4096))
    write_wav(os.path.join(base, "audio_25k", "s1", "corrupt.wav"))
    write_video(os.path.join(base, "s1", "noaudio.mpg"))
    add(
        "s2", "silent", "s2/silent.mpg", "audio_25k/s2/silent.wav", data=np.zeros(10000)
    )
    add(
        "s2", "toolong", "s2/toolong.mpg", "audio_25k/s2/toolong.wav", audio_seconds=1.0
    )
    add("s2", "abitlong", "s2/abitlong.mpg", "audio_25k/s2/abitlong.wav",
        "align/s2/abitlong.align", audio_seconds=0.5)  # fmt: skip
    add("s3", "noalign", "video/s3/noalign.mpg", "audio_25k/s3/noalign.wav")
    return base


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    return make_grid(str(tmp_path_factory.mktemp("grid")))


def prepare_grid(root, save, **kwargs):
    kwargs.setdefault("progress", False)
    return MODULES["grid"].prepare_grid(root, str(save), **kwargs)


GOOD_GRID = {f"{s}_{u}" for s in ("s1", "s2", "s3", "s4", "s5", "s6") for u in UTTS}
GOOD_GRID |= {"s2_abitlong", "s3_noalign"}


def test_grid_seen_split(grid, tmp_path):
    parts = load_all(prepare_grid(grid, tmp_path, ratios=(0.5, 0.25, 0.25)))
    ids = [set(parts[n]) for n in manifests.SPLITS]
    assert set().union(*ids) == GOOD_GRID
    assert sum(map(len, ids)) == len(GOOD_GRID)  # utterance-disjoint
    for name in manifests.SPLITS:
        assert speakers(parts[name]) == {"s1", "s2", "s3", "s4", "s5", "s6"}
    assert [len(parts[n]) for n in manifests.SPLITS] == [14, 6, 6]
    entry = {**parts["train"], **parts["valid"], **parts["test"]}["s4_bbaf2n"]
    assert entry["video"].endswith("s4/video/mpg_6000/bbaf2n.mpg")
    assert entry["wav"].endswith("s4/audio/bbaf2n.wav")
    assert entry["text"] == "bin blue at f two now"
    assert (entry["frames"], entry["fps"], entry["sr"]) == (10, 25.0, 25000)
    assert entry["duration"] == pytest.approx(0.4)
    assert entry["spk_id"] == "s4" and entry["audio_in_video"] is False


def test_grid_layout_variants_and_report(grid, tmp_path):
    parts = load_all(prepare_grid(grid, tmp_path))
    data = {k: v for p in parts.values() for k, v in p.items()}
    assert data["s3_bbaf2n"]["video"].endswith("video/s3/bbaf2n.mpg")
    assert data["s5_bbaf2n"]["video"].endswith("s5/bbaf2n.mp4")
    assert data["s6_bbaf2n"]["wav"].endswith("s6/bbaf2n.wav")
    assert data["s1_bbaf2n"]["wav"].endswith("audio_25k/s1/bbaf2n.wav")
    assert data["s3_noalign"]["text"] == ""
    assert not any(k.startswith("s21") for k in data)
    rows = report_rows(tmp_path)
    expected = {
        "corrupt.mpg": ("skipped", "unreadable video"),
        "noaudio.mpg": ("skipped", "no audio file"),
        "silent.wav": ("skipped", "silent audio"),
        "toolong.wav": ("skipped", "audio/video length differ by 0.6 s"),
        "abitlong.wav": ("kept", "audio/video length differ by 0.1 s"),
        "noalign.mpg": ("kept", "no alignment file"),
    }
    assert len(rows) == len(expected)
    for name, (action, reason) in expected.items():
        [row] = report_for(rows, name)
        assert row["action"] == action and row["reason"].startswith(reason), row


def test_grid_unseen_default_lists(grid, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        parts = load_all(prepare_grid(grid, tmp_path, split="unseen"))
    assert speakers(parts["test"]) == {"s1", "s2"}
    assert speakers(parts["valid"]) == {"s5"}
    assert speakers(parts["train"]) == {"s3", "s4", "s6"}
    assert "s20 s22" in caplog.text and "s7" in caplog.text  # missing speakers named


def test_grid_unseen_fallback_and_custom_lists(grid, tmp_path):
    parts = load_all(
        prepare_grid(grid, tmp_path / "a", split="unseen", restrict_lists=False)
    )
    groups = [speakers(parts[n]) for n in manifests.SPLITS]
    assert [len(g) for g in groups] == [4, 1, 1]
    assert set().union(*groups) == {"s1", "s2", "s3", "s4", "s5", "s6"}
    lists = tmp_path / "lists"
    for name, spks in (("train", "s1 s2 s3"), ("valid", "s4"), ("test", "s5 s6")):
        write_text(str(lists / f"unseen_{name}.txt"), spks.replace(" ", "\n"))
    parts = load_all(
        prepare_grid(grid, tmp_path / "b", split="unseen", splits_folder=str(lists))
    )
    assert [speakers(parts[n]) for n in manifests.SPLITS] == [
        {"s1", "s2", "s3"},
        {"s4"},
        {"s5", "s6"},
    ]


def test_grid_shipped_lists_cover_grid():
    lists = MODULES["grid"].load_speaker_lists()
    every = [s for n in manifests.SPLITS for s in lists[n]]
    assert len(every) == len(set(every)) == 33
    assert set(every) == {f"s{i}" for i in range(1, 35)} - {"s21"}


def test_grid_skip_and_reprepare(grid, tmp_path):
    paths = prepare_grid(grid, tmp_path)
    stamps = {p: os.stat(p).st_mtime_ns for p in paths.values()}
    prepare_grid(grid, tmp_path)
    assert {p: os.stat(p).st_mtime_ns for p in paths.values()} == stamps
    prepare_grid(grid, tmp_path, split="unseen")
    assert all(os.stat(p).st_mtime_ns != stamps[p] for p in paths.values())
    assert load(os.path.join(tmp_path, manifests.OPTIONS_NAME))["split"] == "unseen"


def test_grid_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="expected layout.*align"):
        prepare_grid(str(tmp_path / "GRID"), tmp_path / "save")


def test_grid_command_line(grid, tmp_path):
    run_script(SCRIPTS["grid"], grid, tmp_path, "--split", "unseen")
    assert speakers(load(tmp_path / "test.json")) == {"s1", "s2"}


# ---------------------------------------------------------------------------
# TCD-TIMIT


@pytest.fixture(scope="module")
def tcd(tmp_path_factory):
    base = os.path.join(str(tmp_path_factory.mktemp("tcd")), "TCD-TIMIT")
    fps = 29.97
    for group, speaker in (
        ("volunteers", "01M"),
        ("volunteers", "02F"),
        ("lipspeakers", "Lipspkr1"),
    ):
        clips = os.path.join(base, group, speaker, "Clips", "straightcam")
        for utt in ("sa1", "si1", "sx1", "sx2"):
            if HAVE_AV:
                write_video(os.path.join(clips, utt + ".mp4"), 12, fps, 0.4)
            else:
                write_video(os.path.join(clips, utt + ".mp4"), 12, fps)
        write_video(os.path.join(clips, "sa2.mp4"), 12, fps)
        write_wav(os.path.join(clips, "sa2.wav"), 0.4, 16000)
        write_text(os.path.join(clips, "si1.txt"), "0 46797 Why yell or worry?\n")
    # No audio stream in the clip and no wav beside it.
    write_video(
        os.path.join(base, "volunteers", "02F", "Clips", "straightcam", "x.mp4")
    )
    prompts = write_text(
        os.path.join(base, "PROMPTS.TXT"),
        "; TIMIT prompts\nShe had your dark suit in greasy wash water. (sa1)\n",
    )
    return base, prompts


def test_tcd_timit(tcd, tmp_path):
    base, prompts = tcd
    module = MODULES["tcd"]
    paths = module.prepare_tcd_timit(
        base, str(tmp_path), transcripts=prompts, ratios=(0.6, 0.2, 0.2), progress=False
    )
    parts = load_all(paths)
    data = {k: v for p in parts.values() for k, v in p.items()}
    assert speakers(data) == {"01M", "02F"}  # volunteers only by default
    for name in manifests.SPLITS:
        assert speakers(parts[name]) == {"01M", "02F"}
    assert sum(len(p) for p in parts.values()) == len(data) == 10
    sa2, si1, sa1 = data["01M_sa2"], data["02F_si1"], data["01M_sa1"]
    assert sa2["audio_in_video"] is False and sa2["wav"].endswith("sa2.wav")
    assert sa2["sr"] == 16000
    assert si1["audio_in_video"] is True and si1["wav"] == si1["video"]
    assert si1["text"] == "Why yell or worry?"
    assert sa1["text"] == "She had your dark suit in greasy wash water."
    assert data["01M_sx1"]["text"] == ""
    assert sa1["fps"] == pytest.approx(29.97, abs=0.01) and sa1["frames"] == 12
    assert sa1["group"] == "volunteers"
    if HAVE_AV:
        assert sa1["sr"] == 16000
        [row] = report_for(report_rows(tmp_path), "x.mp4")
        assert row["reason"] == "no audio stream in the video"
    with_lip = module.prepare_tcd_timit(
        base, str(tmp_path / "lip"), include_lipspeakers=True, progress=False
    )
    assert "Lipspkr1" in speakers(
        {k: v for p in load_all(with_lip).values() for k, v in p.items()}
    )


def test_tcd_timit_missing_volunteers(tmp_path):
    with pytest.raises(FileNotFoundError, match="volunteers"):
        MODULES["tcd"].prepare_tcd_timit(str(tmp_path), str(tmp_path / "save"))


# ---------------------------------------------------------------------------
# LRW


@pytest.fixture(scope="module")
def lrw(tmp_path_factory):
    base = os.path.join(str(tmp_path_factory.mktemp("lrw")), "lipread_mp4")
    for word in ("ABOUT", "ACCESS", "BLACK"):
        for split, count in (("train", 3), ("val", 1), ("test", 1)):
            for i in range(1, count + 1):
                stem = os.path.join(base, word, split, f"{word}_{i:05d}")
                write_video(stem + ".mp4", 8, 25.0, 0.32 if HAVE_AV else None)
                write_text(stem + ".txt", f"Word: {word}\nDuration: 0.{i}3 seconds\n")
    with open(os.path.join(base, "ACCESS", "train", "ACCESS_00009.mp4"), "wb") as f:
        f.write(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    return os.path.dirname(base)


def test_lrw_release_splits(lrw, tmp_path):
    paths = MODULES["lrw"].prepare_lrw(lrw, str(tmp_path), progress=False)
    parts = load_all(paths)
    assert [len(parts[n]) for n in manifests.SPLITS] == [9, 3, 3]
    entry = parts["valid"]["valid_ABOUT_00001"]
    assert entry["text"] == "ABOUT" and entry["word_duration"] == 0.13
    assert entry["video"] == entry["wav"] and entry["audio_in_video"] is True
    assert (entry["frames"], entry["fps"]) == (8, 25.0)
    assert entry["video"].endswith("lipread_mp4/ABOUT/val/ABOUT_00001.mp4")
    assert parts["train"]["train_ABOUT_00003"]["word_duration"] == 0.33
    [row] = report_for(report_rows(tmp_path), "ACCESS_00009.mp4")
    assert row["action"] == "skipped" and "unreadable" in row["reason"]


def test_lrw_words_and_cap(lrw, tmp_path):
    paths = MODULES["lrw"].prepare_lrw(
        os.path.join(lrw, "lipread_mp4"),
        str(tmp_path),
        words=["about", "black"],
        max_per_word=2,
        progress=False,
    )
    parts = load_all(paths)
    assert sorted(parts["train"]) == [
        "train_ABOUT_00001",
        "train_ABOUT_00002",
        "train_BLACK_00001",
        "train_BLACK_00002",
    ]
    assert {e["text"] for e in parts["test"].values()} == {"ABOUT", "BLACK"}
    with pytest.raises(FileNotFoundError, match="ZEBRA"):
        MODULES["lrw"].prepare_lrw(lrw, str(tmp_path / "z"), words=["zebra"])


# ---------------------------------------------------------------------------
# LRS3


def lrs3_txt(text):
    words = text.split()
    table = "\n".join(
        f"{w} {0.1 * i:.2f} {0.1 * i + 0.1:.2f} 4.2" for i, w in enumerate(words)
    )
    return f"Text:  {text}\nConf:  4\n\nWORD START END ASDSCORE\n{table}\n"


@pytest.fixture(scope="module")
def lrs3(tmp_path_factory):
    base = os.path.join(str(tmp_path_factory.mktemp("lrs3")), "LRS3")
    clips = [("trainval", f"spk{c}", f"0000{i}", 10) for c in "ABCDE" for i in (1, 2)]
    clips += [("test", "tstX", "00001", 10), ("test", "tstY", "00001", 10)]
    clips += [("pretrain", f"spk{c}", "00001", 10) for c in "ABCDE"]
    clips += [("pretrain", "spkA", "00002", 60)]  # 2.4 s: for max_duration
    for subset, speaker, utt, frames in clips:
        stem = os.path.join(base, subset, speaker, utt)
        write_video(stem + ".mp4", frames, 25.0, frames / 25 if HAVE_AV else None)
        write_text(stem + ".txt", lrs3_txt(f"{subset} {speaker} SAYS {utt}"))
    if HAVE_AV:  # audio stream far shorter than the video: skipped
        write_video(os.path.join(base, "test", "tstZ", "00001.mp4"), 25, 25.0, 0.2)
    return base


def test_lrs3(lrs3, tmp_path):
    module = MODULES["lrs3"]
    parts = load_all(
        module.prepare_lrs3(lrs3, str(tmp_path), valid_ratio=0.4, progress=False)
    )
    train, valid, test = (parts[n] for n in manifests.SPLITS)
    assert len(speakers(valid)) == 2 and len(speakers(train)) == 3
    assert not speakers(train) & speakers(valid)
    assert speakers(test) == {"tstX", "tstY"}
    assert {e["subset"] for e in train.values()} == {"trainval"}
    entry = test["test_tstX_00001"]
    assert entry["text"] == "test tstX SAYS 00001"
    assert entry["audio_in_video"] is True and entry["wav"] == entry["video"]
    assert (entry["frames"], entry["fps"]) == (10, 25.0)
    if HAVE_AV:
        [row] = report_for(report_rows(tmp_path), "00001.mp4")
        assert row["file"].endswith("tstZ/00001.mp4") and row["action"] == "skipped"
        assert row["reason"].startswith("audio/video length differ by 0.7")
    again = load_all(
        module.prepare_lrs3(lrs3, str(tmp_path / "b"), valid_ratio=0.4, progress=False)
    )
    assert again == parts  # deterministic


def test_lrs3_pretrain_and_max_duration(lrs3, tmp_path):
    module = MODULES["lrs3"]
    parts = load_all(
        module.prepare_lrs3(
            lrs3,
            str(tmp_path),
            include_pretrain=True,
            valid_ratio=0.4,
            max_duration=2.0,
            progress=False,
        )
    )
    train, valid = parts["train"], parts["valid"]
    pretrain = {k: v for k, v in train.items() if v["subset"] == "pretrain"}
    assert speakers(pretrain) == speakers(train)  # no validation speaker's clips
    assert len(pretrain) == 3
    assert not speakers(train) & speakers(valid)
    assert "pretrain_spkA_00002" not in train
    [row] = [
        r
        for r in report_rows(tmp_path)
        if r["file"].endswith("pretrain/spkA/00002.mp4")
    ]
    assert row["reason"].startswith("too long")


def test_lrs3_missing_root_and_empty_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="trainval"):
        MODULES["lrs3"].prepare_lrs3(str(tmp_path / "nope"), str(tmp_path / "s"))
    with pytest.raises(FileNotFoundError, match="no LRS3 subset folder"):
        MODULES["lrs3"].prepare_lrs3(str(tmp_path), str(tmp_path / "s"))


# ---------------------------------------------------------------------------
# Generic probing of videos


def test_video_info_counts_mpg_frames(tmp_path):
    path = write_video(str(tmp_path / "v.mpg"), frames=7)
    assert manifests.video_info(path)["frames"] == 7
    open(tmp_path / "empty.mp4", "wb").close()
    with pytest.raises(manifests.BadFileError, match="empty file"):
        manifests.video_info(str(tmp_path / "empty.mp4"))


@needs_av
def test_video_audio_info(tmp_path):
    path = write_video(str(tmp_path / "a.mp4"), 10, 25.0, 0.4, audio_sr=24000)
    info = manifests.video_audio_info(path)
    assert info["sr"] == 24000 and info["checked"]
    assert info["duration"] == pytest.approx(0.4, abs=0.1)
    assert manifests.video_audio_info(write_video(str(tmp_path / "b.mp4"))) is None


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_import_like_train_py_and_doctests(name):
    module = import_like_train_py(SCRIPTS[name])
    stem = os.path.basename(SCRIPTS[name])[: -len("_prepare.py")]
    assert callable(getattr(module, "prepare_" + stem))


def test_preparation_finds_the_videos_preprocessing_reads(tmp_path):
    """One list of containers: data preparation and v2s-preprocess look for the
    same files (they had 7 and 10 extensions)."""
    from speechbrain_v2s.video.preprocess import collect_inputs

    for name in ("a.mp4", "b.m4v", "c.FLV", "d.wmv", "e.wav", "f.txt"):
        (tmp_path / name).write_bytes(b"")
    found = manifests.find_files(str(tmp_path), manifests.VIDEO_EXTENSIONS)
    names = [os.path.basename(path) for path in found]
    assert names == ["a.mp4", "b.m4v", "c.FLV", "d.wmv"]
    assert [item["rel"] for item in collect_inputs(tmp_path)] == [
        os.path.splitext(name)[0] + ".npz" for name in names
    ]


# ---------------------------------------------------------------------------
# Nothing usable: one line naming the folder, exit 2, no manifests

UNUSABLE = {  # one unreadable video where each layout looks for videos
    "grid": ["s1/bbaf2n.mpg", "audio_25k/s1/bbaf2n.wav"],
    "tcd": ["volunteers/01M/Clips/straightcam/sa1.mp4"],
    "lrw": ["lipread_mp4/ABOUT/train/ABOUT_00001.mp4"],
    "lrs3": ["trainval/spkA/00001.mp4", "test/spkB/00001.mp4"],
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_no_usable_video_is_one_error_line(name, tmp_path, capsys):
    root = tmp_path / "corpus"
    for rel in UNUSABLE[name]:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".wav"):
            write_wav(str(path))
        else:
            path.write_bytes(np.random.default_rng(0).bytes(2048))
    save = tmp_path / "save"
    with pytest.raises(SystemExit) as stop:
        MODULES[name].main([str(root), str(save), "--num_workers", "1"])
    assert stop.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if ": error: " in line]
    assert len(errors) == 1 and "Traceback" not in "\n".join(lines), lines
    # The folder (resolved as the script reads it) and what is wrong with it.
    folder = os.path.join(str(root), "lipread_mp4") if name == "lrw" else str(root)
    assert f"no usable files found in {folder} (" in errors[0], errors
    assert errors[0].endswith("no manifests written"), errors
    # The report says why each file was skipped; no (empty) manifests.
    assert sorted(os.listdir(save)) == [manifests.REPORT_NAME]
    assert {row["action"] for row in report_rows(save)} == {"skipped"}
    with pytest.raises(manifests.NothingPreparedError):
        getattr(MODULES[name], "prepare_" + ("tcd_timit" if name == "tcd" else name))(
            str(root), str(tmp_path / "again"), num_workers=1, progress=False
        )
