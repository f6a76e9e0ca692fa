"""api_handler routes of the intake workflow (POST /intake, POST /crisis)."""

from __future__ import annotations

from chalice import Blueprint

bp = Blueprint(__name__)
