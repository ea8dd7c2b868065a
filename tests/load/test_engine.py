"""load/engine.py: what the engine decides before it talks to Eloqua (its HTTP paths run in tests/system)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.load.checkpoint import Checkpoint, Progress
from airflow_provider_eloqua.load.engine import Load
from airflow_provider_eloqua.load.spec import InputSpec, UploadSpec


def _load(upload: UploadSpec, checkpoint: Checkpoint | None = None) -> Load:
    return Load(
        SimpleNamespace(log=logging.getLogger("test_engine")),  # type: ignore[arg-type]  # only its log is used
        checkpoint or Checkpoint(None),
        blueprint=lambda: pytest.fail("no definition may be read"),
        source=InputSpec(data=[{"Email": "a@x.io"}]),
        upload=upload,
    )


@pytest.mark.parametrize(
    "earlier_cut",
    [
        [1024, 4096],  # an older provider: no cutting-rules version in its cut
        [2048, 4096, "rules"],  # other settings
    ],
)
def test_a_batched_load_cut_another_way_is_not_resumed(earlier_cut):
    """Batches an earlier try loaded under other settings or cutting rules would not line up with
    today's: resuming could skip or repeat rows, so the engine refuses, naming both cuts."""
    upload = UploadSpec(chunk_bytes=1024, max_bytes_per_sync=4096)
    earlier = Progress(source="spec:1", next=1, cut=earlier_cut)
    with pytest.raises(EloquaInputError, match=r"cutting rules\] .*, now \[1024, 4096, \d+\]"):
        _load(upload)._check_cut(earlier)
    assert earlier.cut == earlier_cut


def test_the_try_after_a_clear_loads_batches_cut_another_way_again(caplog):
    """The way out of the refusal above: Clear the task. Its next try starts the batches over, saying so."""
    checkpoint = Checkpoint(None)
    checkpoint.after_clear = True
    earlier = Progress(
        source="spec:1", next=2, cut=[2048, 4096, 1], done=[{"sync_uri": "/syncs/1"}, {"sync_uri": "/syncs/2"}]
    )
    with caplog.at_level(logging.WARNING):
        resumed = _load(UploadSpec(chunk_bytes=1024, max_bytes_per_sync=4096), checkpoint)._check_cut(earlier)
    assert (resumed.source, resumed.next, resumed.done, resumed.cut[:2]) == ("spec:1", 0, [], [1024, 4096])
    assert "New load: batches 1-2 (syncs /syncs/1, /syncs/2) were cut with [2048, 4096, 1]" in caplog.text
