"""Pydantic models of ECS request shapes, field names exactly as in the ECS API (camelCase)."""
