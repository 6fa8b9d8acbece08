"""Hypothetical looped models: a recurrence scaling law for their quality (law), a parametric
looped architecture that sweeps like hardware (parametric), published looped configurations
(presets) and equal-quality dense peers."""
