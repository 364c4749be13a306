"""Applications: the three tasks of Gillis, Porcelli & Seraghiti (2025), §5, each run live."""
import streamlit as st

from ui import applications, layout
from ui.state import persistent

layout.page("Applications", "Why the zeros matter: recover a matrix from its positive entries, all distances "
                            "from the small ones, and an embedding from a sparse similarity.")
seed = layout.seed()
task = persistent(st.radio, "apps_task", "completion", "Task", options=list(applications.TASKS),
                  format_func=applications.TASKS.get, horizontal=True)
{"completion": applications.completion, "distances": applications.distances,
 "embedding": applications.embedding}[task](seed)
