"""Result files: the run-folder store (atomic writes), leaderboard aggregation, plots."""
