"""The package's layering (ARCHITECTURE.md), checked on the source with ``ast``.

Every ``import`` and ``from ... import`` in ``speechbrain_v2s/`` (module level
and inside functions alike, relative ones resolved) is reduced to the *part*
it names: a subpackage (``nnet``, ``video``, ...) or a top module (``asr``,
``hub``, ...). An import is allowed when the arrow ``part -> part`` is in
:data:`ALLOWED`. Nothing is imported or run, so the test takes well under a
second and cannot be fooled by import order.

When this test fails on a new import, either the import goes (move the code
down to a layer both sides may use) or the arrow is added to :data:`ALLOWED`
*and* to ARCHITECTURE.md; :data:`NEVER` lists the arrows no one may add.
"""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = "speechbrain_v2s"

# Which parts each part may import (its own modules always); the same table is
# drawn in ARCHITECTURE.md ("The arrows"). Read bottom-up:
# base -> media -> models/metrics/preparation -> pipelines -> inference,
# training, judges -> evaluation, export -> cli. Recipes (outside the package)
# may import any of it; the package never imports recipes.
ALLOWED = {
    # base: importable by every layer, so they import nothing of the package
    "errors": set(),
    "outputs": set(),
    "hub": set(),  # fetching weights (SpeechBrain's fetch): a leaf
    "cli_common": set(),  # --version and the help format of every v2s-* tool
    "atomic": set(),  # every atomic write (temp file beside, fsync, rename)
    "manifest_paths": set(),  # the {data_root} placeholder of manifest paths
    # media: the one reader of each medium
    "audio": {"errors", "atomic"},
    "video": {"errors", "outputs", "cli_common", "atomic", "manifest_paths"},
    # tensors in, tensors out; scores; manifests; the synthetic corpus
    "nnet": {"audio"},
    "metrics": {"audio"},
    "prepare": {"errors", "audio", "video", "atomic"},
    "synthetic": {"audio", "video", "cli_common"},
    # SpeechBrain dynamic items shared by recipes
    "data": {"audio", "video", "prepare"},
    # inference: models come from hyperparams.yaml, code from nnet
    "inference": {"audio", "video", "data", "nnet"},
    "training": {
        "audio",
        "video",
        "nnet",
        "metrics",
        "prepare",
        "data",
        "hub",
    },
    # judges: the Transcriber interface, then offline ASR and the
    # transformers-based judges beside each other (evaluation picks one)
    "transcriber": {"audio"},
    "asr": {"audio", "synthetic", "transcriber"},  # synthetic: GRID's grammar
    "judges_hf": {"audio", "metrics", "synthetic", "transcriber"},
    # tools above the stack
    "evaluation": {
        "audio",
        "nnet",
        "metrics",
        "prepare",
        "inference",
        "asr",
        "judges_hf",
        "transcriber",
        "cli_common",
        "manifest_paths",
    },
    # custom_interface.py is built from these modules' sources (BUNDLED_MODULES,
    # EMBEDDED_MODULES): inference and what it imports
    "standalone": {"errors", "atomic", "audio", "video", "nnet", "data", "inference"},
    "hub_card": {"training"},
    "export": {"nnet", "training", "hub", "hub_card", "standalone"},
    "cli": {
        "outputs",
        "audio",
        "video",
        "inference",
        "hub",
        "export",
        "app",
        "cli_common",
    },
    # the web demo (v2s-app, v2s-space): on top of inference, like cli
    "app": {"errors", "outputs", "audio", "video", "inference", "cli_common"},
}

# Arrows that must never appear in ALLOWED, and why.
NEVER = {
    ("nnet", "training"): "models know nothing of how they are trained",
    ("nnet", "video"): "models take tensors, not files",
    ("nnet", "data"): "models take tensors, not files",
    ("nnet", "prepare"): "models take tensors, not files",
    ("nnet", "synthetic"): "no model depends on the built-in corpus",
    ("nnet", "evaluation"): "scores are computed on models, not inside them",
    ("nnet", "inference"): "inference is built on nnet",
    ("audio", "nnet"): "media readers sit below the models",
    ("audio", "training"): "media readers sit below training",
    ("video", "nnet"): "media readers sit below the models",
    ("video", "training"): "media readers sit below training",
    ("inference", "training"): "an exported model loads without training code",
    ("training", "synthetic"): "real recipes train without the synthetic corpus",
    ("data", "synthetic"): "real recipes' pipelines know no synthetic corpus",
    ("prepare", "synthetic"): "real recipes' preparation knows no synthetic corpus",
    ("asr", "judges_hf"): "judges sit side by side; evaluation.judges picks one",
    ("judges_hf", "asr"): "judges sit side by side; evaluation.judges picks one",
}

# Imports that break the arrows today, kept visible until they are removed:
# (file relative to the repository, part it imports) -> reason. None today: the
# asr <-> judges_hf cycle went when evaluation.judges took the spec dispatch.
KNOWN_VIOLATIONS = {}


def part_of(module):
    """The part a dotted module name belongs to, ``None`` outside the package.

    Example
    -------
    >>> part_of("speechbrain_v2s.nnet.model"), part_of("speechbrain_v2s.asr")
    ('nnet', 'asr')
    >>> part_of("recipes.GRID.V2A.train"), part_of("torch") is None
    ('recipes', True)
    """
    names = module.split(".")
    if names[0] == "recipes":
        return "recipes"
    if names[0] != PACKAGE or len(names) == 1:
        return None
    return names[1]


