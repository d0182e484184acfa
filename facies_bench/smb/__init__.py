"""Glacier-wide surface mass balance from facies maps (the paper's Eq. 2 and Eq. 3).

``run_smb_config`` (or ``run_smb`` with keywords) maps scenes (or reads facies GeoTIFFs or
product tables, the input mode of an ``SMBConfig``), computes per glacier-year the snow-covered
area ratio, the normalised transient snowline and the broadband albedo, matches them to WGMS
records and evaluates the global model with glacier folds and the glacier-specific models
leave-one-year-out; the stages are listed in :mod:`facies_bench.smb.pipeline`.  ``write_synthetic_wgms`` writes a synthetic store's process-made SMB records
(the simulator's degree-day mass balance, with measurement error).
"""

from facies_bench.smb.config import SMB_INPUTS, SMBConfig, parse_model_paths
from facies_bench.smb.features import (
    LIANG_COEFFICIENTS,
    Hypsometry,
    SceneFeatures,
    albedo_coefficients,
    broadband_albedo,
    compute_hypsometry,
    compute_scene_features,
    glacier_albedo,
    normalise_snowline,
    snow_cover_ratio,
    transient_snowline,
)
from facies_bench.smb.pipeline import open_smb_store, run_smb, run_smb_config, store_folds
from facies_bench.smb.regression import (
    ModelResult,
    cross_validate_glacier_specific,
    cross_validate_global,
    regression_scores,
)
from facies_bench.smb.report import SMBReport
from facies_bench.smb.synthetic import (
    WgmsRecordFiles,
    locate_wgms_records,
    measure_smb,
    process_smb_records,
    true_smb_predictors,
    wgms_dir,
    write_synthetic_wgms,
)
from facies_bench.smb.wgms import (
    match_records,
    read_glacier_mapping,
    read_wgms_table,
    write_glacier_mapping,
    write_wgms_table,
)
from facies_bench.smb.window import days_from_center, select_window_scenes

__all__ = [
    "LIANG_COEFFICIENTS", "SMB_INPUTS", "Hypsometry", "ModelResult", "SMBConfig", "SMBReport", "SceneFeatures",
    "WgmsRecordFiles", "albedo_coefficients", "broadband_albedo", "compute_hypsometry", "compute_scene_features",
    "cross_validate_glacier_specific", "cross_validate_global", "days_from_center", "glacier_albedo", "locate_wgms_records",
    "match_records", "measure_smb", "normalise_snowline", "open_smb_store", "parse_model_paths", "process_smb_records",
    "read_glacier_mapping", "read_wgms_table", "regression_scores", "run_smb", "run_smb_config", "select_window_scenes",
    "snow_cover_ratio", "store_folds", "transient_snowline", "true_smb_predictors", "wgms_dir", "write_glacier_mapping",
    "write_synthetic_wgms", "write_wgms_table",
]
