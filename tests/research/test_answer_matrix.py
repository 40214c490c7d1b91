"""Extracts read the packed ``response.export_values``; they equal the normalised ``answer`` rows,
also for responses stored without them (read from the answer rows instead). The expected matrices are
read the plain way (SQL statements); on PostgreSQL the matrices under test come through binary COPY."""

from __future__ import annotations

import struct

import numpy as np
import sqlalchemy as sa

from engagement.extensions import db
from engagement.questionnaires import services as questionnaires
from engagement.questionnaires.models import Response
from engagement.research import bulk
from engagement.research.matrix import AnswerMatrix, answer_matrix


def _from_answer_rows(response_ids, names):
    matrix = AnswerMatrix(len(names), len(response_ids))
    bulk.PLAIN.answer_numbers(db.session.connection(), response_ids, range(len(response_ids)), names, matrix)
    return np.asarray(matrix)


def _responses(make_participant, answer, count=4, version=1):
    return [
        answer(make_participant(), version, XA40=150 + n, XA10=[2] if n % 2 else [2, 9], XA33=12 + n)
        for n in range(count)
    ]


def _layout(ung18, version):
    return questionnaires.export_layout(
        questionnaires.definition_of(questionnaires.get_version("ung18", version))
    )


def test_packed_values_give_the_same_matrix_as_the_answer_rows(app, make_participant, answer, ung18):
    ids = _responses(make_participant, answer)
    with app.app_context():
        layout = _layout(ung18, 1)
        names = [*reversed(layout), "XA999_NOT_IN_THIS_VERSION"]
        matrix = answer_matrix(ids, names, layout)
        expected = _from_answer_rows(ids, names)
        np.testing.assert_array_equal(matrix, expected)
        assert np.isfinite(matrix).sum() > len(ids) * 40  # numbers were read, not only NaN
        assert np.isnan(matrix[-1]).all()


def test_responses_without_packed_values_are_read_from_the_answer_rows(app, make_participant, answer, ung18):
    ids = _responses(make_participant, answer, count=5)
    with app.app_context():
        db.session.execute(sa.update(Response).where(Response.id.in_(ids[1::2])).values(export_values=None))
        layout = _layout(ung18, 1)
        matrix = answer_matrix(ids, layout, layout)
        np.testing.assert_array_equal(matrix, _from_answer_rows(ids, layout))
        assert np.isfinite(np.asarray(matrix)[:, 1]).sum() > 40


def test_packed_numbers_are_big_endian_doubles_read_back_exactly(app, make_participant, answer, ung18):
    ids = _responses(make_participant, answer, count=2)
    numbers = [0.1, None, 1e300, -2.5, 2.0**53 + 2, -0.0]
    with app.app_context():
        layout = _layout(ung18, 1)
        written = [*numbers, *([7.0] * (len(layout) - len(numbers)))]
        db.session.execute(sa.update(Response).where(Response.id == ids[0]).values(export_values=written))
        stored = db.session.scalar(
            sa.select(sa.type_coerce(Response.export_values, sa.LargeBinary())).where(Response.id == ids[0])
        )
        assert stored[:8] == struct.pack(">d", 0.1) and len(stored) == 8 * len(layout)
        if db.is_postgres:  # the order PostgreSQL itself sends a double in
            assert db.session.scalar(sa.text("SELECT float8send(0.1::float8)")) == stored[:8]
        back = db.session.scalar(sa.select(Response.export_values).where(Response.id == ids[0]))
        assert back[0] == 0.1 and back[1] != back[1] and back[2:4] == [1e300, -2.5]
        assert back[4] == 2.0**53 + 2 and str(back[5]) == "-0.0"
        matrix = np.asarray(answer_matrix(ids, layout, layout))
        np.testing.assert_array_equal(matrix[: len(numbers), 0], [0.1, np.nan, 1e300, -2.5, 2.0**53 + 2, 0.0])
        np.testing.assert_array_equal(matrix[:, 1], _from_answer_rows(ids, layout)[:, 1])


def test_values_packed_in_another_layout_are_read_from_the_answer_rows(app, make_participant, answer, ung18):
    ids = _responses(make_participant, answer, count=2, version=1)
    with app.app_context():
        other = _layout(ung18, 2)
        assert len(other) != len(_layout(ung18, 1))
        np.testing.assert_array_equal(answer_matrix(ids, other, other), _from_answer_rows(ids, other))


def test_the_matrix_is_held_narrow_but_every_number_stays_exact() -> None:
    numbers = AnswerMatrix(3, 4)
    numbers.put(
        np.arange(3)[:, None], np.arange(4)[None, :], np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]])
    )
    numbers.put(np.array([1]), np.array([2]), np.array([0.1]))  # no float32 is 0.1
    numbers.put(np.array(1), np.array(3), np.array(2.0**40 + 1))
    numbers.put(np.array([2, 2]), np.array([0, 1]), np.array([np.nan, 1e300]))
    expected = np.array([[1, 2, 3, 4], [5, 6, 0.1, 2.0**40 + 1], [np.nan, 1e300, 11, 12]])
    np.testing.assert_array_equal(np.asarray(numbers), expected)
    for row in range(3):
        np.testing.assert_array_equal(numbers[row], expected[row])
    assert numbers[-2][2] == 0.1
    assert numbers.narrow.dtype == np.float32 and numbers[0].dtype == np.float32  # exact as float32


def test_the_database_s_own_path_reads_what_the_plain_path_reads(app, make_participant, answer, ung18):
    ids = _responses(make_participant, answer, count=6)
    with app.app_context():
        db.session.execute(sa.update(Response).where(Response.id.in_(ids[::3])).values(export_values=None))
        layout = _layout(ung18, 1)
        names = [*layout[::2], "XA999_NOT_IN_THIS_VERSION", *layout[1::2]]
        own = answer_matrix(ids, names, layout)
        plain = answer_matrix(ids, names, layout, path=bulk.PLAIN)
        np.testing.assert_array_equal(own, plain)
        assert np.isfinite(np.asarray(plain)).sum() > len(ids) * 40
