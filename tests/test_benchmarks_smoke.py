"""The benchmark harness (benchmarks/) runs end to end on tiny inputs, so it cannot rot.

No timing is asserted anywhere: only that every part runs, writes its files, and reports
internally consistent numbers.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks import costs, plots, run
from benchmarks._common import Starts, merge_records, solver_variants

REPO = Path(__file__).resolve().parents[1]


def _one_variant_per_family() -> list[str]:
    picked = {}
    for variant in solver_variants():
        picked.setdefault((variant.spec.family, variant.hyperparams.get("tsvd")), variant.label)
    return sorted(picked.values())


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    labels = _one_variant_per_family()
    if not labels:
        pytest.skip("no iterative solver with rectangular input is registered")
    out = tmp_path_factory.mktemp("bench")
    results = run.main(["--smoke", "--no-plot", "--out", str(out), "--solvers", ",".join(labels)])
    return SimpleNamespace(labels=labels, out=out, results=results)


def _records(smoke, part):
    data = json.loads((smoke.out / f"{part}.json").read_text())
    assert len(data["runs"]) == 1
    env = next(iter(data["runs"].values()))
    assert "threadpools" in env and "load_average" in env
    return data["records"]


def test_every_part_writes_json_and_csv(smoke):
    for part in run.PARTS:
        assert (smoke.out / f"{part}.csv").stat().st_size > 0
        records = _records(smoke, part)
        # one record per solver variant and dtype, each run without error
        assert sorted({r["variant"] for r in records}) == smoke.labels
        assert all(r["status"] == "ok" for r in records), [(r["variant"], r["status"]) for r in records]
    assert (smoke.out / "convergence_traces.csv").exists()


def test_speed_records_compare_with_a_measured_bound(smoke):
    records = _records(smoke, "speed")
    assert {r["dtype"] for r in records} == {"float64", "float32"}
    for r in records:
        assert r["n_iter"] == r["max_iter"] and len(r["iter_times_ms"]) == r["max_iter"] - r["warmup"]
        assert r["bound_ms"] > 0 and r["kernels"]
        assert r["ratio"] == pytest.approx(r["iter_s"] / r["bound_s"], rel=1e-2)
        assert r["iter_ms"] == pytest.approx(float(np.median(r["iter_times_ms"])), rel=1e-6, abs=1e-3)
        assert 0 < r["bound_min_ms"] <= r["bound_ms"] and r["iter_ms_min"] <= r["iter_ms"]
        assert r["bound_ms"] == min(r["bound_before_ms"], r["bound_after_ms"])


def test_speed_leaves_the_warm_up_iterations_out():
    from benchmarks._common import iteration_times
    history = {"time": [0.0, 5.0, 7.0, 8.0, 9.5, 10.5]}
    assert np.array_equal(iteration_times(history, 2), [1.0, 1.5, 1.0])
    assert np.array_equal(iteration_times(history, 1), [2.0, 1.0, 1.5, 1.0])
    args = run.parse_args(["--parts", "speed", "--warmup", "4", "--max-iter", "3"])
    cfg = run.settings(args, "speed")
    assert cfg["warmup"] == 4 and cfg["max_iter"] == 6  # raised: a median needs two timed iterations
    with pytest.raises(SystemExit):
        run.parse_args(["--warmup", "0"])


def test_short_iterations_get_more_of_them():
    from benchmarks.speed import MAX_ITER_CAP, iterations_for
    assert iterations_for(0.2, 10, 2, 1.0) == 10             # 8 timed iterations span 1.6 s already
    assert iterations_for(0.04, 10, 2, 1.0) == 27            # 25 timed iterations of 40 ms
    assert iterations_for(0.001, 10, 2, 1.0) == MAX_ITER_CAP
    assert iterations_for(0.04, 10, 2, 0.0) == 10


def test_convergence_records_hold_whole_histories(smoke):
    for r in _records(smoke, "convergence"):
        assert len(r["time_s"]) == len(r["relu_error"]) == r["n_iter"] + 1
        assert np.all(np.diff(r["time_s"]) >= 0)
        assert r["best_relu_error"] <= r["relu_error"][0]
        assert 0 < r["tsvd_relu_error"] <= 1


def test_memory_records_count_arrays_held(smoke):
    for r in _records(smoke, "memory"):
        # every solver holds at least one m×n state between iterations
        assert r["held_dense"] >= 1
        assert r["iteration_peak_arrays"] >= r["held_dense"] - 1e-9
        assert r["peak_arrays"] == max(r["setup_peak_arrays"], r["iteration_peak_arrays"])
        assert sum(b["count"] for b in r["held_blocks"] if b["dense"]) == r["held_dense"]


def test_plots_are_written(smoke, tmp_path):
    pytest.importorskip("matplotlib")
    for part, draw in (("speed", plots.plot_speed), ("convergence", plots.plot_convergence),
                       ("memory", plots.plot_memory)):
        path = draw(_records(smoke, part), tmp_path / f"{part}.png")
        assert path.stat().st_size > 1000


def test_rerun_replaces_records_with_the_same_key(tmp_path):
    path = tmp_path / "speed.json"
    key = ("data", "variant")
    merge_records(path, [{"data": "a", "variant": "bcd", "run_id": "1", "v": 1},
                         {"data": "a", "variant": "ebcd", "run_id": "1", "v": 1}], key, {"id": 1})
    merged = merge_records(path, [{"data": "a", "variant": "bcd", "run_id": "2", "v": 2}], key, {"id": 2})
    assert sorted((r["variant"], r["v"]) for r in merged) == [("bcd", 2), ("ebcd", 1)]
    assert set(json.loads(path.read_text())["runs"]) == {"1", "2"}


@pytest.mark.parametrize("m, n", [(500, 80), (80, 500)])
def test_work_table_counts_the_papers_flops(m, n):
    r, p = 7, min(m, n)
    three_block = costs.iteration_work(SimpleNamespace(family="three_block"), {}, m, n, r)
    assert three_block.gemm_flops() == 6 * m * n * r
    exact = costs.iteration_work(SimpleNamespace(family="latent"), {"tsvd": "exact"}, m, n, r)
    assert exact.gemm_flops() == 2 * m * n * p + 4 * m * n * r
    assert costs.iteration_work(SimpleNamespace(family="symmetric"), {}, m, n, r) is None
    assert costs.target_ratio(SimpleNamespace(family="three_block"), {}, 32) == 1.2
    assert costs.target_ratio(SimpleNamespace(family="three_block"), {}, 16) is None


def test_bound_takes_the_faster_layout_of_each_gemm():
    work = costs.iteration_work(SimpleNamespace(family="three_block"), {}, 300, 50, 4)
    bound = costs.measure_bound(work, 300, 50, np.float32, repeats=1)
    assert bound["complete"] and len(bound["kernels"]) == 3
    for k in bound["kernels"]:
        assert k["median_s"] == min(k["direct_s"], k["transposed_s"])
    assert bound["bound_s"] == pytest.approx(sum(k["median_s"] for k in bound["kernels"]) + bound["pass_s"])
    again = costs.measure_bound(work, 300, 50, np.float32, repeats=1, layouts=bound["layouts"])
    for k in again["kernels"]:
        assert k["layout"] == bound["layouts"][k["kernel"]] and f"{k['layout']}_s" in k
        assert len([key for key in ("direct_s", "transposed_s") if key in k]) == 1


def test_em_bound_counts_one_erfcx_pass_over_the_zeros():
    spec = SimpleNamespace(family="latent", key="em")
    work = costs.iteration_work(spec, {"tsvd": "randomized"}, 300, 50, 4, zeros=12000)
    latent = costs.iteration_work(SimpleNamespace(family="latent", key="naive"), {"tsvd": "randomized"}, 300, 50, 4)
    assert work.kernels[:-1] == latent.kernels and work.gemm_flops() == latent.gemm_flops()
    assert work.kernels[-1] == costs.Erfcx(12000)
    bound = costs.measure_bound(work, 300, 50, np.float32, repeats=1)
    erfcx_part = bound["kernels"][-1]
    assert erfcx_part["kernel"] == "erfcx over 12000 entries" and erfcx_part["median_s"] > 0
    assert bound["bound_s"] == pytest.approx(sum(k["median_s"] * k["count"] for k in bound["kernels"])
                                             + bound["pass_s"])


def test_measuring_gives_up_past_the_budget():
    work = costs.iteration_work(SimpleNamespace(family="three_block"), {}, 300, 50, 4)
    bound = costs.measure_bound(work, 300, 50, np.float64, repeats=1, give_up_s=0.0)
    assert not bound["complete"] and len(bound["kernels"]) == 1 and bound["pass_s"] is None


def test_every_solver_gets_the_same_start():
    rng = np.random.default_rng(0)
    X = np.maximum(rng.standard_normal((30, 20)), 0)
    starts = Starts(X, [3, 5], "tsvd")
    W, H = starts.factors(3)
    for variant in solver_variants():
        init = starts.for_solver(variant.spec, 3, np.float64)
        if "theta" in init:
            np.testing.assert_allclose(init["theta"], W @ H)
        elif "U" in init:
            np.testing.assert_allclose(init["U"] @ init["V"].T, W @ H)
        else:
            np.testing.assert_allclose(init["W"] @ init["H"], W @ H)


@pytest.mark.parametrize("module", ["run", "startup", "peers"])
def test_module_form_runs(module):
    done = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", "--help"], capture_output=True,
                          text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0 and "usage" in done.stdout


def test_benchmarks_import_nmdcore_as_installed():
    for path in sorted((REPO / "benchmarks").glob("*.py")):
        assert "sys.path" not in path.read_text(), f"{path.name} edits sys.path"


def test_peers_comparison_skips_cleanly_without_the_recorded_runs(tmp_path, monkeypatch, capsys):
    from benchmarks import peers
    monkeypatch.setattr(peers, "PEERS", tmp_path / "peers")
    assert not peers.available()
    assert peers.main([]) == 0
    assert "skipped" in capsys.readouterr().out


def test_peer_targets_and_time_to_error():
    from benchmarks import peers
    if not peers.available():
        pytest.skip(f"no recorded peer runs at {peers.PEERS}")
    targets = peers.peer_targets("synth10k_r32")
    assert {t["peer"] for t in targets} == set(peers.SOLVER_OF_PEER)
    for t in targets:
        assert t["budget_s"] in peers.BUDGETS and t["reps"] >= 1 and np.isfinite(t["error"]) and t["peer_s"] > 0
    trace = [(0.5, 3.0), (1.0, 2.0), (2.0, 1.0)]
    assert peers.seconds_to(trace, 2.0) == 1.0 and peers.seconds_to(trace, 0.5) is None
