"""Every knob in the YAML: the code reads only keys the YAMLs declare, and
every key a recipe YAML declares is read by something.

The sources are parsed (``ast``), never run. A read is any of
``hparams["key"]``, ``hparams.get("key")``, ``"key" in hparams``,
``self.hparams.key`` (any ``<x>.hparams.key``), ``getattr(self.hparams,
"key")`` and the keys named in ``hparams_kwargs("key", ...)``; an f-string
key (``hparams[f"{split}_json"]``) must match at least one declared key.

- Package code under ``speechbrain_v2s/training/`` reads recipe YAMLs: each key
  it reads must be declared in at least one recipe YAML (the GAN keys only in
  GAN recipes, the V2A keys only in V2A ones: which YAML needs which key is
  what the recipes' own runs check).
- A recipe's Python files read that recipe's YAMLs: each key in every one of
  them.
- The rest of the package reads a finished run's YAML (``export.py``), the
  shared architectures (``hparams/``) or an exported model's interface YAML
  (``export.interface_yaml``, read by ``inference.py``): each key declared in
  one of those.
- ``speechbrain_v2s/training/`` and the recipes read with no default in the
  code (no ``hparams.get``, no ``getattr(..., default)``): the value is the
  YAML's. (``export.py`` and ``inference.py`` keep theirs: they read runs of
  every kind and model folders exported before.)
- SpeechBrain's own idea (its ``tests/consistency/test_yaml.py``), the other
  way round: each top-level key of a recipe YAML is read by the package or
  its recipe's Python, referenced in the same YAML (``!ref <key>``) or one
  of SpeechBrain's run options that ``Brain`` takes from the hparams.

- SpeechBrain's recipe shape: each recipe YAML declares the Brain's
  ``modules:`` and a ``checkpointer`` whose ``recoverables:`` hold each of
  them (the same ``!ref``) and ``counter: !ref <epoch_counter>``; the whole
  experiment reads in the YAML, and a module left out of the checkpoints
  (a resumed run would start it afresh) shows there.

The last tests plant an undeclared key, a default, an unused YAML key and
YAMLs without that shape in temporary files: the checks must catch each.
"""

import ast
import glob
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "speechbrain_v2s")
RECIPES = os.path.join(ROOT, "recipes")

# Recipes that run another recipe's Python: the Vocoder's train.py imports
# the A2A recipe's prepare_kwargs (same data preparation).
BORROWED_SOURCES = {"AudioOnly/Vocoder": ["AudioOnly/A2A"]}

# Interface settings an exported model folder may add to its hyperparams.yaml
# (defaults in inference.py). export.py does not write them, so that exported
# files stay what they are: a new one must be added here, with its default
# documented in VideoToSpeech.
INTERFACE_OPTIONS = {
    "encode_frames": "video encoder block size (frames), default 125",
    "fold_batch_norm": "fold the video encoder's batch norms, default True",
}

HPARAMS_NAMES = {"hparams", "run_hparams"}
DICT_METHODS = {"get", "items", "keys", "values", "update", "pop", "copy"}
TOP_LEVEL_KEY = re.compile(r"^([A-Za-z_]\w*)\s*:", re.M)
REFERENCE = re.compile(r"<([A-Za-z_]\w*)")


# ---------------------------------------------------------------- parsing
def _is_hparams(node):
    """``hparams`` / ``run_hparams``, or any ``<x>.hparams``."""
    if isinstance(node, ast.Name):
        return node.id in HPARAMS_NAMES
    return isinstance(node, ast.Attribute) and node.attr == "hparams"


