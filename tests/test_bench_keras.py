"""`cyloss bench --suite keras` runs end to end without TensorFlow (--no-tf).
Nothing here asserts a timing: only that the suite measures, checks and
reports every case and op."""
import json

import pytest

from cyloss import _bench_keras


def test_keras_suite_quick_runs(tmp_path, capsys):
    out_json, out_md = tmp_path / "k.json", tmp_path / "k.md"
    rc = _bench_keras.main(["--quick", "--no-tf", "--threads", "1",
                            "--json", str(out_json), "--markdown", str(out_md)])
    assert rc == 0
    res = json.loads(out_json.read_text())
    cases = {(r["case"], r["op"]) for r in res["results"]}
    assert cases == {(c, op) for c in _bench_keras.LOSSES for op in ("fwd", "fwd+bwd")}
    for r in res["results"]:
        assert r["shape"] == [64, 100]
        assert 0 < r["cyloss_min_s"] <= r["cyloss_s"]
        assert "tf_s" not in r
    assert not [n for n in res["notes"] if n.startswith("CHECK")], res["notes"]
    assert "| cce-logits | fwd+bwd |" in out_md.read_text()
    assert "scce-probs" in capsys.readouterr().out


def test_keras_suite_inputs():
    for case, (_, _, lab, pred) in _bench_keras.LOSSES.items():
        y, x = _bench_keras._inputs(case, 6, 5, 0)
        assert x.shape == (6, 5) and x.dtype.name == "float32"
        if lab == "ids":
            assert y.shape == (6,) and y.min() >= 0 and y.max() < 5
        else:
            assert y.shape == (6, 5) and set(y.ravel().tolist()) <= {0.0, 1.0}
        if pred == "simplex":
            assert abs(x.sum(axis=1) - 1).max() < 1e-5
        if pred != "logit":
            assert x.min() > 0 and x.max() < 1


def test_keras_suite_rejects_unknown_case(capsys):
    assert _bench_keras.main(["--quick", "--no-tf", "--losses", "nope"]) == 2
    assert "unknown case" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--quick"], []])
def test_keras_suite_parser_defaults(argv):
    a = _bench_keras.build_parser().parse_args(argv)
    assert a.shape == "8192x1000" and a.threads == 2 and not a.no_tf
