"""Compare: several solvers on the same data, start and time budget."""
import numpy as np
import pandas as pd
import streamlit as st

import nmdcore
from ui import controls, figures, layout, results, runs
from ui import data as uidata
from ui.state import persistent

layout.page("Compare", "Several solvers on the same data, the same start and the same budget. "
                       "With several random starts: mean and best per solver (err(t) − min, as in the papers).")
seed = layout.seed()
data = layout.chosen_data()

keys = [k for k in controls.solvers_for("compare") if nmdcore.SOLVERS[k].iterative]
SLOT = "compare"
default = [k for k in ("ebcd", "nmd_3b", "nmd_tm", "a_nmd") if k in keys][:3] or keys[:2]
left, right = st.columns([1, 2])
with left:
    chosen = persistent(st.multiselect, "compare_solvers", default, "Solvers", options=keys,
                        format_func=controls.solver_label)
    controls.solver_notes(chosen)
    with st.form("compare_form"):
        rank = controls.rank_slider(data.X.shape, key="rank")
        submitted = st.form_submit_button("Run comparison", type="primary", key="compare_run", width="stretch")
        run_cfg = controls.budgets("compare", max_iter=1000, time_limit=5.0)
        starts = int(persistent(st.number_input, "compare_starts", 1, "Random starts per solver (k)",
                                min_value=1, max_value=10,
                                help="k > 1 runs each solver from k random starts (seeds seed … seed+k−1) "
                                     "and draws the mean and the best."))
        params = controls.hyperparameter_expanders(chosen, prefix="compare")
with right:
    with runs.stop_row(SLOT, "compare_stop"):
        x_axis = persistent(st.radio, "compare_x", "time", "x axis", options=["time", "iteration"],
                            horizontal=True)
    minus_min = persistent(st.checkbox, "compare_minus_min", True, "Plot error − best error of all runs")


def curves_figure(histories):
    return figures.comparison(dict(histories), x=x_axis, subtract_min=minus_min)


if submitted and chosen:
    refusal = uidata.memory_refusal(data.X, chosen, rank)
    if refusal:
        st.error(refusal)
    else:
        init = "random" if starts > 1 else run_cfg["init"]
        try:
            jobs = [runs.Job(data.X, rank, key, params[key], max_iter=run_cfg["max_iter"],
                             init=results.shared_start(data.key, data.X, rank, key, init),
                             time_limit=run_cfg["time_limit"], seed=seed + i,
                             label=nmdcore.SOLVERS[key].label + ("" if starts == 1 else f" #{i + 1}"))
                    for key in chosen for i in range(starts)]
            runs.start(SLOT, jobs, inputs=data.key, meta={"rank": rank, "k": starts}, keep_theta=False)
        except nmdcore.NMDError as exc:
            st.error(str(exc))

run = runs.section(SLOT, data.key, prompt="Choose solvers and press **Run comparison**.", where=right,
                   draw=lambda run, histories: st.plotly_chart(curves_figure(histories), key="compare-curves",
                                                               width="stretch"))
with right:
    st.success(f"{run.outcome()} at r = {run.meta['rank']}.")
done = [dict(solver=job.solver, label=job.label, history=res.history, relu_error=res.relu_error,
             n_iter=res.n_iter, stop_reason=run.stop_reason(res))
        for job, res in zip(run.jobs, run.results)]
record = dict(run.meta, runs=done)
by_solver: dict = {}
for r in done:
    by_solver.setdefault(nmdcore.SOLVERS[r["solver"]].label, []).append(r)
shown = curves_figure(run.histories())
if record["k"] > 1:
    grid, curves, floor = figures.start_bands({k: [r["history"] for r in v] for k, v in by_solver.items()},
                                              x=x_axis)
    shown = figures.bands(grid, curves, floor, x=x_axis)
    with right:
        st.plotly_chart(shown, key="compare-bands", width="stretch")
        st.plotly_chart(curves_figure(run.histories()), key="compare-curves", width="stretch")
else:
    with right:
        st.plotly_chart(shown, key="compare-curves", width="stretch")

tsvd_error = results.tsvd_baseline(data.key, record["rank"], data.X)["relu_error"]
with right:
    for label, rs in by_solver.items():
        flagged = [w for w in (results.run_warning(r["stop_reason"], r["relu_error"], tsvd_error) for r in rs) if w]
        if flagged:
            count = "" if len(rs) == 1 else f" ({len(flagged)} of {len(rs)} runs)"
            st.warning(f"**{label}**{count}: {flagged[0]}", icon=":material/warning:")
    results.chart_downloads(shown, f"compare_r{record['rank']}", "compare-dl", st.columns(4)[:2])


rows = []
for label, rs in by_solver.items():
    errors = np.array([r["relu_error"] for r in rs])
    rows.append({"solver": label, "runs": len(rs), "best ReLU error": errors.min(),
                 "mean ReLU error": errors.mean(),
                 "iterations (mean)": float(np.mean([r["n_iter"] for r in rs])),
                 "time per run (s)": float(np.mean([r["history"]["time"][-1] for r in rs])),
                 "how the runs ended": " ".join(sorted({results.stop_sentence(r["stop_reason"]) for r in rs}))})
st.subheader("Summary")
st.caption(f"TSVD at r = {record['rank']} has a ReLU error of {tsvd_error:.5f}; every solver starts from it "
           "unless the start is random.")
table = pd.DataFrame(rows).sort_values("best ReLU error")
st.dataframe(table, hide_index=True, width="stretch",
             column_config={c: st.column_config.NumberColumn(format="%.5f")
                            for c in ("best ReLU error", "mean ReLU error")})
st.session_state["compare_table"] = table
