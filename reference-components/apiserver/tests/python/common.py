"""Shared set-up of the Python acceptance scripts: the official `kubernetes` client configured
from $KUBECONFIG (written by tests/python.rs for an in-process reference apiserver), and checks
that fail the script with a message."""

import os
import sys
import time

from kubernetes import client, config

REQUEST_TIMEOUT = 30


def api_client():
    """A client for the server in $KUBECONFIG, loopback only."""
    configuration = client.Configuration()
    config.load_kube_config(config_file=os.environ["KUBECONFIG"], client_configuration=configuration)
    if not configuration.host.startswith("http://127."):
        sys.exit(f"refusing to talk to a non-loopback server: {configuration.host}")
    return client.ApiClient(configuration)


def check(condition, message):
    """Fail the script unless `condition` holds."""
    if not condition:
        raise AssertionError(message)


def eventually(probe, what, timeout=20.0):
    """Poll `probe` until it returns a true value (returned), failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def expect_status(call, status):
    """Call `call`, which must fail with an ApiException of HTTP `status`."""
    try:
        call()
    except client.exceptions.ApiException as e:
        check(e.status == status, f"expected HTTP {status}, got {e.status}: {e.body}")
        return e
    raise AssertionError(f"expected HTTP {status}, the call succeeded")
