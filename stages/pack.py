"""DVC stage ``pack``: flat token stores -> fixed-length int32 training rows, per tokenizer.

``concat`` lays every piece (``<S>`` ... ``<E>`` as tokenized) back to back and cuts rows of
``seq_len`` (the last row padded with ``<P>``); ``separate`` puts one piece per row, truncated
or padded (Aria's ``--sep_sequences``). ``<D>`` is not here: training inserts it.
Outputs ``data/pack/<tokenizer>/`` (train.npy, val.npy of shape [rows, seq_len], meta.json)
for every tokenizer in ``pack.tokenizers`` (``data/tokens/<tokenizer>/``).
"""

from __future__ import annotations

import time

from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.data.pack import pack_tokenizers
from pipeline.orchestration.stage import StageOutputs, params_dump

OUT = "data/pack"


@flow(name="pack")
def pack() -> None:
    log = get_run_logger()
    t0 = time.perf_counter()
    p, root = load_section("pack"), repo_root()
    with StageOutputs("pack", [OUT]) as out:
        inputs, tokenizers = pack_tokenizers(p, root, out[OUT], log)
        out.commit(params_dump("pack"), inputs=inputs, extra={"tokenizers": tokenizers})
    log.info("pack: done in %.1f s", time.perf_counter() - t0)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(pack)
