"""Time-series applications: anomaly detectors and scores, thresholds, metrics, and
missing-value imputation with its simulation study.

* :mod:`~minivae.timeseries.anomaly` — reconstruction-error, Mahalanobis and
  reconstruction-probability detectors over sliding windows;
* :mod:`~minivae.timeseries.detector_store` — a fitted detector (model + scaler + thresholds)
  saved as one ``.npz`` and loaded back;
* :mod:`~minivae.timeseries.thresholds` — mu + k sigma, percentile, max;
* :mod:`~minivae.timeseries.metrics` — ROC/PR-AUC, F1, point-adjusted and range-based F1, errors;
* :mod:`~minivae.timeseries.impute` — classical imputation baselines and a Gaussian process;
* :mod:`~minivae.timeseries.imputation_study` — model-based imputation and the simulation test;
* :mod:`~minivae.timeseries.forecast` — last-value and seasonal-naive forecasts with
  residual-quantile intervals, sample intervals, coverage and MAE.
"""
