"""The payment tests' service has Razorpay configured, pointing at its loopback double: this
``runtime`` replaces the suite's for every module in this folder, so ``db``, ``app``, ``client``
and ``signed_in`` all get that service."""
import pytest

from lms.runtime import Runtime


@pytest.fixture
def runtime(make_settings, razorpay_double):
    """The suite's ``runtime``, with RAZORPAY_* pointing at ``razorpay_double``."""
    runtime = Runtime.open(make_settings(**razorpay_double.env))
    yield runtime
    runtime.close()
