"""Shared test settings: run from the repo root so `app.py` and `pages/` resolve."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.chdir(ROOT)
# The home page's studies train their smallest grids (ui.studies.quick): the full ones would keep
# a trainer busy for a minute under every other test. This process and the servers it starts.
os.environ.setdefault("DLCS_STUDIES", "quick")
