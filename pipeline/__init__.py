"""ostinato: one reproducible DAG for symbolic-music and piano-performance models.

Importing the package does no work; stages live in ``stages/`` and call into here.
"""

__version__ = "0.1.0"
