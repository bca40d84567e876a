"""The core stages: plain functions over tables, with no knowledge of Dagster.

landing -> (connectors) -> normalise -> validate -> staging -> eventlog -> identity -> merge -> ...
"""
