"""Pure stage logic of the progressive data-scaling pipeline (numpy, scipy, pandas only)."""
