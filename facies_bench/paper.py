"""Published results of the preprint (Maslov et al., doi:10.31223/X5QN1V), for side-by-side reports.

Percentages as printed in the paper's Tables 2-4 (rows: feature sets 1-4; columns: precision /
recall / F1 per class in CLASS_KEYS order, then the macro average; Table 3 adds the pruned share
per facies class and overall).  Known printing inconsistencies are kept as printed (Table 2 fs3
recall average, fs4 precision average).  Kept in the package so that users without the
reference folder still see them; ``tests/test_paper.py`` cross-checks every value against the
reference CSVs when they are present.
"""

from __future__ import annotations

# feature set -> metric -> [one value per class in schema.CLASS_KEYS order..., macro average]
TABLE2_BEFORE_CL: dict[int, dict[str, list[float | None]]] = {
    1: {
        'precision': [88.0, 85.0, 84.0, 54.0, 85.0, 56.0, 47.0, 51.0, 69.0],
        'recall': [82.0, 72.0, 90.0, 67.0, 94.0, 79.0, 24.0, 68.0, 72.0],
        'f1': [85.0, 78.0, 87.0, 60.0, 89.0, 66.0, 32.0, 58.0, 69.0],
    },
    2: {
        'precision': [90.0, 82.0, 85.0, 59.0, 82.0, 61.0, 43.0, 22.0, 66.0],
        'recall': [85.0, 77.0, 84.0, 64.0, 96.0, 74.0, 23.0, 72.0, 72.0],
        'f1': [87.0, 79.0, 85.0, 61.0, 88.0, 67.0, 30.0, 34.0, 67.0],
    },
    3: {
        'precision': [89.0, 83.0, 81.0, 59.0, 92.0, 37.0, 29.0, 72.0, 68.0],
        'recall': [78.0, 80.0, 94.0, 63.0, 95.0, 59.0, 68.0, 65.0, 68.0],
        'f1': [83.0, 82.0, 87.0, 61.0, 94.0, 46.0, 41.0, 68.0, 70.0],
    },
    4: {
        'precision': [76.0, 86.0, 92.0, 58.0, 94.0, 23.0, 50.0, 40.0, 67.0],
        'recall': [80.0, 77.0, 56.0, 71.0, 94.0, 68.0, 21.0, 74.0, 68.0],
        'f1': [78.0, 81.0, 70.0, 64.0, 94.0, 34.0, 29.0, 52.0, 63.0],
    },
}

TABLE3_AFTER_CL: dict[int, dict[str, list[float | None]]] = {
    1: {
        'precision': [95.0, 94.0, 90.0, 78.0, 66.0, 65.0, 52.0, 86.0, 78.0],
        'recall': [88.0, 93.0, 76.0, 87.0, 96.0, 84.0, 30.0, 79.0, 79.0],
        'f1': [92.0, 93.0, 83.0, 82.0, 78.0, 73.0, 38.0, 82.0, 78.0],
        'pruned': [11.0, 20.0, 3.0, 22.0, None, 13.0, None, None, 13.0],
    },
    2: {
        'precision': [94.0, 96.0, 94.0, 85.0, 69.0, 84.0, 62.0, 77.0, 83.0],
        'recall': [96.0, 92.0, 79.0, 86.0, 96.0, 88.0, 23.0, 75.0, 79.0],
        'f1': [95.0, 94.0, 86.0, 85.0, 81.0, 86.0, 33.0, 76.0, 80.0],
        'pruned': [10.0, 20.0, 2.0, 24.0, None, 18.0, None, None, 12.0],
    },
    3: {
        'precision': [95.0, 97.0, 85.0, 79.0, 85.0, 88.0, 69.0, 32.0, 79.0],
        'recall': [87.0, 88.0, 94.0, 88.0, 96.0, 85.0, 42.0, 79.0, 82.0],
        'f1': [91.0, 92.0, 89.0, 82.0, 90.0, 87.0, 53.0, 45.0, 79.0],
        'pruned': [13.0, 17.0, 3.0, 23.0, None, 29.0, None, None, 13.0],
    },
    4: {
        'precision': [95.0, 93.0, 87.0, 78.0, 95.0, 76.0, 65.0, 69.0, 82.0],
        'recall': [89.0, 92.0, 96.0, 84.0, 95.0, 81.0, 47.0, 67.0, 81.0],
        'f1': [92.0, 92.0, 91.0, 81.0, 95.0, 78.0, 55.0, 68.0, 82.0],
        'pruned': [14.0, 17.0, 27.0, 18.0, None, 24.0, None, None, 16.0],
    },
}

TABLE4_AFTER_CL_ON_UNPRUNED: dict[int, dict[str, list[float | None]]] = {
    1: {
        'precision': [91.0, 87.0, 84.0, 61.0, 65.0, 57.0, 41.0, 79.0, 71.0],
        'recall': [81.0, 83.0, 74.0, 73.0, 96.0, 73.0, 30.0, 79.0, 74.0],
        'f1': [86.0, 85.0, 79.0, 67.0, 77.0, 64.0, 35.0, 79.0, 71.0],
    },
    2: {
        'precision': [91.0, 89.0, 87.0, 66.0, 69.0, 75.0, 45.0, 60.0, 73.0],
        'recall': [89.0, 80.0, 77.0, 71.0, 96.0, 73.0, 23.0, 75.0, 74.0],
        'f1': [90.0, 84.0, 82.0, 70.0, 80.0, 74.0, 30.0, 67.0, 72.0],
    },
    3: {
        'precision': [92.0, 90.0, 78.0, 61.0, 84.0, 77.0, 52.0, 31.0, 70.0],
        'recall': [79.0, 76.0, 92.0, 77.0, 96.0, 70.0, 42.0, 79.0, 76.0],
        'f1': [85.0, 83.0, 85.0, 68.0, 89.0, 73.0, 47.0, 44.0, 72.0],
    },
    4: {
        'precision': [91.0, 87.0, 88.0, 60.0, 93.0, 53.0, 59.0, 56.0, 73.0],
        'recall': [83.0, 79.0, 92.0, 74.0, 95.0, 65.0, 47.0, 67.0, 76.0],
        'f1': [87.0, 83.0, 90.0, 66.0, 94.0, 58.0, 52.0, 61.0, 74.0],
    },
}

HEADLINE: dict[str, float] = {
    'macro_f1_after_cl_pct': 82.0,
    'macro_f1_after_cl_on_unpruned_pct': 74.0,
    'pruned_overall_pct': 16.0,
    'glacierwise_macro_f1_mean_pct': 82.3,
    'glacierwise_macro_f1_sd_pct': 10.5,
    'ece100_before_pct': 11.6,
    'ece100_after_pct': 4.0,
    'smb_global_r': 0.65,
    'smb_global_rmse_m_we': 0.6,
    'smb_glacier_specific_r': 0.79,
    'smb_glacier_specific_rmse_m_we': 0.28,
    'smb_glacier_specific_n': 9.0,
    'spearman_rs_n_vs_f1_per_region': 0.52,
    'spearman_rs_n_vs_f1_per_sensor': 0.41,
}

#: Share of each class among the 137,592 labels, percent (paper, Section 2), in schema.CLASS_NAMES order.
CLASS_SHARE_PCT: tuple[float, ...] = (37.29, 21.50, 16.13, 15.23, 7.21, 1.71, 0.47, 0.45)

TABLES = {2: TABLE2_BEFORE_CL, 3: TABLE3_AFTER_CL, 4: TABLE4_AFTER_CL_ON_UNPRUNED}
