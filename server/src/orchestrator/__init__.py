"""Freepik AI Orchestrator: a self-hosted gateway for AI image models."""

__version__ = "0.1.0"