def _key(node):
    """A constant string key, an f-string's pattern, or None (not a literal)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = [
            re.escape(v.value) if isinstance(v, ast.Constant) else r"\w+"
            for v in node.values
        ]
        return re.compile("".join(parts))
    return None


def _reads_in(node):
    """The keys ``node`` reads from a hparams mapping (usually none)."""
    if isinstance(node, ast.Subscript) and _is_hparams(node.value):
        return [_key(node.slice)]
    if isinstance(node, ast.Attribute) and _is_hparams(node.value):
        return [] if node.attr in DICT_METHODS else [node.attr]
    if isinstance(node, ast.Call):
        func, args = node.func, node.args
        if isinstance(func, ast.Attribute) and func.attr == "get" and args:
            return [_key(args[0])] if _is_hparams(func.value) else []
        name = getattr(func, "id", getattr(func, "attr", None))
        if name in ("getattr", "hasattr") and len(args) > 1 and _is_hparams(args[0]):
            return [_key(args[1])]
        if name == "hparams_kwargs":
            return [_key(arg) for arg in args]
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        if isinstance(node.ops[0], (ast.In, ast.NotIn)):
            if _is_hparams(node.comparators[0]):
                return [_key(node.left)]
    return []


def _loose(node):
    """Why ``node`` reads hparams with a default in the code (or None):
    ``hparams.get(...)``, ``getattr(hparams, key, default)``, whatever the
    key (a wrapper such as ``getattr(self.hparams, name, default)`` too). A
    computed key read strictly (``hparams[key]``) is not flagged: a key no
    YAML declares fails there at run time."""
    if isinstance(node, ast.Call):
        func, args = node.func, node.args
        if isinstance(func, ast.Attribute) and func.attr == "get":
            if _is_hparams(func.value):
                return "hparams.get (a default in the code)"
        name = getattr(func, "id", None)
        if name == "getattr" and len(args) > 2 and _is_hparams(args[0]):
            return "getattr with a default"
    return None


def loose_reads(paths):
    """``["file:line why"]``: reads that may hide a setting from the YAML."""
    found = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        where = os.path.relpath(path, ROOT)
        for node in ast.walk(tree):
            why = _loose(node)
            if why:
                found.append(f"{where}:{node.lineno} {why}")
    return sorted(found)


def hparams_reads(source, filename="<source>"):
    """``[(key, line)]`` of the hparams keys a Python source reads.

    ``key`` is a string, or a compiled pattern for an f-string key.

    Example
    -------
    >>> src = 'x = hparams["a"] + self.hparams.b\\nif "c" in hparams: pass\\n'
    >>> hparams_reads(src)
    [('a', 1), ('b', 1), ('c', 2)]
    """
    reads = []
    for node in ast.walk(ast.parse(source, filename)):
        reads += [(key, node.lineno) for key in _reads_in(node) if key is not None]
    return sorted(reads, key=lambda read: (read[1], str(read[0])))


def file_reads(paths):
    """``[(key, "file:line")]`` read by the Python files ``paths``."""
    reads = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
        where = os.path.relpath(path, ROOT)
        reads += [(key, f"{where}:{line}") for key, line in hparams_reads(source, path)]
    return reads


def yaml_keys(path):
    """The top-level keys a YAML file declares (read as text: no tags run)."""
    with open(path, encoding="utf-8") as handle:
        return set(TOP_LEVEL_KEY.findall(handle.read()))


def yaml_references(path):
    """The keys a YAML file refers to (``!ref <key>``, ``<key[sub]>``, ...)."""
    with open(path, encoding="utf-8") as handle:
        return set(REFERENCE.findall(handle.read()))


def _declared(key, declared):
    if isinstance(key, str):
        return key in declared
    return any(key.fullmatch(name) for name in declared)


def undeclared(reads, declared):
    """The reads whose key no YAML declares: ``["file:line key", ...]``."""
    return [
        f"{where} {getattr(key, 'pattern', key)}"
        for key, where in reads
        if not _declared(key, declared)
    ]


def unused(path, used):
    """The top-level keys of YAML ``path`` that nothing reads or refers to."""
    refs = yaml_references(path)
    return sorted(
        key
        for key in yaml_keys(path)
        if not key.startswith("__")
        and key not in refs
        and not any(_declared(read, {key}) for read in used)
    )


def _mapping(node):
    """A composed YAML mapping node as ``{key: value node}`` (else None)."""
    if not isinstance(node, yaml.MappingNode):
        return None
    return {key.value: value for key, value in node.value}


def experiment_shape_gaps(path):
    """What recipe YAML ``path`` lacks of SpeechBrain's shape: ``modules`` and
    a ``checkpointer`` (a ``Checkpointer`` class) whose ``recoverables`` refer
    to each module and to the epoch counter, the same objects. The YAML is
    composed, not constructed: no tag runs.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "recipe.yaml")
    >>> _ = open(path, "w").write(
    ...     "model: !new:torch.nn.Linear [1, 1]\\n"
    ...     "modules:\\n    model: !ref <model>\\n"
    ...     "checkpointer: !new:speechbrain.utils.checkpoints.Checkpointer\\n"
    ...     "    checkpoints_dir: /tmp\\n"
    ...     "    recoverables:\\n        model: !ref <model>\\n")
    >>> experiment_shape_gaps(path)
    ['checkpointer recoverables: counter (!ref <epoch_counter>)']
    """
    with open(path, encoding="utf-8") as handle:
        top = _mapping(yaml.compose(handle, Loader=yaml.SafeLoader)) or {}
    modules = _mapping(top.get("modules"))
    checkpointer = top.get("checkpointer")
    gaps = [] if modules else ["modules"]
    if checkpointer is None or not checkpointer.tag.endswith("Checkpointer"):
        return gaps + ["checkpointer"]
    recoverables = _mapping((_mapping(checkpointer) or {}).get("recoverables")) or {}
    wanted = {
        name: [node.value, f"<modules[{name}]>"] if node.tag == "!ref" else []
        for name, node in (modules or {}).items()
    }
    wanted["counter"] = ["<epoch_counter>"]
    for name, refs in wanted.items():
        node = recoverables.get(name)
        if node is None or node.tag != "!ref" or node.value not in refs:
            refs = f" (!ref {refs[0]})" if refs else ""
            gaps.append(f"checkpointer recoverables: {name}{refs}")
    return gaps


# ---------------------------------------------------------------- the tree
def recipe_folders():
    """``{"GRID/V2A": [yaml paths], ...}``."""
    folders = {}
    for path in sorted(glob.glob(os.path.join(RECIPES, "*", "*", "hparams", "*.yaml"))):
        folder = os.path.relpath(os.path.dirname(os.path.dirname(path)), RECIPES)
        folders.setdefault(folder.replace(os.sep, "/"), []).append(path)
    return folders


def recipe_sources(folder):
    names = [folder] + BORROWED_SOURCES.get(folder, [])
    return sorted(p for n in names for p in glob.glob(os.path.join(RECIPES, n, "*.py")))


def package_sources(under=""):
    return sorted(glob.glob(os.path.join(PACKAGE, under, "**", "*.py"), recursive=True))


def recipe_yaml_keys():
    return set().union(*(yaml_keys(p) for ps in recipe_folders().values() for p in ps))


def interface_keys():
    """Keys of an exported V2A model's ``hyperparams.yaml`` besides its
    architecture (the shared ``hparams/*.yaml``), vocoder included."""
    from speechbrain_v2s.export import interface_yaml

    text = interface_yaml("", "v2a", {"mean": 0.4, "std": 0.2}, has_vocoder=True)
    return set(TOP_LEVEL_KEY.findall(text))


def shared_arch_keys():
    paths = glob.glob(os.path.join(ROOT, "hparams", "*.yaml"))
    return set().union(*(yaml_keys(p) for p in paths))


def sb_run_options():
    """Keys SpeechBrain's ``Brain`` takes from the hparams (run options)."""
    from speechbrain.core import RunOptions

    return set(RunOptions().as_dict())


# ---------------------------------------------------------------- tests
def test_training_code_reads_only_declared_keys():
    reads = file_reads(package_sources("training"))
    assert reads, "no hparams read found: is the parser broken?"
    missing = undeclared(reads, recipe_yaml_keys())
    assert not missing, f"read but declared in no recipe YAML: {missing}"


def test_training_and_recipe_code_have_no_defaults():
    """A default in the code hides a setting from the YAML (and, behind a
    wrapper with a computed key, from the other checks here)."""
    recipes = [p for f in recipe_folders() for p in recipe_sources(f)]
    loose = loose_reads(package_sources("training") + recipes)
    assert not loose, loose


@pytest.mark.parametrize("folder", sorted(recipe_folders()))
def test_recipe_code_reads_keys_its_yamls_declare(folder):
    reads = file_reads(recipe_sources(folder))
    for path in recipe_folders()[folder]:
        missing = undeclared(reads, yaml_keys(path))
        assert not missing, f"{os.path.relpath(path, ROOT)} lacks {missing}"


def test_other_package_code_reads_only_declared_keys():
    training = set(package_sources("training"))
    reads = file_reads([p for p in package_sources() if p not in training])
    declared = (
        recipe_yaml_keys()
        | shared_arch_keys()
        | interface_keys()
        | set(INTERFACE_OPTIONS)
    )
    missing = undeclared(reads, declared)
    assert not missing, f"read but declared in no YAML: {missing}"


@pytest.mark.parametrize("folder", sorted(recipe_folders()))
def test_recipe_yaml_keys_are_used(folder):
    used = [key for key, _ in file_reads(package_sources() + recipe_sources(folder))]
    used += sorted(sb_run_options())
    for path in recipe_folders()[folder]:
        assert not unused(path, used), (os.path.relpath(path, ROOT), unused(path, used))


@pytest.mark.parametrize("folder", sorted(recipe_folders()))
def test_recipe_yaml_declares_modules_and_checkpointer(folder):
    for path in recipe_folders()[folder]:
        gaps = experiment_shape_gaps(path)
        assert not gaps, (os.path.relpath(path, ROOT), gaps)


def test_interface_options_are_read_with_their_documented_names():
    reads = {key for key, _ in file_reads([os.path.join(PACKAGE, "inference.py")])}
    assert set(INTERFACE_OPTIONS) <= reads  # an allowance nothing uses goes


# ------------------------------------------------- the checks can fail
def test_a_planted_undeclared_key_is_caught(tmp_path):
    source = tmp_path / "planted.py"
    source.write_text(
        "def f(self, hparams, split):\n"
        '    a = hparams["seed"] + hparams["planted_subscript"]\n'
        "    b = self.hparams.planted_attribute + brain.hparams.epoch_counter\n"
        '    c = hparams.get("planted_get", 1)\n'
        '    d = getattr(self.hparams, "planted_getattr", None)\n'
        '    e = "planted_in" in hparams\n'
        '    g = hparams_kwargs("save_folder", "planted_kwarg")\n'
        '    h = hparams[f"{split}_json"], hparams[f"{split}_planted"]\n'
        "    return hparams.items(), other['not_hparams'], other.get('nor_this')\n"
    )
    found = undeclared(file_reads([str(source)]), recipe_yaml_keys())
    assert [entry.split(" ", 1)[1] for entry in loose_reads([str(source)])] == [
        "hparams.get (a default in the code)",
        "getattr with a default",
    ]
    names = [entry.split(" ", 1)[1] for entry in found]
    assert names == [
        "planted_subscript",
        "planted_attribute",
        "planted_get",
        "planted_getattr",
        "planted_in",
        "planted_kwarg",
        r"\w+_planted",
    ]
    assert found[0] == f"{os.path.relpath(source, ROOT)}:2 planted_subscript"


def test_a_wrapper_with_a_default_is_caught(tmp_path):
    source = tmp_path / "wrapper.py"
    source.write_text(
        "def _hp(self, name, default=None):\n"
        "    return getattr(self.hparams, name, default)\n"
        "def _get(hparams, key, default):\n"
        "    return hparams.get(key, default), hparams[key]\n"
    )
    assert [entry.split(" ", 1)[1] for entry in loose_reads([str(source)])] == [
        "getattr with a default",
        "hparams.get (a default in the code)",
    ]


def test_a_planted_unused_yaml_key_is_caught(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text(
        "seed: 1\n"
        "__set_seed: !apply:torch.manual_seed [!ref <seed>]\n"
        "lr: 0.1\n"
        "planted_knob: 3\n"
        "opt_class: !name:torch.optim.SGD\n"
        "    lr: !ref <lr>\n"
        "max_grad_norm: 5.0\n"
    )
    used = ["opt_class", re.compile(r"\w+_json")] + sorted(sb_run_options())
    # seed and lr: referred to in the YAML; max_grad_norm: a run option.
    assert unused(str(path), used) == ["planted_knob"]


def test_a_recipe_yaml_without_the_experiment_shape_is_caught(tmp_path):
    checkpointer = (
        "checkpointer: !new:speechbrain_v2s.training.checkpoints.SafeCheckpointer\n"
        "    checkpoints_dir: !ref <save_folder>\n"
    )
    recoverables = (
        "    recoverables:\n"
        "        model: !ref <training_model>\n"
        "        counter: !ref <epoch_counter>\n"
    )
    modules = (
        "modules:\n"
        "    model: !ref <training_model>\n"
        "    discriminator: !ref <discriminator>\n"
    )
    cases = {
        "no_modules.yaml": (checkpointer + recoverables, ["modules"]),
        "no_checkpointer.yaml": (modules, ["checkpointer"]),
        "not_a_checkpointer.yaml": (modules + "checkpointer: null\n", ["checkpointer"]),
        "no_recoverables.yaml": (
            modules + checkpointer,
            [
                "checkpointer recoverables: model (!ref <training_model>)",
                "checkpointer recoverables: discriminator (!ref <discriminator>)",
                "checkpointer recoverables: counter (!ref <epoch_counter>)",
            ],
        ),
        "a_module_left_out.yaml": (
            modules + checkpointer + recoverables,
            ["checkpointer recoverables: discriminator (!ref <discriminator>)"],
        ),
        "another_object.yaml": (
            modules
            + checkpointer
            + recoverables.replace("<training_model>", "<model>")
            + "        discriminator: !ref <modules[discriminator]>\n",
            ["checkpointer recoverables: model (!ref <training_model>)"],
        ),
    }
    for name, (text, gaps) in cases.items():
        path = tmp_path / name
        path.write_text("seed: 1\n" + text)
        assert experiment_shape_gaps(str(path)) == gaps, name
