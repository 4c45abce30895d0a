"""The payment tests' service has Razorpay configured, pointing at its loopback double: this
``runtime`` replaces the suite's for every module in this folder, so ``db``, ``app``, ``client``
and ``signed_in`` all get that service. ``razorpay_env`` adds to its environment (a test module
may override it, say to declare automatic capture)."""
import pytest

from lms.runtime import Runtime


@pytest.fixture
def razorpay_env():
    return {}


@pytest.fixture
def runtime(make_settings, razorpay_double, razorpay_env):
    """The suite's ``runtime``, with RAZORPAY_* pointing at ``razorpay_double``."""
    runtime = Runtime.open(make_settings(**{**razorpay_double.env, **razorpay_env}))
    yield runtime
    runtime.close()


@pytest.fixture
def admin(signed_in):
    return signed_in("admin")
