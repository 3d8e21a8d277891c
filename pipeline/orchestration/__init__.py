"""Prefect glue: environment, task-runner choice, stage runs, deployments for the UI."""
