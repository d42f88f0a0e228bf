#!/usr/bin/python3
"""The soak of issue 11 (see test_consume_outage.py, which holds it): about
2 minutes at 2,000 rides/s from the local store to kinesalite, `consume`
SIGKILLed every 20 s and restarted, kinesalite stopped for 3 s every 30 s;
every ride predicted, duplicates counted and bounded, nothing discarded.
RIDEPRED_SOAK_SECONDS changes its length.  A CTest test of its own so that
it runs beside the outage tests."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_consume_outage as outage  # noqa: E402

if __name__ == "__main__":
    outage.run_tests([("soak", outage.test_soak)])
