"""The synthetic corpus: speech content in the video, determinism, distinct
speakers, the preparation scripts reading it, and the command line."""

import glob
import itertools
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import soundfile
import torch

from speechbrain_v2s.audio.features import resample
from speechbrain_v2s.prepare import read_align
from speechbrain_v2s.synthetic import CorpusError, ensure_corpus, generate_corpus, main
from speechbrain_v2s.synthetic.espeak import LIBRARY_ENV, Espeak
from speechbrain_v2s.synthetic.grid_grammar import GridSentence
from speechbrain_v2s.synthetic.mouth_render import cavity_area
from speechbrain_v2s.synthetic.visemes import normalise_phoneme
from speechbrain_v2s.video.io import read_video

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "recipes", "GRID", "V2A"))
sys.path.insert(0, os.path.join(ROOT, "recipes", "AudioOnly", "A2A"))
from audio_prepare import prepare_audio  # noqa: E402
from grid_prepare import prepare_grid  # noqa: E402

OPEN_VOWELS = {"a", "aa", "A:", "A@", "aI", "aU", "V", "0"}
BILABIALS = {"p", "b", "m"}
FPS = 25


def metas(corpus):
    """Sidecar JSON of every utterance, in a fixed order."""
    paths = sorted(glob.glob(os.path.join(corpus, "meta", "*", "*.json")))
    return [json.load(open(path, encoding="utf-8")) for path in paths]


def decoded(corpus, meta):
    """Grayscale frames of an utterance's video, decoded from the file."""
    path = os.path.join(corpus, meta["speaker"], meta["id"] + ".mpg")
    return read_video(path, grayscale=True).frames


def mean_f0(wav, sample_rate):
    """Median F0 (Hz) over voiced 40 ms frames, by normalised autocorrelation."""
    rate = 8000
    x = resample(torch.from_numpy(wav), sample_rate, rate).numpy().astype(np.float64)
    win, hop, lo, hi = 320, 80, rate // 400, rate // 60
    frames = np.lib.stride_tricks.sliding_window_view(x, win + hi)[::hop]
    head = frames[:, :win] - frames[:, :win].mean(axis=1, keepdims=True)
    energy = np.sqrt((head**2).mean(axis=1))
    frames, head = (
        frames[energy > 0.2 * energy.max()],
        head[energy > 0.2 * energy.max()],
    )
    corr = np.empty((len(frames), hi - lo))
    for i, lag in enumerate(range(lo, hi)):
        tail = frames[:, lag : lag + win]
        tail = tail - tail.mean(axis=1, keepdims=True)
        corr[:, i] = (head * tail).sum(1) / np.sqrt(
            (head**2).sum(1) * (tail**2).sum(1) + 1e-12
        )
    voiced = corr.max(axis=1) > 0.7
    # The shortest lag near the best one: avoids picking a sub-harmonic.
    lags = lo + np.argmax(corr[voiced] >= 0.9 * corr[voiced].max(1, keepdims=True), 1)
    return float(np.median(rate / lags))


# --------------------------------------------------------------------------
# (a) the video carries the speech content


def test_mouth_opening_follows_phonemes(synthetic_corpus):
    """Measured in the decoded frames: open vowels show a large dark mouth
    cavity, bilabial closures almost none."""
    open_areas, closed_areas, track_corr = [], [], []
    for meta in metas(synthetic_corpus):
        frames = decoded(synthetic_corpus, meta)
        assert len(frames) == meta["frames"]
        areas = np.array([cavity_area(f) for f in frames])
        for phoneme, start, end in meta["phonemes"]:
            frame = min(int((start + end) / 2 * FPS), len(frames) - 1)
            name = normalise_phoneme(phoneme)
            if name in BILABIALS:
                closed_areas.append(areas[frame])
            elif name in OPEN_VOWELS and end - start > 0.06:
                open_areas.append(areas[frame])
        # The pixels agree with the sidecar's mouth opening, frame by frame.
        track_corr.append(np.corrcoef(areas, meta["mouth"]["open"])[0, 1])
    assert len(open_areas) >= 10 and len(closed_areas) >= 10
    assert np.median(open_areas) > 200
    assert np.median(closed_areas) < 30
    assert np.median(open_areas) > 10 * (np.median(closed_areas) + 1)
    assert np.percentile(open_areas, 10) > np.percentile(closed_areas, 90)
    assert np.median(track_corr) > 0.8


