from tests.waves.conftest import add_device  # noqa: F401 - shared fixture
