"""``python -m minivae.experiments denoise --quick`` end to end (the CI size), and its pieces."""

import json

import numpy as np
import pytest

from minivae.experiments import __main__ as dispatcher
from minivae.experiments import denoise as exp


def test_quick_run_end_to_end(tmp_path, capsys):
    assert dispatcher.main(["denoise", "--quick", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    for m in exp.methods():
        assert m in text
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["mode"] == "quick" and results["seeds"] == [0]
    per = results["runs"][0]["methods"]
    assert set(per) == set(exp.methods())
    for snr in ("0", "5", "10"):
        # the noisy input's SNR is the requested input SNR (exact mixing, pooled over beats
        # of equal SNR: equal, up to rounding)
        assert per["noisy input"][snr]["snr"] == pytest.approx(float(snr), abs=1e-9)
        for m in exp.methods():
            assert np.isfinite(per[m][snr]["snr"]) and per[m][snr]["rmse"] > 0
    # at 0 dB every filter chosen on validation improves on the noisy input
    for m in exp.FILTERS:
        assert per[m]["0"]["snr"] > 1.0, (m, per[m]["0"])
    assert (tmp_path / "denoise_beats.png").exists() and (tmp_path / "denoise_snr.png").exists()


def test_filters_are_chosen_on_validation_not_test():
    s = exp.TINY
    data = exp.make_data(s, 0)
    chosen = exp.run_filters(s, data)
    # replacing the test beats changes the scores but not the choice
    data["noisy"] = {k: (v if k[0] == "val" else v[::-1] * 0.5) for k, v in data["noisy"].items()}
    again = exp.run_filters(s, data)
    for name in exp.FILTERS:
        for snr in s.snrs:
            assert again[name][snr]["params"] == chosen[name][snr]["params"]


def test_beats_are_aligned_and_data_reproducible():
    s = exp.TINY
    a, b = exp.make_data(s, 3), exp.make_data(s, 3)
    np.testing.assert_array_equal(a["clean"]["test"], b["clean"]["test"])
    pre = int(round(s.before * s.fs))
    beats = a["clean"]["train"][:, :, 0]
    # the R peak at the same sample (+-1: the peak of R + Q + S is not exactly R's centre)
    assert np.all(np.abs(np.argmax(beats, axis=1) - pre) <= 1)
    assert not np.array_equal(a["clean"]["train"], exp.make_data(s, 4)["clean"]["train"])
