"""The static HTML report, generic over families (it reads files, never imports a family):
``collect`` scans every ``reports/<stage>/`` dir, ``headline`` is the contract a stage uses to
put its results first (``headline.json``), ``families`` groups folders into family sections,
``results`` writes the home page (``index.html``), ``stages_page`` the full per-stage dump
(``stages.html``), ``dag`` draws the pipeline from dvc.yaml, ``figures``/``assets`` render curves
and piano rolls and copy files, ``tables``/``html``/``markdown`` format. One self-contained
folder that opens from ``file://`` with no server and no internet (docs/report.md)."""