def test_different_text_gives_different_frames(synthetic_corpus):
    first, second = [m for m in metas(synthetic_corpus) if m["speaker"] == "s1"][:2]
    assert first["text"] != second["text"]
    a, b = decoded(synthetic_corpus, first), decoded(synthetic_corpus, second)
    n = min(len(a), len(b))
    area_a = np.array([cavity_area(f) for f in a[:n]])
    area_b = np.array([cavity_area(f) for f in b[:n]])
    assert np.abs(area_a - area_b).mean() > 30
    assert np.abs(a[:n].astype(int) - b[:n].astype(int)).mean() > 2


def test_video_reads_with_opencv(synthetic_corpus):
    meta = metas(synthetic_corpus)[0]
    capture = cv2.VideoCapture(
        os.path.join(synthetic_corpus, meta["speaker"], meta["id"] + ".mpg")
    )
    count = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        assert frame.shape == (88, 88, 3)
        count += 1
    assert capture.get(cv2.CAP_PROP_FPS) == FPS
    capture.release()
    assert count == meta["frames"]


def test_alignment_files(synthetic_corpus):
    for meta in metas(synthetic_corpus):
        path = os.path.join(synthetic_corpus, "align", meta["speaker"], meta["id"])
        rows = [line.split() for line in open(path + ".align")]
        assert rows[0][0] == "0" and rows[0][2] == "sil" and rows[-1][2] == "sil"
        assert int(rows[-1][1]) == meta["frames"] * 1000  # 25,000 units per s
        bounds = [int(t) for row in rows for t in row[:2]]
        assert bounds == sorted(bounds)
        assert read_align(path + ".align") == meta["text"]
        assert GridSentence.from_id(meta["id"]).text == meta["text"]


# --------------------------------------------------------------------------
# (b) determinism


def test_same_utterance_twice_in_one_process_is_identical():
    engine = Espeak()
    runs = [
        engine.synthesize("place red by q nine soon", voice="en+m3", seed=5)
        for _ in range(3)
    ]
    for run in runs[1:]:
        assert np.array_equal(run.waveform, runs[0].waveform)
        assert run.phonemes == runs[0].phonemes


def test_same_seed_same_corpus_whatever_the_jobs(synthetic_corpus, tmp_path):
    """The fixture was made with jobs=1; two workers give the same files."""
    made = json.load(open(os.path.join(synthetic_corpus, "corpus.json")))
    generate_corpus(
        tmp_path,
        speakers=made["num_speakers"],
        utterances_per_speaker=made["utterances_per_speaker"],
        seed=made["seed"],
        jobs=2,
        progress=False,
    )
    for pattern in ("audio_25k/*/*.wav", "align/*/*.align", "meta/*/*.json"):
        names = sorted(
            os.path.relpath(p, synthetic_corpus)
            for p in glob.glob(os.path.join(synthetic_corpus, pattern))
        )
        assert names
        for name in names:
            with open(os.path.join(synthetic_corpus, name), "rb") as a:
                with open(os.path.join(tmp_path, name), "rb") as b:
                    assert a.read() == b.read(), name
    for meta in metas(synthetic_corpus):
        assert np.array_equal(decoded(synthetic_corpus, meta), decoded(tmp_path, meta))


def test_other_seed_other_corpus(synthetic_corpus, tmp_path):
    made = json.load(open(os.path.join(synthetic_corpus, "corpus.json")))
    generate_corpus(tmp_path, 1, 2, seed=made["seed"] + 1, jobs=1, progress=False)
    ours = {m["id"] for m in metas(synthetic_corpus) if m["speaker"] == "s1"}
    theirs = {m["id"] for m in metas(tmp_path)}
    assert theirs and not theirs <= ours


