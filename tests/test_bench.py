"""`cyloss bench` runs end to end with NumPy as the only peer. Nothing here
asserts a timing: only that the harness measures, checks and reports."""
import json

from cyloss import _bench


def test_bench_numpy_peer_runs_and_agrees(tmp_path, capsys):
    out_json, out_md = tmp_path / "b.json", tmp_path / "b.md"
    rc = _bench.main(["--peers", "numpy", "--cases", "sparse-2x3,dense-3x4,sigmoid-3x4",
                      "--repeat", "1", "--sample-ms", "0.1", "--warmup-ms", "0",
                      "--wait-quiet", "0", "--copy-mb", "1", "-q",
                      "--json", str(out_json), "--markdown", str(out_md)])
    assert rc == 0
    res = json.loads(out_json.read_text())
    assert {r["impl"] for r in res["results"]} == {"cyloss", "numpy"}
    assert len(res["results"]) == 3 * 3 * 2          # cases x ops x impls
    for r in res["results"]:
        assert "error" not in r, r
        assert r["median_s"] > 0 and r["min_s"] <= r["median_s"]
        if r["impl"] == "numpy":
            assert r["max_rel_err"] < 1e-5, r      # same losses and gradients as cyloss
            assert "ratio" in r
    assert not [n for n in res["notes"] if n.startswith("CHECK")]
    assert "| sparse-2x3 | fwd |" in out_md.read_text()
    assert "sparse-2x3" in capsys.readouterr().out


def test_case_bytes_and_parsing():
    case = _bench.Case("sparse-4x5", "float32")
    case.make(0)
    # fwd: logits + labels + loss; vag adds the gradient; vjp adds dy too
    assert case.bytes_moved("fwd") == 4 * 5 * 4 + 4 * 4 + 4 * 4
    assert case.bytes_moved("vag") == case.bytes_moved("fwd") + 4 * 5 * 4
    assert case.bytes_moved("vjp") == case.bytes_moved("vag") + 4 * 4
    for bad in ("softmax-2x3", "sparse-2by3", "sparse-0x3"):
        try:
            _bench.Case(bad, "float32")
        except ValueError:
            continue
        raise AssertionError(f"{bad} accepted")
