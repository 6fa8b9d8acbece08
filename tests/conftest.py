"""Shared fixtures: presets are loaded once per session (specs are frozen)."""

import pytest

from hwsim.spec import loader


@pytest.fixture(scope="session")
def load_model():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = loader.load_model(name)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def load_hardware():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = loader.load_hardware(name)
        return cache[name]

    return get