def test_ensure_corpus_generates_once(tmp_path):
    """The first call generates; later ones find corpus.json and keep the files."""
    folder = tmp_path / "c"
    options = dict(speakers=1, utterances_per_speaker=2, audio_only=True, jobs=1)
    options.update(progress=False, grid_fraction=1.0)
    first = ensure_corpus(folder, **options)
    with open(folder / "corpus.json", encoding="utf-8") as handle:
        assert first == json.load(handle)
    assert first["kind"] == "audio-only" and first["utterances"] == 2
    tree = sorted(glob.glob(f"{folder}/**", recursive=True))
    files = [p for p in tree if os.path.isfile(p)]
    assert len(files) > 4
    for path in files:  # an old stamp: any rewrite would show
        os.utime(path, ns=(10**9, 10**9))
    # Other arguments: the existing corpus wins, as documented.
    second = ensure_corpus(folder, speakers=3, jobs=1, progress=False)
    assert second == first
    assert all(os.stat(p).st_mtime_ns == 10**9 for p in files)
    assert sorted(glob.glob(f"{folder}/**", recursive=True)) == tree  # nothing new

    # Without corpus.json (an interrupted run) it generates again.
    os.remove(folder / "corpus.json")
    third = ensure_corpus(folder, **options)
    assert third == first
    assert os.stat(folder / "a1" / "u0001.wav").st_mtime_ns != 10**9


def test_ensure_corpus_unreadable_summary(tmp_path):
    (tmp_path / "corpus.json").write_text("{not json")
    with pytest.raises(CorpusError, match="corpus.json: unreadable corpus summary"):
        ensure_corpus(tmp_path, speakers=1)
    (tmp_path / "corpus.json").write_text("[1, 2]")
    with pytest.raises(CorpusError, match="corpus.json: not a corpus summary"):
        ensure_corpus(tmp_path, speakers=1)


# --------------------------------------------------------------------------
# (c) distinct speakers


def test_speakers_differ_in_pitch(synthetic_corpus):
    pitch = {}
    for speaker in ("s1", "s2", "s3"):
        values = []
        for path in sorted(glob.glob(f"{synthetic_corpus}/audio_25k/{speaker}/*.wav")):
            wav, sr = soundfile.read(path, dtype="float32")
            values.append(mean_f0(wav, sr))
        pitch[speaker] = float(np.mean(values))
        assert 60 < pitch[speaker] < 300
    for a, b in itertools.combinations(pitch, 2):
        assert abs(pitch[a] - pitch[b]) / min(pitch[a], pitch[b]) > 0.08, pitch


def test_speakers_differ_in_appearance(synthetic_corpus):
    looks = {}
    for speaker in ("s1", "s2", "s3"):
        frames = [
            decoded(synthetic_corpus, m)
            for m in metas(synthetic_corpus)
            if m["speaker"] == speaker
        ]
        looks[speaker] = np.concatenate(frames).astype(np.float32).mean(axis=0)
    for a, b in itertools.combinations(looks, 2):
        assert np.abs(looks[a] - looks[b]).mean() > 5, (a, b)
    profiles = json.load(open(os.path.join(synthetic_corpus, "speakers.json")))
    assert len({p["voice"] for p in profiles.values()}) == 3


# --------------------------------------------------------------------------
# (d) the preparation scripts read the corpora


def test_grid_prepare_reads_the_corpus(synthetic_corpus, tmp_path):
    paths = prepare_grid(
        str(synthetic_corpus), str(tmp_path), num_workers=1, progress=False
    )
    rows = {}
    for path in paths.values():
        rows.update(json.load(open(path)))
    by_id = {f"{m['speaker']}_{m['id']}": m for m in metas(synthetic_corpus)}
    assert set(rows) == set(by_id)
    for key, row in rows.items():
        meta = by_id[key]
        assert row["fps"] == FPS and row["sr"] == 24000
        assert row["frames"] == meta["frames"]
        assert abs(row["duration"] - row["frames"] / FPS) < 1e-3
        assert abs(soundfile.info(row["wav"]).duration - row["duration"]) < 1 / FPS
        assert row["text"] == meta["text"] and row["spk_id"] == meta["speaker"]
    report = open(os.path.join(tmp_path, "prepare_report.csv")).read()
    assert report.strip() == "file,reason,action"  # nothing skipped or warned


