"""The Plan: the parsed ``integration.yaml``, its loading, risk checks and report."""

from doohickey.plan.load import PlanLoadError, Problem, load_plan
from doohickey.plan.model import Plan

__all__ = ["Plan", "PlanLoadError", "Problem", "load_plan"]