def imported_modules(tree, package):
    """``(line, dotted module)`` of every import in ``tree``, relative resolved.

    ``package`` is the dotted package of the file (for ``from . import x``).
    For ``from speechbrain_v2s import nnet`` the imported names are appended,
    so the part is the one really imported.

    Example
    -------
    >>> tree = ast.parse("def f():\\n    from ..audio import io\\n")
    >>> imported_modules(tree, "speechbrain_v2s.nnet")
    [(2, 'speechbrain_v2s.audio')]
    """
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                names = package.split(".")
                parents = names[: len(names) - node.level + 1]
                base = ".".join(parents + ([node.module] if node.module else []))
            if base == PACKAGE or not node.module:
                found += [(node.lineno, f"{base}.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, base))
    return sorted(found)


def package_imports(root):
    """``(file, line, source part, imported part)`` for every cross-part import.

    ``root`` is the folder holding ``speechbrain_v2s/``; files are reported
    relative to it.
    """
    edges = []
    for path in sorted((root / PACKAGE).rglob("*.py")):
        rel = path.relative_to(root)
        dotted = list(rel.with_suffix("").parts)
        package = ".".join(dotted[:-1])  # also right for an __init__.py
        source = part_of(".".join(dotted))
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(rel))
        for line, module in imported_modules(tree, package):
            target = part_of(module)
            if target is not None and target != source:
                edges.append((rel.as_posix(), line, source, target))
    return edges


def layering_errors(root):
    """One line per import that breaks :data:`ALLOWED`: ``file:line: ...``."""
    errors = []
    for file, line, source, target in package_imports(root):
        if target in ALLOWED.get(source, ()) or (file, target) in KNOWN_VIOLATIONS:
            continue
        why = NEVER.get((source, target), "not an arrow of ARCHITECTURE.md")
        if target == "recipes":
            why = "the package never imports recipes/"
        errors.append(f"{file}:{line}: {source} imports {target} ({why})")
    return errors


def test_package_imports_follow_the_arrows():
    errors = layering_errors(ROOT)
    assert not errors, "imports against the layering:\n" + "\n".join(errors)


def test_every_part_has_a_row():
    """A new subpackage or top module needs a decision on what it may import."""
    parts = {
        p.stem if p.is_file() else p.name
        for p in (ROOT / PACKAGE).iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }
    assert parts - set(ALLOWED) == set(), "parts missing from ALLOWED"
    assert set(ALLOWED) - parts == set(), "ALLOWED names parts that do not exist"


def test_allowed_holds_no_forbidden_arrow():
    bad = [(s, t) for s, t in NEVER if t in ALLOWED[s]]
    assert not bad, f"ALLOWED contains arrows listed in NEVER: {bad}"


def test_allowed_arrows_flow_one_way():
    """No cycle in the table: every arrow points down a layer."""
    done, stack = set(), []

    def visit(part):
        if part in stack:
            raise AssertionError("cycle: " + " -> ".join(stack + [part]))
        if part not in done:
            stack.append(part)
            for target in sorted(ALLOWED[part]):
                visit(target)
            stack.pop()
            done.add(part)

    for part in sorted(ALLOWED):
        visit(part)


def test_known_violations_are_still_there():
    """A fixed violation must leave the list (it would hide a new one)."""
    seen = {(file, target) for file, _, _, target in package_imports(ROOT)}
    assert set(KNOWN_VIOLATIONS) <= seen, set(KNOWN_VIOLATIONS) - seen


def test_standalone_bundles_only_allowed_parts():
    """standalone reads its modules by name: those names follow the arrows too."""
    tree = ast.parse((ROOT / PACKAGE / "standalone.py").read_text(encoding="utf-8"))
    carried = [
        name
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(
            getattr(t, "id", None) in ("BUNDLED_MODULES", "EMBEDDED_MODULES")
            for t in node.targets
        )
        for name in ast.literal_eval(node.value)
    ]
    parts = {part_of(name) for name in carried}
    assert parts and parts <= ALLOWED["standalone"], parts - ALLOWED["standalone"]


def documented_arrows(text):
    """The arrows drawn in the first code block of ARCHITECTURE.md.

    Example
    -------
    >>> documented_arrows("```\\nnnet, metrics -> audio   (why)\\nhub -> (none)\\n```")
    {'nnet': {'audio'}, 'metrics': {'audio'}, 'hub': set()}
    """
    block = text.split("```")[1]
    arrows = {}
    for line in block.splitlines():
        if "->" not in line or line.startswith("recipes"):
            continue
        left, right = line.split("->")
        right = right.split("(")[0]
        targets = {name.strip() for name in right.split(",") if name.strip()}
        for source in left.split(","):
            arrows[source.strip()] = targets
    return arrows


def test_architecture_md_draws_the_same_arrows():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    assert documented_arrows(text) == ALLOWED


def test_checker_names_file_and_line_of_a_violation(tmp_path):
    """The checker itself: planted upward, recipe and relative imports are caught."""
    package = tmp_path / PACKAGE
    (package / "nnet").mkdir(parents=True)
    (package / "nnet" / "__init__.py").write_text("")
    (package / "nnet" / "model.py").write_text(
        "import torch\n"
        "from speechbrain_v2s.audio import features\n"
        "def f():\n"
        "    from ..training import brain\n"
    )
    (package / "errors.py").write_text("from speechbrain_v2s import outputs\n")
    (package / "video.py").write_text("import recipes.GRID.V2A.train\n")
    assert layering_errors(tmp_path) == [
        "speechbrain_v2s/errors.py:1: errors imports outputs "
        "(not an arrow of ARCHITECTURE.md)",
        "speechbrain_v2s/nnet/model.py:4: nnet imports training "
        "(models know nothing of how they are trained)",
        "speechbrain_v2s/video.py:1: video imports recipes "
        "(the package never imports recipes/)",
    ]
