"""The static HTML report: ``collect`` scans every ``reports/<stage>/`` dir, ``dag`` draws the
pipeline from dvc.yaml, ``figures`` renders curves and piano rolls with matplotlib, ``html``
writes one self-contained site (``reports/site/index.html`` + copied assets) that opens from
``file://`` with no server and no internet."""
