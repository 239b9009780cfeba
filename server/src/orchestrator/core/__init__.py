"""Leaf modules every layer may import: the clock, job states and error codes, slot keys.

Nothing here imports anything else of the orchestrator.
"""
