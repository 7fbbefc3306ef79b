"""Every real-data recipe YAML trains, checkpoints and resumes (slow).

The paper-scale YAMLs (GRID, LRS3, LRW, TCD-TIMIT, AudioOnly A2A and
Vocoder) are what users with a GPU and a corpus run, and parts of them (e.g.
SpeechBrain's ``HifiganDiscriminator``, the A2A -> V2A transfer at full size)
no tiny configuration reaches. Here each runs on the synthetic corpus, laid
out as its dataset is, for one optimizer step per epoch (SpeechBrain's
``--debug`` batch limit) with batch, crop and loaders overridden down to the
minimum and nothing architectural changed; then again with one more epoch.

Checked per YAML: the logged losses are finite and bounded (the synthetic
corpus has exact digital silence, on which a spectral loss once gave ~4e7),
a checkpoint is written, and the second run continues from it (epoch 2, the
optimizer step counter carried on: the GAN's critic joins after one step).
The runs are in-process (:func:`recipe_runs.run_recipe_in_process`): a
Python start-up per run would cost more than its training step.
"""

import glob
import math
import os

import pytest
import soundfile
import yaml
from recipe_runs import RECIPES, RUN_SEED, run_recipe_in_process

from speechbrain_v2s.training.logs import read_train_log

pytestmark = pytest.mark.slow

YAMLS = sorted(
    os.path.relpath(path, RECIPES)
    for path in glob.glob(os.path.join(RECIPES, "*", "*", "hparams", "*.yaml"))
    if not os.path.basename(path).startswith("tiny")
    and not path.startswith(os.path.join(RECIPES, "Synthetic"))
)
BATCH, CROP_FRAMES = 2, 8
# Untrained paper-scale losses are ~10^2 (45 x mel L1 for the GAN); the
# spectral-convergence blow-up on a silent batch was ~10^7.
LOSS_BOUND = 1e4


def _words(align_path):
    with open(align_path, encoding="utf-8") as handle:
        words = [line.split()[2] for line in handle if line.strip()]
    return [w for w in words if w not in ("sil", "sp")]


@pytest.fixture(scope="module")
def muxed(synthetic_corpus, tmp_path_factory):
    """The synthetic utterances as mp4s with their speech inside (LRS3, LRW
    and TCD-TIMIT keep audio in the video): ``[(spk, utt, mp4, words)]``."""
    from speechbrain_v2s.video.mux import mux_audio

    out = tmp_path_factory.mktemp("muxed")
    clips = []
    for video in sorted(glob.glob(str(synthetic_corpus / "s*" / "*.mpg"))):
        spk, utt = os.path.basename(os.path.dirname(video)), os.path.basename(video)
        utt = utt[: -len(".mpg")]
        wav, sr = soundfile.read(
            synthetic_corpus / "audio_25k" / spk / f"{utt}.wav", dtype="float32"
        )
        mp4 = out / f"{spk}_{utt}.mp4"
        mux_audio(video, wav, sr, mp4)
        words = _words(synthetic_corpus / "align" / spk / f"{utt}.align")
        clips.append((spk, utt, mp4, words))
    return clips


def _place(src, dst, text=None):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    os.link(src, dst)
    if text is not None:
        with open(os.path.splitext(dst)[0] + ".txt", "w", encoding="utf-8") as f:
            f.write(text)


def lrs3_tree(clips, root):
    """``{trainval,test}/<spk>/<00001>.mp4 + .txt``: s3 is the test speaker."""
    counts = {}
    for spk, _, mp4, words in clips:
        counts[spk] = counts.get(spk, 0) + 1
        subset = "test" if spk == "s3" else "trainval"
        text = f"Text:  {' '.join(words).upper()}\nConf:  4\n"
        _place(mp4, root / subset / spk / f"{counts[spk]:05d}.mp4", text)
    return root


def lrw_tree(clips, root):
    """``lipread_mp4/<WORD>/{train,val,test}/<WORD>_0000n.mp4 + .txt``: a
    speaker per split, the n-th clip of each under the n-th word."""
    splits = {"s1": "train", "s2": "val", "s3": "test"}
    counts = {}
    for spk, _, mp4, _ in clips:
        counts[spk] = counts.get(spk, 0) + 1
        word = "WORD" + "ABCDEFGH"[counts[spk] - 1]
        name = f"{word}_{int(spk[1:]):05d}"
        text = f"Word: {word}\nDuration: 0.50 seconds\n"
        _place(mp4, root / "lipread_mp4" / word / splits[spk] / f"{name}.mp4", text)
    return root


