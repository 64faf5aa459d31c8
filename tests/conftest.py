"""Shared test settings: run from the repo root so `app.py` and `pages/` resolve."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.chdir(ROOT)
