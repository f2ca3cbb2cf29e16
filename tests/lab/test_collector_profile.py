"""The pure part of benchmarks/collector_profile.py: reading the parts out of pprof's cumulative list.

The profile itself is a figure, not a test; what is checked is that each named
part is read from the row it names (generic functions carry their type shape
between prefix and suffix), that the largest matching row counts, and that a
part absent from the profile reads 0.
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import collector_profile as profile  # noqa: E402  (benchmarks/ is not a package)

SHAPE = "go.shape.interface { ItemsCount() int; MergeSplit(context.Context, int) ([]Request, error) }"
CUM_TOP = f"""File: otelcol-contrib
Type: cpu
      flat  flat%   sum%        cum   cum%
         0     0%     0%      1.70s 33.01%  go.opentelemetry.io/collector/internal/fanoutconsumer.(*tracesConsumer).ConsumeTraces
         0     0%  3.11%      0.69s 13.40%  go.etcd.io/bbolt.(*DB).Update
         0     0%  3.50%      0.64s 12.43%  {profile.QUEUE}{SHAPE}]).Read
     0.01s  0.19% 17.28%      0.46s  8.93%  {profile.QUEUE}{SHAPE}]).Offer
         0     0% 23.30%      0.31s  6.02%  {profile.QUEUE}{SHAPE}]).onDone
         0     0% 23.30%     310ms  6.02%  {profile.QUEUE}{SHAPE}]).itemDispatchingFinish
     0.06s  1.14%  1.14%      1.67s 31.69%  runtime.mallocgc
     0.02s  0.38%  1.52%      0.10s  1.90%  runtime.mallocgc
"""


def test_each_part_is_read_from_its_own_row():
    shares = profile.part_shares(CUM_TOP)
    assert set(shares) == set(profile.PARTS)
    assert shares["persistent queue: write each request (Offer)"] == 8.93
    assert shares["persistent queue: read it back and unmarshal (Read)"] == 12.43
    assert shares["persistent queue: delete it once exported (onDone)"] == 6.02
    assert shares["  of the three: bbolt transactions (file_storage)"] == 13.40
    # The largest of two matching rows.
    assert shares["allocation (mallocgc)"] == 31.69
    assert shares["span_metrics connector"] == 0.0
