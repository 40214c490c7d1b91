"""``bulk_objects`` pauses the cyclic garbage collector for a bulk step and always resumes it."""

import gc

import pytest

from engagement.db import bulk_objects


def test_paused_inside_and_resumed_after_even_on_error():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), bulk_objects():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_nested_the_outermost_resumes():
    with bulk_objects():
        with bulk_objects():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_left_alone_when_already_paused_elsewhere():
    gc.disable()
    try:
        with bulk_objects():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_as_a_decorator():
    @bulk_objects()
    def inside() -> bool:
        return gc.isenabled()

    assert inside() is False
    assert gc.isenabled()
