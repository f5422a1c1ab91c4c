"""The PromQL shapes the views repeat, over selectors from Catalogue.select."""

QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))


def rate(selector):
    return "rate(%s[$__rate_interval])" % selector


def by(aggregation, labels, expr):
    return "%s by (%s) (%s)" % (aggregation, ", ".join(labels), expr)


def quantile(q, bucket_selector, labels):
    """The quantile of the buckets summed over instances and workers first (the service's, not an
    average of quantiles); `labels` are kept besides le."""
    return "histogram_quantile(%s, %s)" % (q, by("sum", ("le",) + tuple(labels), rate(bucket_selector)))
