"""Checkpoints: bit-exact round trips, optimizer/history storage, refusal of bad files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minivae.models import CVAE, VAE, Autoencoder, Model
from minivae.train import registry
from minivae.train.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from minivae.train.loop import fit
from minivae.train.optim import SGD, Adam


def trained(model, X, y=None):
    fit(model, X, y=y, epochs=2, batch_size=16, verbose=0, rng=0)
    return model


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.random((48, 6)), rng.integers(0, 3, 48)


def assert_same_params(a, b):
    pa, pb = list(a.parameters()), list(b.parameters())
    assert [n for n, _, _ in pa] == [n for n, _, _ in pb]
    for (name, x, _), (_, y, _) in zip(pa, pb):
        assert x.dtype == y.dtype, name
        assert np.array_equal(x, y), name


@pytest.mark.parametrize("make", [
    lambda: Autoencoder(6, [5], 2, output="mse", rng=1),
    lambda: VAE(6, [5, 4], 3, beta=2.0, rng=1),
    lambda: VAE(6, [5], 2, likelihood="gaussian", objective="iwae", k=3, rng=1),
    lambda: VAE(6, [5], 2, rng=1, dtype=np.float32, free_bits=0.1),
], ids=["ae", "vae", "vae_gauss_iwae", "vae_f32"])
def test_round_trip_is_bit_exact(tmp_path, data, make):
    X, _ = data
    model = trained(make(), X)
    path = tmp_path / "model.ckpt"  # no .npz suffix: the path is used as given
    model.save(path)
    assert path.exists() and not (tmp_path / "model.ckpt.npz").exists()
    loaded = type(model).load(path)
    assert type(loaded) is type(model) and loaded.config() == model.config()
    assert_same_params(model, loaded)
    v1, _ = model.loss(X, rng=3)
    v2, _ = loaded.loss(X, rng=3)
    assert v1 == v2
    assert np.array_equal(model.per_example_loss(X, rng=4)["loss"],
                          loaded.per_example_loss(X, rng=4)["loss"])


def test_cvae_round_trip_and_load_into_existing(tmp_path, data):
    X, y = data
    model = trained(CVAE(6, 3, [5], 2, rng=1), X, y)
    path = tmp_path / "cvae.npz"
    save_checkpoint(path, model)
    target = CVAE(6, 3, [5], 2, rng=99)  # same architecture, other weights
    ckpt = load_checkpoint(path, model=target)
    assert ckpt.model is target and ckpt.model_class == "CVAE"
    assert_same_params(model, target)
    labels = np.array([0, 1, 2])
    assert np.array_equal(model.sample(labels, rng=0), target.sample(labels, rng=0))


def test_file_is_plain_npz_without_pickle(tmp_path, data):
    model = VAE(6, [5], 2, rng=1)
    path = tmp_path / "m.npz"
    save_checkpoint(path, model)
    with np.load(path, allow_pickle=False) as f:
        assert str(f["__format__"]) == "minivae-checkpoint"
        assert int(f["__version__"]) == FORMAT_VERSION
        assert str(f["__model_class__"]) == "VAE"
        assert json.loads(str(f["__config__"])) == model.config()
        assert np.array_equal(f["param/encoder.layers.0.W"], model.encoder.layers[0].params["W"])


def test_optimizer_state_and_history(tmp_path, data):
    X, _ = data
    model = VAE(6, [5], 2, rng=1)
    opt = Adam(model, lr=2e-3)
    hist = fit(model, X, optimizer=opt, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "full.npz"
    save_checkpoint(path, model, optimizer=opt, history=hist)
    model2 = VAE(6, [5], 2, rng=5)
    opt2 = Adam(model2, lr=1.0)
    ckpt = load_checkpoint(path, model=model2, optimizer=opt2)
    assert opt2.lr == 2e-3 and opt2.t == opt.t
    for buf in ("m", "v"):
        for name in opt.state[buf]:
            assert np.array_equal(opt.state[buf][name], opt2.state[buf][name])
    assert ckpt.history.to_dict() == hist.to_dict()
    # a checkpoint without optimizer state cannot restore an optimizer
    save_checkpoint(tmp_path / "bare.npz", model)
    with pytest.raises(ValueError, match="no optimizer state"):
        load_checkpoint(tmp_path / "bare.npz", optimizer=Adam(VAE(6, [5], 2)))


# -------------------------------------------------------------------------------- refusals
def test_architecture_mismatch_names_the_key(tmp_path):
    path = tmp_path / "vae.npz"
    save_checkpoint(path, VAE(6, [5], 3))
    with pytest.raises(ValueError, match="config key 'latent_dim' is 3 in the checkpoint but 2"):
        load_checkpoint(path, model=VAE(6, [5], 2))
    with pytest.raises(ValueError, match="config key 'hidden_sizes'"):
        load_checkpoint(path, model=VAE(6, [4], 3))
    with pytest.raises(ValueError, match="config key 'beta'"):
        load_checkpoint(path, model=VAE(6, [5], 3, beta=2.0))
    with pytest.raises(ValueError, match="holds a VAE, cannot load it into a CVAE"):
        load_checkpoint(path, model=CVAE(6, 2, [5], 3))
    with pytest.raises(CheckpointError, match="holds a VAE, not a CVAE"):
        CVAE.load(path)


def test_parameter_shape_mismatch_names_the_parameter(tmp_path):
    model = VAE(6, [5], 3)
    path = tmp_path / "tampered.npz"
    save_checkpoint(path, model)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["param/decoder.layers.0.b"] = np.zeros(7)
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"parameter 'decoder.layers.0.b' has shape \(7,\)"):
        load_checkpoint(path)
    del arrays["param/decoder.layers.0.b"]
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="lacks parameter 'decoder.layers.0.b'"):
        load_checkpoint(path)


def test_corrupt_and_foreign_files(tmp_path):
    good = tmp_path / "good.npz"
    save_checkpoint(good, VAE(6, [5], 3))
    raw = good.read_bytes()
    cases = {
        "truncated.npz": raw[: len(raw) // 2],
        "garbage.npz": b"this is not a checkpoint at all" * 10,
        "empty.npz": b"",
    }
    for name, content in cases.items():
        p = tmp_path / name
        p.write_bytes(content)
        with pytest.raises(ValueError, match="could not read it: the file is corrupt"):
            load_checkpoint(p)
    npy = tmp_path / "array.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(ValueError, match="not an .npz archive"):
        load_checkpoint(npy)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a minivae checkpoint"):
        load_checkpoint(other)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.npz")
    newer = tmp_path / "newer.npz"
    with np.load(good) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["__version__"] = np.array(FORMAT_VERSION + 1)
    np.savez(newer, **arrays)
    with pytest.raises(ValueError, match="format version 2"):
        load_checkpoint(newer)


def test_unregistered_class_cannot_be_saved(tmp_path):
    class Unregistered(Autoencoder):
        pass

    with pytest.raises(ValueError, match="Unregistered"):
        save_checkpoint(tmp_path / "x.npz", Unregistered(3, [2], 1))
    with pytest.raises(TypeError, match="model must be a minivae Model"):
        save_checkpoint(tmp_path / "x.npz", object())
    assert issubclass(Unregistered, Model)


def test_class_not_imported_names_the_file_and_the_module(tmp_path, monkeypatch):
    path = tmp_path / "vae.npz"
    save_checkpoint(path, VAE(6, [5], 3))
    with np.load(path) as f:
        assert str(f["__model_module__"]) == "minivae.models.vae"
    # as in a process that never imported minivae.models.vae
    monkeypatch.delitem(registry.MODEL_REGISTRY, "VAE")
    with pytest.raises(ValueError, match=r"checkpoint .*vae.npz.*cannot load it: unknown model "
                                         r"class 'VAE'.*import minivae.models.vae"):
        load_checkpoint(path)
    # a file without the module entry (written before it existed) still says what to do
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files if k != "__model_module__"}
    np.savez(tmp_path / "old.npz", **arrays)
    with pytest.raises(ValueError, match="import minivae.models for the built-in models"):
        load_checkpoint(tmp_path / "old.npz")
    monkeypatch.undo()
    assert isinstance(load_checkpoint(tmp_path / "old.npz").model, VAE)


def test_loading_first_thing_in_a_fresh_process(tmp_path):
    """The checkpoint module can be imported first; a class whose module was not imported (an
    application's model: ``import minivae`` loads only the core models) gets the error that
    names the module, and importing it fixes that."""
    from minivae.apps.volatility import PointwiseVAE

    path = tmp_path / "pointwise.npz"
    coords = np.random.default_rng(0).uniform(-1.0, 1.0, size=(6, 2))
    save_checkpoint(path, PointwiseVAE(coords, [5], 3, decoder_hidden=[4], rng=1))
    code = (
        "import sys\n"
        "from minivae.train.checkpoint import load_checkpoint\n"
        "assert 'minivae.apps.volatility' not in sys.modules\n"
        "try:\n"
        f"    load_checkpoint({str(path)!r})\n"
        "except ValueError as e:\n"
        "    print(e)\n"
        "import minivae.apps.volatility\n"
        f"print(type(load_checkpoint({str(path)!r}).model).__name__)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout
    assert "import minivae.apps.volatility" in out and out.strip().endswith("PointwiseVAE")


def test_malformed_header_and_optimizer_mismatch_name_the_file(tmp_path):
    path = tmp_path / "m.npz"
    model = VAE(6, [5], 2, rng=1)
    save_checkpoint(path, model, optimizer=Adam(model))
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    for key, value, match in (("__version__", np.array("one"), "__version__ should be an int"),
                              ("__config__", np.array("{nope"), "not valid JSON"),
                              ("__config__", np.array("[1, 2]"), "not a JSON object"),
                              ("__model_class__", np.zeros(2), "__model_class__ should be a "
                                                                "string"),
                              ("__history__", np.array("[]"), "history is unreadable")):
        bad = tmp_path / "bad.npz"
        np.savez(bad, **{**arrays, key: value})
        with pytest.raises(ValueError, match=f"bad.npz.*{match}"):
            load_checkpoint(bad)
    with pytest.raises(ValueError, match=r"m.npz.*optimizer state does not fit this SGD"):
        load_checkpoint(path, optimizer=SGD(VAE(6, [5], 2), lr=0.1))


def test_train_package_imports_no_model():
    """Imports run models -> train: no module of minivae/train imports minivae.models (function-
    level imports included), and the registry imports nothing from minivae; otherwise the
    models' own imports of train/ (Model.fit, Model.save) would close a cycle."""
    import ast
    import pathlib

    import minivae.train

    for path in pathlib.Path(minivae.train.__file__).parent.glob("*.py"):
        imported = []
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path.name}: relative import"
                imported.append(node.module)
        assert not [m for m in imported if m.startswith("minivae.models")], path.name
        if path.name == "registry.py":
            assert not [m for m in imported if m.startswith("minivae")]


