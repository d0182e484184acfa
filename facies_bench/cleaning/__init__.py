"""Label cleaning with confident learning (cleanlab), as in the paper's Section 3."""

from facies_bench.cleaning.clean import CleaningResult, clean_run
from facies_bench.cleaning.label_issues import find_facies_label_issues, noise_recovery, pruning_summary

__all__ = ["CleaningResult", "clean_run", "find_facies_label_issues", "noise_recovery", "pruning_summary"]
