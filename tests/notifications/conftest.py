from tests.waves.conftest import add_device, make_wave, seed_version  # noqa: F401 - shared fixtures