# ------------------------------------------------------------ every malformed file: one error
def _arrays(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture
def saved(tmp_path):
    """A checkpoint with optimizer state and history, and its arrays."""
    X = np.random.default_rng(0).random((32, 6))
    model = VAE(6, [5], 2, rng=1)
    opt = Adam(model)
    hist = fit(model, X, optimizer=opt, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "full.npz"
    save_checkpoint(path, model, optimizer=opt, history=hist)
    return path, _arrays(path), model


def _rewrite(tmp_path, arrays, **changes):
    bad = tmp_path / "bad.npz"
    drop = [k for k, v in changes.items() if v is None]
    np.savez(bad, **{k: v for k, v in {**arrays, **changes}.items() if k not in drop})
    return bad


@pytest.mark.parametrize("key, value, match", [
    ("__version__", np.array("abc"), r"__version__ should be an integer.*'abc'"),
    ("__version__", np.array(-7), "format version -7 is not a valid version"),
    ("__version__", np.array(0), "format version 0 is not a valid version"),
    ("__version__", np.array(1.0), "__version__ should be an integer"),
    ("__version__", np.array([1, 1]), "__version__ should be an integer"),
    ("__format__", np.array("other-format"), "not a minivae checkpoint"),
    ("__model_module__", np.array(3), "__model_module__ should be a string"),
    ("param/encoder.layers.0.b", np.array([np.nan, 0, 0, 0, 0]),
     "parameter 'encoder.layers.0.b' has 1 non-finite"),
    ("param/encoder.layers.0.b", np.zeros(5, np.float32),
     "parameter 'encoder.layers.0.b' is float32, the model is float64"),
    ("param/encoder.layers.0.b", np.zeros(5, np.int64), "'encoder.layers.0.b' is int64"),
    ("param/encoder.layers.0.b", np.zeros((5, 1)), r"'encoder.layers.0.b' has shape \(5, 1\)"),
    ("param/ghost", np.zeros(2), r"parameters the VAE lacks: \['ghost'\]"),
    ("optimizer/t", np.array(np.inf), "optimizer entry 't' has non-finite"),
    ("optimizer/m/encoder.layers.0.b", np.array(["x"] * 5), "optimizer entry"),
    ("optimizer/class", None, "no 'class' entry"),
    ("surprise", np.zeros(1), r"unknown entries \['surprise'\]"),
    ("__config__", None, "it has no '__config__' entry"),
    ("__format__", None, "it has no '__format__' entry"),
    ("__history__", np.array('{"metrics": 3}'), "'metrics' has the wrong type"),
    ("__history__", np.array('{"metrics": {"loss": 1.0}}'), "metric 'loss' is not a list"),
    ("__history__", np.array('{"metrics": {"loss": ["a"]}}'), "metric 'loss' holds 'a'"),
    ("__history__", np.array('{"metrics": {}, "steps": -1}'), "'steps' is negative"),
    ("__history__", np.array('{"metrics": {}, "steps": 1.5}'), "'steps' has the wrong type"),
    ("__history__", np.array('{"metrics": {}, "x": 1}'), "unknown entry 'x'"),
    ("__history__", np.array('{"steps": 1}'), "'metrics' entry"),
    ("__history__", np.array("[]"), "history is unreadable"),
])
def test_every_malformed_entry_raises_checkpoint_error(tmp_path, saved, key, value, match):
    _, arrays, _ = saved
    bad = _rewrite(tmp_path, arrays, **{key: value})
    with pytest.raises(CheckpointError, match=match) as info:
        load_checkpoint(bad)
    assert "bad.npz" in str(info.value) and info.value.path == str(bad)
    assert isinstance(info.value, ValueError)


def test_a_refused_file_leaves_the_model_and_optimizer_untouched(tmp_path, saved):
    _, arrays, model = saved
    target = VAE(6, [5], 2, rng=7)
    opt = Adam(target)
    before = {n: p.copy() for n, p, _ in target.parameters()}
    bad_history = _rewrite(tmp_path, arrays, __history__=np.array('{"metrics": 3}'))
    with pytest.raises(CheckpointError):
        load_checkpoint(bad_history, model=target, optimizer=opt)
    for name, p, _ in target.parameters():
        assert np.array_equal(p, before[name]), name
    assert opt.t == 0


def _patch_compression(raw: bytes, method: int) -> bytes:
    """The archive with the compression method of every entry set to ``method`` (in the local
    headers, PK\\x03\\x04 + 8, and in the central directory, PK\\x01\\x02 + 10)."""
    out = bytearray(raw)
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = out.find(signature)
        while start != -1:
            out[start + offset:start + offset + 2] = method.to_bytes(2, "little")
            start = out.find(signature, start + 4)
    return bytes(out)


def test_unknown_compression_method_is_a_checkpoint_error(tmp_path, saved):
    path, _, _ = saved
    bad = tmp_path / "method99.npz"
    bad.write_bytes(_patch_compression(path.read_bytes(), 99))
    with pytest.raises(CheckpointError, match=r"method99.npz.*(NotImplementedError|compression)"):
        load_checkpoint(bad)


def test_object_arrays_and_huge_declared_shapes_are_refused_before_reading(tmp_path, saved):
    import io
    import zipfile

    _, arrays, _ = saved
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{**arrays, "optimizer/class": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(CheckpointError, match="holds Python objects.*never unpickle"):
        load_checkpoint(pickled)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    huge = tmp_path / "huge.npz"
    with zipfile.ZipFile(huge, "w") as zf:
        zf.writestr("param/x.npy", header.getvalue() + b"\0" * 16)
    with pytest.raises(CheckpointError, match=r"declares shape \(1000000000000,\)"):
        load_checkpoint(huge)
    text = tmp_path / "notes.npz"
    with zipfile.ZipFile(text, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(CheckpointError, match="'readme.txt' is not an .npy array"):
        load_checkpoint(text)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupt_bytes_anywhere_give_checkpoint_error_or_the_same_model(tmp_path, saved, data):
    """Bytes changed at random offsets: the load fails with CheckpointError (never a raw
    zipfile/NumPy/struct error), or -- when only bytes no reader checks were hit, such as a
    timestamp -- it gives back exactly the saved model."""
    path, _, model = saved
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 4), label="n_changes")):
        at = data.draw(st.integers(0, len(raw) - 1), label="offset")
        raw[at] = data.draw(st.integers(0, 255).filter(lambda b, old=raw[at]: b != old),
                            label="byte")
    bad = tmp_path / "corrupt.npz"
    bad.write_bytes(bytes(raw))
    try:
        loaded = load_checkpoint(bad).model
    except CheckpointError as exc:
        assert "corrupt.npz" in str(exc)
        return
    assert_same_params(model, loaded)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fraction=st.floats(0.0, 0.999))