def tcd_tree(clips, root):
    """``volunteers/<spk>/Clips/straightcam/<utt>.mp4``."""
    for spk, utt, mp4, _ in clips:
        _place(mp4, root / "volunteers" / spk / "Clips" / "straightcam" / f"{utt}.mp4")
    return root


@pytest.fixture(scope="module")
def runs(synthetic_corpus, synthetic_audio_corpus, muxed, tmp_path_factory):
    """Runs each YAML once (on first use) and again with one more epoch."""
    root = tmp_path_factory.mktemp("real_recipes")
    data = {
        "AudioOnly": ["--data_folders", f"[{synthetic_audio_corpus}]"],
        "GRID": ["--data_folder", synthetic_corpus],
        "LRS3": ["--data_folder", lrs3_tree(muxed, root / "LRS3")],
        "LRW": ["--data_folder", lrw_tree(muxed, root / "LRW")],
        "TCD-TIMIT": ["--data_folder", tcd_tree(muxed, root / "TCD-TIMIT")],
    }
    return RecipeRuns(root, data)


class RecipeRuns:
    """First and resumed runs of the YAMLs, each first run done once."""

    def __init__(self, root, data):
        self.root, self.data, self.outputs = root, data, {}

    def overrides(self, name, epochs, test=True):
        """``(recipe, hparams, overrides)`` of a run of ``name`` (its path
        under ``recipes/``) for ``epochs`` epochs."""
        recipe = os.path.dirname(os.path.dirname(name))
        declared = self.declared(name)
        out = self.output(name)
        args = list(self.data[recipe.split(os.sep)[0]])
        args += ["--output_folder", out, "--number_of_epochs", epochs]
        args += [
            "--seed",
            RUN_SEED,
            "--batch_size",
            BATCH,
            "--crop_frames",
            CROP_FRAMES,
        ]
        # Batch size and loaders (no 8 workers for one batch), one batch per
        # stage and epoch (SpeechBrain's debug limit; checkpoints kept).
        loader = dict(declared["train_dataloader_opts"], batch_size=BATCH)
        loader["num_workers"] = 0
        args += ["--train_dataloader_opts", _flow(loader)]
        for stage in ("valid", "test"):
            args += [f"--{stage}_dataloader_opts", "{batch_size: 1}"]
        args += ["--debug", "--debug_batches", 1, "--debug_epochs", 1000]
        args += ["--debug_persistently", "--noprogressbar"]
        if "discriminator" in declared:
            args += ["--gan_warmup_steps", 1]  # the critic joins at step 2
        if "/V2A" in recipe:
            args += ["--roi_folder", out.parent / f"rois_{recipe.split('/')[0]}"]
            args += ["--already_cropped", True, "--preprocess_jobs", 1]
            args += ["--progress", False, "--pretrained_a2a", self.a2a(name)]
            if not test:  # the resumed run tests; the first one needs not
                args += ["--test_json", "null"]
        return recipe, os.path.relpath(name, recipe), args

    @staticmethod
    def declared(name):
        """The YAML's keys, with plain values (objects as None)."""
        with open(os.path.join(RECIPES, name), encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_Loader)

    def a2a(self, name):
        """The exported decoder of the AudioOnly A2A YAML of ``name``'s family."""
        family = os.path.basename(name)
        out = self.first(os.path.join("AudioOnly", "A2A", "hparams", family))
        return out / "a2a_model.ckpt"

    def output(self, name):
        return self.root / name.replace(os.sep, "_")[: -len(".yaml")]

    def first(self, name):
        """Output folder of the one-epoch run of ``name`` (run if not yet)."""
        if name not in self.outputs:
            recipe, hparams, args = self.overrides(name, 1, test=False)
            run_recipe_in_process(recipe, hparams, *args)
            self.outputs[name] = self.output(name)
        return self.outputs[name]

    def resume(self, name):
        """Run ``name`` again, now for two epochs, in the first run's folder."""
        self.first(name)
        recipe, hparams, args = self.overrides(name, 2)
        run_recipe_in_process(recipe, hparams, *args)


