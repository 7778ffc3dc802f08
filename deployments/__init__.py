"""Deployments as code: the training flow on a schedule, the curve and predict flows on demand."""
