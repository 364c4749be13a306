"""Streamlit building blocks shared by the pages of the ReLU-NMD Explorer.

Pages stay thin: they read widgets, call :mod:`nmdcore` and draw with the helpers
here. Everything Streamlit-specific lives in this package; :mod:`nmdcore` never
imports streamlit.
"""
