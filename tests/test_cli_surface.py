"""One command-line surface for every ``v2s-*`` tool (issue 17).

Each tool's argparse parser is built (nothing is run) and checked for the
shared conventions: ``-o/--output`` where the tool writes files, ``-j/--jobs``
where it runs workers, ``--version``, help on every option with its default
shown, and the old spellings still accepted but hidden from ``--help``.
"""

import argparse
import configparser
import importlib
import pathlib

import pytest

from speechbrain_v2s.cli_common import package_version

ROOT = pathlib.Path(__file__).resolve().parents[1]

# console script -> (module, function building its parser)
TOOLS = {
    "v2s-synth-corpus": ("speechbrain_v2s.synthetic.corpus", "build_parser"),
    "v2s-preprocess": ("speechbrain_v2s.video.preprocess", "build_parser"),
    "v2s-synthesize": ("speechbrain_v2s.cli", "build_synthesize_parser"),
    "v2s-export": ("speechbrain_v2s.cli", "build_export_parser"),
    "v2s-upload": ("speechbrain_v2s.cli", "build_upload_parser"),
    "v2s-evaluate": ("speechbrain_v2s.evaluation.cli", "build_parser"),
    "v2s-app": ("speechbrain_v2s.app.cli", "build_parser"),
    "v2s-space": ("speechbrain_v2s.app.space", "build_parser"),
}
# v2s-export writes to its positional OUT_DIR; v2s-upload writes nothing local.
WRITES_OUTPUT = {
    "v2s-synth-corpus",
    "v2s-preprocess",
    "v2s-synthesize",
    "v2s-evaluate",
    "v2s-space",
}
RUNS_WORKERS = {"v2s-synth-corpus", "v2s-preprocess", "v2s-evaluate"}


def build(tool):
    module, function = TOOLS[tool]
    return getattr(importlib.import_module(module), function)()


def option(parser, name):
    return parser._option_string_actions.get(name)


def test_every_console_script_is_checked():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    scripts = config["options.entry_points"]["console_scripts"]
    names = {line.split("=")[0].strip() for line in scripts.splitlines() if line}
    assert names == set(TOOLS)


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_version_prints_tool_and_package_version(tool, capsys):
    with pytest.raises(SystemExit) as stop:
        build(tool).parse_args(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"{tool} {package_version()}\n"


def test_package_version_is_the_installed_one():
    from importlib import metadata

    assert package_version() == metadata.version("speechbrain-v2s")


@pytest.mark.parametrize("tool", sorted(WRITES_OUTPUT))
def test_output_is_dash_o_and_double_dash_output(tool):
    parser = build(tool)
    short, long = option(parser, "-o"), option(parser, "--output")
    assert short is not None and short is long, f"{tool}: -o is not --output"


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_jobs_has_dash_j(tool):
    parser = build(tool)
    jobs = option(parser, "--jobs")
    assert (jobs is not None) == (tool in RUNS_WORKERS)
    if jobs is not None:
        assert option(parser, "-j") is jobs
        assert option(parser, "-j").type("3") == 3


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_every_option_has_help_and_shows_its_default(tool):
    parser = build(tool)
    formatter = parser._get_formatter()
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        name = "/".join(action.option_strings)
        assert action.help and action.help.strip(), f"{tool} {name}: no help"
        if any(action.default is v for v in (None, False, argparse.SUPPRESS)):
            continue
        text = formatter._expand_help(action)
        assert f"default: {action.default}" in text, f"{tool} {name}: {text!r}"


def test_help_of_every_tool_formats():
    for tool in TOOLS:
        text = build(tool).format_help()
        assert text.startswith(f"usage: {tool}") and "--version" in text


def test_evaluate_keeps_out_as_hidden_alias():
    parser = build("v2s-evaluate")
    base = ["--ref-dir", "r", "--gen-dir", "g"]
    assert parser.parse_args(base + ["--out", "old"]).out == "old"
    assert parser.parse_args(base + ["-o", "new"]).out == "new"
    assert parser.parse_args(base + ["--output", "new"]).out == "new"
    assert parser.parse_args(base).out == "evaluation"
    assert "--out " not in parser.format_help().replace("--output", "")


def test_old_spellings_still_parse():
    corpus = build("v2s-synth-corpus").parse_args(["--output", "c", "--jobs", "2"])
    assert (corpus.output, corpus.jobs) == ("c", 2)
    pre = build("v2s-preprocess").parse_args(["v", "--output", "r", "--strict"])
    assert (pre.output, pre.strict) == ("r", True)
    assert "--strict" not in build("v2s-preprocess").format_help()


# Tools that load models take --device, checked before anything loads.
DEVICE_TOOLS = {"v2s-synthesize", "v2s-evaluate"}


@pytest.mark.parametrize("tool", sorted(DEVICE_TOOLS))
def test_device_is_an_option(tool):
    assert option(build(tool), "--device") is not None


@pytest.mark.parametrize(
    "gpus, text, expected",
    [
        (0, "cpu", "cpu"),
        (1, "cuda", "cuda:0"),  # SpeechBrain warns on a bare "cuda"
        (2, "cuda:1", "cuda:1"),
        (0, "cuda", "CUDA is not available on this machine"),
        (1, "cuda:1", "this machine has 1 CUDA device(s) (cuda:0 to cuda:0)"),
        (1, "gpu", "--device gpu: not a device (cpu, cuda, cuda:N, ...)"),
    ],
)
def test_check_device(monkeypatch, gpus, text, expected):
    import torch

    from speechbrain_v2s.cli_common import check_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    if expected.startswith(("cpu", "cuda:")):
        assert check_device(text) == expected
    else:
        with pytest.raises(ValueError) as err:
            check_device(text)
        assert expected in str(err.value) and "\n" not in str(err.value)


def test_synthesize_cuda_without_cuda_is_one_line(monkeypatch, tmp_path, capsys):
    import torch

    from speechbrain_v2s.cli import synthesize_main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    video = tmp_path / "a.mp4"
    video.write_bytes(b"")
    code = synthesize_main(["--model", "/no/model", str(video), "--device", "cuda"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [
        "error: --device cuda: CUDA is not available on this machine (no GPU or "
        "no driver torch can use); use --device cpu"
    ]  # before the model: not SpeechBrain's "Could not parse CUDA device string"