def test_truncated_anywhere_gives_checkpoint_error(tmp_path, saved, fraction):
    path, _, _ = saved
    raw = path.read_bytes()
    bad = tmp_path / "cut.npz"
    bad.write_bytes(raw[:int(len(raw) * fraction)])
    with pytest.raises(CheckpointError, match="cut.npz"):
        load_checkpoint(bad)


def test_round_trip_with_optimizer_and_history_stays_bit_exact(tmp_path, saved):
    path, arrays, model = saved
    ckpt = load_checkpoint(path)
    assert_same_params(model, ckpt.model)
    for key, value in ckpt.optimizer_state.items():
        stored = arrays["optimizer/" + key]
        assert value.dtype == stored.dtype and np.array_equal(value, stored), key
    assert ckpt.version == FORMAT_VERSION and ckpt.history.steps == 4


# --------------------------------------------------------------------------- load_state_dict
def test_load_state_dict_refuses_nan_and_dtype_changes_unless_cast():
    model = VAE(6, [5], 2, rng=0)
    state = model.state_dict()
    before = model.state_dict()
    nan_state = {**state, "decoder.layers.0.b": np.full(5, np.nan)}
    nan_state["encoder.layers.0.W"] = state["encoder.layers.0.W"] + 1.0  # a valid change
    with pytest.raises(ValueError, match="parameter 'decoder.layers.0.b': 5 non-finite"):
        model.load_state_dict(nan_state)
    assert_same_params(model, _with(before))  # nothing was copied, not even the valid entry
    as32 = {k: v.astype(np.float32) for k, v in state.items()}
    with pytest.raises(TypeError, match="expected dtype float64, got float32; pass cast=True"):
        model.load_state_dict(as32)
    model.load_state_dict(as32, cast=True)
    for name, p, _ in model.parameters():
        assert p.dtype == np.float64 and np.array_equal(p, as32[name].astype(np.float64))
    small = VAE(6, [5], 2, rng=0, dtype=np.float32)
    with pytest.raises(ValueError, match="overflow float32 when cast=True"):
        small.load_state_dict({**state, "decoder.layers.0.b": np.full(5, 1e300)}, cast=True)
    with pytest.raises(ValueError, match="'decoder.layers.0.b': 1 non-finite"):
        small.load_state_dict({**as32, "decoder.layers.0.b": np.array([0, 0, np.inf, 0, 0],
                                                                       np.float32)})
    with pytest.raises(TypeError, match="'decoder.layers.0.b': expected a numpy array"):
        model.load_state_dict({**state, "decoder.layers.0.b": [0.0] * 5})
    with pytest.raises(TypeError, match="state must be a dict"):
        model.load_state_dict([("a", 1)])


class _with:
    """A stand-in with ``parameters()`` over a state dict (for assert_same_params)."""

    def __init__(self, state):
        self.state = state

    def parameters(self):
        return ((name, value, None) for name, value in self.state.items())
