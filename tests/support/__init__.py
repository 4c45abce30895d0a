"""What the tests share: fixtures, test data, doubles of the outside services, the service as a
real process, and waiting. tests/conftest.py puts ``tests/`` on sys.path, so this imports as
``support``."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the project: lms/, lms.py, README.md
