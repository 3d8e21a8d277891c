"""One thin module per DVC stage (``python -m stages.<name>``), each running one Prefect flow.

Importing this package sets Prefect's environment before prefect itself is imported.
"""

from pipeline.config import repo_root
from pipeline.orchestration.env import prepare_prefect_env

prepare_prefect_env(repo_root())
