"""bench.supernet_quality's records, read back by the benchmarks built on it."""

import json

from bench import supernet_quality as sq


def test_the_speed_probe_is_read_from_the_inherited_scoring_record(tmp_path):
    assert sq.recorded_speed_probe_ms(tmp_path) is None  # scored before probes were kept: no figure
    record = {"accuracy": [0.7], "halves": [[0.69, 0.71]], "latency_ms": [3.1], "timm_resnet18_ms": 6.15}
    (tmp_path / sq.INHERITED_RECORD.format(n=50)).write_text(json.dumps(record))
    assert sq.recorded_speed_probe_ms(tmp_path) == 6.15
    # evaluate_inherited finds the same record as its cache, so nothing is re-scored
    assert sq.evaluate_inherited(tmp_path / "run", tmp_path, tmp_path, {}, [None] * 50, None) == record


def test_the_shipped_recipe_and_the_one_before_find_their_cached_records():
    """The records committed under a run key are that recipe's figures: a recipe field added after
    a run was cached must not change its key at the value that trains as before."""
    from elasticvit.config import load_config

    base = sq.SCALES["full"].overrides
    shipped = sq.run_key(load_config("cifar10", base))
    before = sq.run_key(load_config("cifar10", [*base, "training.switchable_scales=false"]))
    assert shipped != before
    for key in (shipped, before):
        assert (sq.RECORDS / key / "train.json").exists()