def test_prepare_audio_reads_the_audio_corpus(synthetic_audio_corpus, tmp_path):
    paths = prepare_audio(
        str(synthetic_audio_corpus), str(tmp_path), num_workers=1, progress=False
    )
    rows = {}
    for path in paths.values():
        rows.update(json.load(open(path)))
    made = json.load(open(os.path.join(synthetic_audio_corpus, "corpus.json")))
    assert len(rows) == made["utterances"] == 12
    assert len({row["spk_id"] for row in rows.values()}) == made["num_speakers"]
    for row in rows.values():
        assert abs(soundfile.info(row["wav"]).duration - row["duration"]) < 1e-3
        text = open(row["wav"][:-4] + ".txt").read().strip()
        assert row["text"] == text and len(text.split()) >= 4
    assert made["kind"] == "audio-only"


def test_sample_rate_option(tmp_path):
    generate_corpus(tmp_path, 1, 1, sample_rate=16000, jobs=1, progress=False)
    (wav,) = glob.glob(f"{tmp_path}/audio_25k/s1/*.wav")
    (meta,) = metas(tmp_path)
    info = soundfile.info(wav)
    assert info.samplerate == 16000 and info.frames == meta["frames"] * 640


# --------------------------------------------------------------------------
# (e) command-line errors: non-zero exit and one clear line


def _error_line(capsys, argv):
    try:
        status = main(argv)
    except SystemExit as stop:
        status = stop.code
    err = capsys.readouterr().err.strip().splitlines()
    assert status != 0
    assert len(err) == 1, err
    assert "error" in err[0]
    return err[0]


def test_cli_unknown_flag(capsys, tmp_path):
    line = _error_line(capsys, ["--output", str(tmp_path), "--frobnicate"])
    assert "--frobnicate" in line


def test_cli_zero_speakers(capsys, tmp_path):
    line = _error_line(capsys, ["--output", str(tmp_path), "--speakers", "0"])
    assert "--speakers" in line and "positive" in line
    with pytest.raises(CorpusError, match="positive"):
        generate_corpus(tmp_path, speakers=0)


def test_cli_unwritable_output(capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    line = _error_line(capsys, ["--output", str(blocker / "corpus")])
    assert "cannot write" in line and "a_file" in line


def test_cli_bogus_espeak_library(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv(LIBRARY_ENV, str(tmp_path / "libespeak-ng-missing.so"))
    line = _error_line(capsys, ["--output", str(tmp_path / "out"), "--no-progress"])
    assert "libespeak-ng" in line and LIBRARY_ENV in line


@pytest.mark.slow
def test_cli_subprocess(tmp_path):
    """The real command line: a corpus on success, one line on failure."""
    command = [sys.executable, "-m", "speechbrain_v2s.synthetic"]
    good = subprocess.run(
        command
        + ["--output", str(tmp_path / "c"), "--speakers", "1"]
        + ["--utterances-per-speaker", "1", "--no-progress"],
        capture_output=True,
        text=True,
    )
    assert good.returncode == 0, good.stderr
    assert good.stderr == ""  # no codec chatter
    assert os.path.isfile(tmp_path / "c" / "corpus.json")
    bad = subprocess.run(
        command + ["--output", str(tmp_path / "d"), "--speakers", "-1"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1


def test_grid_fraction_sets_the_share_of_grid_sentences(tmp_path):
    from speechbrain_v2s.synthetic.grid_grammar import SLOTS as GRID_SLOTS
    from speechbrain_v2s.synthetic.utterances import _utterance_plan

    def grid_share(fraction):
        plan = _utterance_plan(0, 200, 3, audio_only=True, grid_fraction=fraction)
        is_grid = [
            len(words) == len(GRID_SLOTS)
            and all(w in options for w, (_, options) in zip(words, GRID_SLOTS))
            for _, words, _ in plan
        ]
        return sum(is_grid) / len(plan)

    assert grid_share(1.0) == 1.0
    assert grid_share(0.0) == 0.0
    assert 0.3 < grid_share(0.4) < 0.5  # the default mix
    with pytest.raises(CorpusError, match="grid_fraction"):
        generate_corpus(tmp_path / "c", 1, 1, audio_only=True, grid_fraction=1.5)
