"""The exercises package as a whole: one catalogue, every checker accepts the library's
solution, the solutions are the library's code, show_solution prints the code that runs, and the
grader turns every kind of broken function into a message.

The planted mistakes of each lesson's exercises are in ``test_exercise_mistakes.py``.
"""

from __future__ import annotations

import inspect
import json
import pathlib
import textwrap

import numpy as np
import pytest

import minivae
from minivae import exercises as ex
from minivae.exercises import (
    EXERCISES,
    SOLUTIONS,
    ExerciseFailed,
    ExerciseResult,
    check_dense_backward,
    check_dense_forward,
    check_kl_grad,
    check_sigmoid_backward,
    show_solution,
)
from minivae.exercises.catalogue import LESSONS
from minivae.exercises.exercise import library
from minivae.nn import lstm
from minivae.objectives import losses
from minivae.objectives.distributions import DiagonalGaussian

ROOT = pathlib.Path(minivae.__file__).resolve().parent
LESSON_DIR = ROOT.parent / "lessons"
EXPECTED = {
    "01_autoencoders": {"dense_forward", "dense_backward", "sigmoid_backward", "relu_backward",
                        "bce_with_logits"},
    "02_vae_elbo_kl": {"kl_standard_normal", "kl_grad", "gaussian_nll", "gaussian_nll_grad"},
    "03_reparameterization": {"reparameterize", "reparameterize_backward"},
    "04_gradient_checking": {"numerical_gradient"},
    "05_rnn_lstm_bptt": {"lstm_step_forward", "lstm_step_backward", "lstm_forward",
                         "lstm_backward"},
    "06_lstm_autoencoder_decoders": {"repeat_vector_backward", "free_running_decode"},
    "07_lstm_vae_anomaly_detection": {"point_adjust"},
    "08_missing_values": {"gp_posterior"},
    "09_mnist_latent_spaces": {"norm_ppf"},
    "10_vae_variants": {"iwae_bound", "free_bits_kl"},
    "12_information_measures": {"kde_qip", "kde_qip_grad", "cs_divergence"},
    "13_shaping_the_prior": {"quantizer_backward"},
    "14_sequence_latents": {"gru_step_backward"},
    "16_vae_problems": {"rho_kl", "rho_kl_grad"},
}


# ============================================================================ the catalogue
def test_one_module_per_lesson_holds_that_lessons_exercises():
    by_lesson = {lesson: {e.name for e in EXERCISES.values() if e.lesson == lesson}
                 for lesson in EXPECTED}
    assert by_lesson == EXPECTED
    for module in LESSONS:
        names = {e.name for e in module.EXERCISES}
        lesson = module.LESSON
        assert module.__name__ == f"minivae.exercises.lesson{lesson}"
        assert names == EXPECTED[lesson]


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_each_exercise_is_used_by_the_notebook_of_its_lesson(name):
    notebook = LESSON_DIR / f"{EXERCISES[name].lesson}.ipynb"
    assert notebook.exists(), notebook
    source = "".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"])
    assert name in source


def test_one_namespace_reexports_every_checker_and_the_catalogue():
    assert set(SOLUTIONS) == set(EXERCISES) and len(SOLUTIONS) == len(EXERCISES) == 30
    for name, exercise in EXERCISES.items():
        assert getattr(ex, f"check_{name}") is exercise.checker
        assert f"check_{name}" in ex.__all__
    for name in ("EXERCISES", "SOLUTIONS", "show_solution", "ExerciseResult", "ExerciseFailed"):
        assert name in ex.__all__


def test_show_solution_and_the_grader_are_written_once():
    sources = {p.name: p.read_text() for p in (ROOT / "exercises").glob("*.py")}
    assert [n for n, s in sources.items() if "def show_solution" in s] == ["catalogue.py"]
    assert [n for n, s in sources.items() if "class Grader" in s] == ["grader.py"]
    assert not (ROOT / "exercises" / "sequences.py").exists()


# =========================================================================== the solutions
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_every_checker_accepts_the_library_solution(name, seed):
    result = EXERCISES[name].checker(SOLUTIONS[name], seed=seed, raise_on_fail=True)
    assert result.passed and bool(result)
    assert result.message.startswith(f"{name}: PASSED")
    assert all(c.passed for c in result.checks) and result.checks


def test_solutions_are_the_library_functions_where_the_signature_matches():
    from minivae.objectives.kl import free_bits_kl
    from minivae.timeseries.metrics import point_adjust

    assert SOLUTIONS["lstm_step_forward"] is lstm.lstm_step_forward
    assert SOLUTIONS["lstm_step_backward"] is lstm.lstm_step_backward
    assert SOLUTIONS["point_adjust"] is point_adjust
    assert SOLUTIONS["free_bits_kl"] is free_bits_kl
    for exercise in EXERCISES.values():
        if isinstance(exercise.solution, str):
            assert SOLUTIONS[exercise.name] is library(exercise.solution)
    with pytest.raises(KeyError, match="unknown exercise"):
        SOLUTIONS["nope"]


