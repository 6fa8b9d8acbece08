"""Design reports: the answer to "which design, on which chip, and why".

A report gathers simulated design points (from `hwsim sweep` output or a built-in preset that
runs its own sweeps), turns them into one summary table, a set of figures and a conclusion
written from the table's numbers, and writes `report.md` plus a self-contained `index.html`.
`feasibility` checks one deployment against targets and searches the cheapest one that passes.
"""
