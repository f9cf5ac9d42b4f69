"""Deployments: targets, service lifecycle and states, reconciliation."""