def test_lstm_sequence_solutions_are_the_library_references():
    """H1's lstm_forward / lstm_backward, looked up when used (decorated @reference)."""
    assert SOLUTIONS["lstm_forward"] is lstm.lstm_forward.reference
    assert SOLUTIONS["lstm_backward"] is lstm.lstm_backward.reference
    params = inspect.signature(SOLUTIONS["lstm_forward"]).parameters
    assert list(params) == ["x", "h0", "c0", "Wx", "Wh", "b", "mask"]
    assert list(inspect.signature(SOLUTIONS["lstm_backward"]).parameters) == [
        "dhs", "dhT", "dcT", "cache"]


# =========================================================================== show_solution
@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_show_solution_prints_the_library_code_that_runs(name):
    exercise = EXERCISES[name]
    text = show_solution(name)
    assert text.startswith(f"# Exercise {name} (lesson {exercise.lesson}):")
    assert exercise.source
    for path in exercise.source:
        assert path.startswith("minivae.") and not path.startswith("minivae.exercises")
        obj = library(path)
        code = getattr(obj, "reference", obj)  # a @reference function: the NumPy code
        assert textwrap.dedent(inspect.getsource(code)).rstrip() in text
        module, _, qualname = path.partition(":")
        assert f"# --- from {module}: {qualname}" in text


def test_show_solution_of_the_lstm_sequence_is_the_reference_loop():
    fwd, bwd = show_solution("lstm_forward"), show_solution("lstm_backward")
    assert "def lstm_forward(" in fwd and "def lstm_backward(" in bwd
    assert inspect.getsource(lstm.lstm_forward.reference).strip() in fwd
    for text in (fwd, bwd):  # no speed-organised code, no private copies
        assert "_sequence_forward" not in text and "workspace" not in text
        assert "_solution" not in text


def test_show_solution_points_at_the_library_objectives():
    assert inspect.getsource(DiagonalGaussian.kl_standard_normal).strip().splitlines()[0] in (
        show_solution("kl_standard_normal"))
    assert "# --- from minivae.objectives.losses: gaussian_nll" in show_solution("gaussian_nll")
    assert "# --- from minivae.objectives.losses: bernoulli_nll" in show_solution(
        "bce_with_logits")
    assert inspect.getsource(losses.gaussian_nll_grad).strip() in show_solution(
        "gaussian_nll_grad")
    src = show_solution("dense_backward")
    assert "self.grads[\"W\"] += x2.T @ dy2" in src and "Dense.backward" in src
    assert "def central_differences" in show_solution("numerical_gradient")
    with pytest.raises(KeyError, match="unknown exercise"):
        show_solution("nope")


# ============================================================================== the grader
@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_a_todo_stub_raises_not_implemented(name):
    def stub(*args):
        raise NotImplementedError("TODO")

    with pytest.raises(NotImplementedError):
        EXERCISES[name].checker(stub)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_a_crashing_function_becomes_a_message(name):
    def broken(*args):
        raise ZeroDivisionError("oops")

    result = EXERCISES[name].checker(broken)
    assert not result.passed
    assert "ZeroDivisionError" in result.message and "Expected signature" in result.message
    with pytest.raises(ExerciseFailed):
        EXERCISES[name].checker(broken, raise_on_fail=True)


def test_exceptions_none_wrong_arity_and_in_place_writes_become_messages():
    def broken(dy, x, W, b):
        return dy @ W, x.T @ dy, dy.sum(0)  # (4, 5) @ (3, 5): ValueError

    r = check_dense_backward(broken)
    assert not r.passed
    for text in ("raised ValueError", "dy: (4, 5)", "Expected signature"):
        assert text in r.message
    assert "return statement" in check_dense_backward(lambda dy, x, W, b: None).message
    assert "tuple of 3: (dx, dW, db)" in check_dense_backward(
        lambda dy, x, W, b: (dy @ W.T, x.T @ dy)).message
    assert "single array y" in check_dense_forward(lambda x, W, b: (x @ W + b, 0)).message

    def in_place(dy, y):
        dy *= y * (1 - y)
        return dy

    assert "modified its input 'dy' in place" in check_sigmoid_backward(in_place).message


def test_raise_on_fail_raises_assertion_with_the_message():
    with pytest.raises(ExerciseFailed) as info:
        check_kl_grad(lambda mu, lv: (mu, np.exp(lv) - 1), raise_on_fail=True)
    assert isinstance(info.value, AssertionError)
    assert str(info.value) == info.value.result.message
    assert "dlogvar" in str(info.value) and not info.value.result.passed


def test_seed_changes_inputs_and_is_reproducible():
    bad = lambda dy, x, W, b: (dy @ W.T, -(x.T @ dy), dy.sum(0))  # noqa: E731
    a, b, c = (check_dense_backward(bad, seed=s).message for s in (0, 0, 1))
    assert a == b and a != c
    with pytest.raises(TypeError, match="seed"):
        check_dense_backward(bad, seed=1.5)
    with pytest.raises(TypeError, match="expects your function"):
        check_dense_backward(None)


def test_result_repr_is_short_and_str_is_the_message():
    r = check_dense_forward(SOLUTIONS["dense_forward"])
    assert isinstance(r, ExerciseResult)
    assert repr(r) == "<ExerciseResult dense_forward: PASSED>"
    assert str(r) == r.message
