"""``python -m fairnb.exercises``: write the solution notebooks
(``notebooks/solutions/``) from ``fairnb/exercises/``."""
from __future__ import annotations

import sys

from .notebook import write_solution_notebooks

if __name__ == "__main__":
    for path in write_solution_notebooks():
        print("wrote", path)
    sys.exit(0)
