"""Counts for CloudWatch alarms, as Embedded Metric Format lines (Powertools), flushed at once.

One place for every alarm metric the functions emit: namespace ``VirtualIOP``, dimension
``service`` (Powertools adds it), a count of 1 per call. Metric names are fixed words; never PHI,
ids or free text in a name or a dimension (infra/template.py turns each into an alarm).
"""

from __future__ import annotations

NAMESPACE = "VirtualIOP"


def count(metric: str) -> None:
    """Emit ``metric`` = 1 now (one EMF log line; CloudWatch turns it into the metric)."""
    from aws_lambda_powertools.metrics import MetricUnit, SchemaValidationError, single_metric

    try:
        with single_metric(name=metric, unit=MetricUnit.Count, value=1):
            pass
    except SchemaValidationError:  # no POWERTOOLS_METRICS_NAMESPACE (tests, scripts)
        with single_metric(name=metric, unit=MetricUnit.Count, value=1, namespace=NAMESPACE):
            pass
