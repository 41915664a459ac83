"""Studies: the study file, its stage plan and runner, results tables, study figures, the study report and the demo."""
