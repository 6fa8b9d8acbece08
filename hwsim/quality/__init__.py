"""Model quality from published benchmark rows (configs/quality/): per loop depth, KV policy and
quantisation, with every number traceable to its source row (see model.py for the rules)."""

from hwsim.quality.model import (CHECKPOINT_PREFIX, PREFIX, Score, benchmark_key, default_group, is_quality_key,
                                 model_quality, quality, quality_columns, register_estimator)

__all__ = ["CHECKPOINT_PREFIX", "PREFIX", "Score", "benchmark_key", "default_group", "is_quality_key",
           "model_quality", "quality", "quality_columns", "register_estimator"]
