"""Test-wide settings: project-local caches, offline Hugging Face, Xvfb Qt."""
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("POSEBOOTH_CACHE_DIR", str(REPO / ".cache"))
os.environ.setdefault("POSEBOOTH_CONFIG_DIR", str(REPO / ".cache" / "config"))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