class _Loader(yaml.SafeLoader):
    """Reads a recipe YAML's plain values; ``!new:``/``!ref`` etc. as None."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _flow(mapping):
    """A dict as a YAML flow mapping (a command-line override)."""
    return yaml.safe_dump(mapping, default_flow_style=True).strip()


def _checkpoints(out):
    """``[(meta, brain state)]`` of the run's checkpoints, oldest first."""
    found = []
    for folder in sorted(glob.glob(str(out / "save" / "CKPT+*"))):
        with open(os.path.join(folder, "CKPT.yaml"), encoding="utf-8") as f:
            meta = yaml.safe_load(f)
        with open(os.path.join(folder, "brain.ckpt"), encoding="utf-8") as f:
            brain = yaml.safe_load(f)
        assert os.path.getsize(os.path.join(folder, "model.ckpt")) > 0
        found.append((meta, brain))
    return found


def _check_stats(rows):
    for row in rows:
        for stage in ("train", "valid", "test"):
            for key, value in (row.get(stage) or {}).items():
                assert math.isfinite(value), (stage, key, row)
                assert abs(value) < LOSS_BOUND, (stage, key, row)


def check_first_run(name, out):
    """A one-epoch run of ``name`` in ``out``: bounded losses, a checkpoint."""
    rows = read_train_log(out / "train_log.txt")
    assert [r["epoch"] for r in rows if r["train"]] == [1], rows
    _check_stats(rows)
    [(meta, brain)] = _checkpoints(out)
    assert meta["epoch"] == 1 and brain["optimizer_step"] == 1
    exported = {"A2A": "a2a_model.ckpt", "Vocoder": "vocoder.ckpt"}
    stage = name.split(os.sep)[1]
    if stage in exported:  # the best epoch's decoder, for the next stage
        assert os.path.getsize(out / exported[stage]) > 0


def check_resumed_run(name, out):
    """The same run continued for a second epoch, from its checkpoint."""
    rows = read_train_log(out / "train_log.txt")
    epochs = [r for r in rows if r["train"]]  # not the test line's "Epoch loaded"
    assert [r["epoch"] for r in epochs] == [1, 2], rows  # not restarted at 1
    _check_stats(rows)
    checkpoints = _checkpoints(out)
    assert max(meta["epoch"] for meta, _ in checkpoints) == 2
    assert checkpoints[-1][1]["optimizer_step"] == 2  # one step per run
    if "discriminator" in RecipeRuns.declared(name):
        # The critic joined at step 2 only: the resumed run knew it was step 2.
        assert "D_loss" not in epochs[0]["train"]
        assert "D_loss" in epochs[1]["train"], epochs[1]
    if "/V2A/" in name:  # the resumed run scored the test set
        assert any(r["test"] for r in rows), rows


@pytest.mark.parametrize("name", YAMLS)
def test_real_recipe_trains_checkpoints_and_resumes(name, runs):
    out = runs.first(name)
    check_first_run(name, out)
    runs.resume(name)
    check_resumed_run(name, out)


@pytest.mark.parametrize("name", [n for n in YAMLS if n.endswith("wave.yaml")][:1])
def test_wave_gan_losses_are_bounded_on_a_silent_batch(name, tmp_path):
    """The GAN's losses as the paper-scale YAML builds them, on a batch of
    exact digital silence (the random crops of the runs above need not draw
    one): finite and of the order of a speech batch's."""
    import torch
    from hyperpyyaml import load_hyperpyyaml
    from speechbrain import Stage

    from speechbrain_v2s.training.brain import _split_real_fake

    overrides = {"output_folder": str(tmp_path)}
    for key in ("data_folder", "data_folders", "pretrained_a2a"):
        if key in RecipeRuns.declared(name):
            overrides[key] = str(tmp_path)
    with open(os.path.join(RECIPES, name), encoding="utf-8") as handle:
        hparams = load_hyperpyyaml(handle, overrides)
    torch.manual_seed(0)
    samples = CROP_FRAMES * 960
    fake = 0.1 * torch.randn(BATCH, 1, samples)  # speech-level prediction

    @torch.no_grad()
    def losses(real):
        scores, feats = hparams["discriminator"](torch.cat([real, fake]))
        real_scores, fake_scores = _split_real_fake(scores, BATCH)
        feats_real, feats_fake = _split_real_fake(feats, BATCH)
        generator = hparams["generator_loss"](
            Stage.TRAIN, fake, real, fake_scores, feats_fake, feats_real
        )
        critic = hparams["discriminator_loss"](fake_scores, real_scores)
        return float(generator["G_loss"]), float(critic["D_loss"])

    silent = losses(torch.zeros(BATCH, 1, samples))
    speech = losses(0.1 * torch.randn(BATCH, 1, samples))
    assert all(math.isfinite(v) for v in silent + speech)
    assert silent[0] < 100 * speech[0] and silent[0] < LOSS_BOUND, (silent, speech)
