"""Signal-chain tests share the IQ-with-known-truth builders of iq_truth.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
