"""Each ledger codec gives back exactly what it was given: decode(encode(x)) == x."""

from __future__ import annotations

import warnings
from decimal import Decimal

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itnio_campaign.ledger import (
    decode_accepted,
    decode_batches,
    decode_frame,
    encode_accepted,
    encode_batches,
    encode_frame,
)
from itnio_campaign.models import Batch, BatchItem
from itnio_campaign.result import Accepted

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_exact(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert list(a.columns) == list(b.columns) and a.columns.dtype == b.columns.dtype
    for i in range(a.shape[1]):
        if a.iloc[:, i].dtype == object:  # the same Python type for every value
            assert list(map(type, a.iloc[:, i])) == list(map(type, b.iloc[:, i]))
    assert list(map(type, a.index)) == list(map(type, b.index))


# -- frames -----------------------------------------------------------------------------------
_values = st.one_of(
    st.none(),
    st.text(max_size=8),
    st.floats(allow_nan=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    st.binary(max_size=6),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
)
_labels = st.one_of(st.text(max_size=4), st.integers(-5, 5), st.floats(allow_nan=False))


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 6))
    labels = draw(st.lists(_labels, min_size=1, max_size=4, unique=True))
    data = {}
    for label in labels:
        kind = draw(st.sampled_from(["mixed", "float", "int", "str"]))
        if kind == "mixed":
            data[label] = pd.Series(draw(st.lists(_values, min_size=n, max_size=n)), dtype=object)
        elif kind == "float":
            data[label] = pd.Series(draw(st.lists(st.floats(), min_size=n, max_size=n)),
                                    dtype="float64")  # fmt: skip
        elif kind == "int":
            data[label] = pd.Series(draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n,
                                                  max_size=n)), dtype="int64")  # fmt: skip
        else:
            data[label] = pd.Series(draw(st.lists(st.text(max_size=5), min_size=n, max_size=n)))
    index_values = draw(st.lists(st.one_of(st.integers(0, 99), st.text(max_size=3)),
                                 min_size=n, max_size=n))  # fmt: skip
    index = pd.Index(index_values, dtype=object, name=draw(st.sampled_from([None, "id", 3])))
    return pd.DataFrame({k: v.set_axis(index) for k, v in data.items()}, index=index)


@FAST
@given(frames())
def test_frame_codec_round_trips_exactly(df: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the "could not be stored exactly" warning fails
        fmt, data = encode_frame(df)
    _assert_exact(df, decode_frame(fmt, data))


def test_excel_phone_column_of_floats_and_text_is_stored_exactly() -> None:
    df = pd.DataFrame({"phone": [919812345678.0, "+91 98123 45679", None, float("nan"), 5,
                                 Decimal("1.10"), np.int64(7)]})  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fmt, data = encode_frame(df)
    _assert_exact(df, decode_frame(fmt, data))


def test_bytes_column_that_turns_to_text_later_is_stored_exactly() -> None:
    df = pd.DataFrame({"tag": [b"\x00x"] * 2500 + ["text", b"\xff"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fmt, data = encode_frame(df)
    back = decode_frame(fmt, data)
    _assert_exact(df, back)
    assert back["tag"].iloc[2500] == "text" and back["tag"].iloc[0] == b"\x00x"


# -- requests ---------------------------------------------------------------------------------
_digits = st.text("0123456789", min_size=3, max_size=12)
_ids = st.text("abcxyz 019-_\n", max_size=6)


@st.composite
def plans(draw: st.DrawFn) -> tuple[list[Batch], pd.DataFrame]:
    """Batches, most of them the recipients frame's rows, some not (resends, edits)."""
    n = draw(st.integers(1, 30))
    numbers = draw(st.lists(_digits, min_size=n, max_size=n))
    order_ids = draw(st.lists(_ids, min_size=n, max_size=n))
    contents = draw(st.lists(st.sampled_from(["Hi", "Hello €", ""]), min_size=n, max_size=n))
    recipients = pd.DataFrame({"number": numbers, "order_id": order_ids, "content": contents})
    batches = []
    for batch_id, start in enumerate(range(0, n, draw(st.integers(1, 10)))):
        pos = list(range(start, min(n, start + 10)))
        if draw(st.booleans()):  # the frame's own numbers, one item
            with_ids = draw(st.booleans())
            item = BatchItem(tuple(numbers[p] for p in pos), contents[pos[0]], "Shop",
                             tuple(order_ids[p] for p in pos) if with_ids else None)  # fmt: skip
            items: tuple[BatchItem, ...] = (item,)
        else:  # not the frame's: stored explicitly
            nums = tuple(draw(st.lists(_digits, min_size=len(pos), max_size=len(pos))))
            items = (BatchItem(nums, draw(st.text(max_size=5)), None, None),)
        batches.append(Batch(batch_id, "sendSms/batch", items, tuple(pos)))
    return batches, recipients


@FAST
@given(plans())
def test_batch_rows_codec_round_trips(case: tuple[list[Batch], pd.DataFrame]) -> None:
    batches, recipients = case
    rows = encode_batches(batches, recipients)
    assert decode_batches([(r[0], r[1], r[2], r[3]) for r in rows], recipients) == batches


# -- accepted msgIds --------------------------------------------------------------------------
@FAST
@given(plans(), st.data())
def test_accepted_codec_round_trips(
    case: tuple[list[Batch], pd.DataFrame], data: st.DataObject
) -> None:
    batches, _ = case
    batch = data.draw(st.sampled_from(batches))
    pairs = list(zip(batch.order_ids, batch.numbers, strict=True))
    chosen = data.draw(st.lists(st.sampled_from(pairs), max_size=len(pairs)) if pairs else
                       st.just([]))  # fmt: skip
    foreign = data.draw(st.lists(st.tuples(_ids, _digits), max_size=2))
    triples = [(o, n, data.draw(st.text(max_size=6))) for o, n in chosen + foreign]
    accepted = Accepted.of(triples)
    encoded = encode_accepted(batch, accepted)
    assert decode_accepted(batch, *encoded) == accepted


def test_damaged_compressed_msg_ids_are_a_ledger_error_not_a_zstd_one() -> None:
    from itnio_campaign.errors import LedgerError

    numbers = [f"9198{i:08d}" for i in range(300)]
    batch = Batch(
        batch_id=1, endpoint="sendSms",
        items=(BatchItem(tuple(numbers), "hi", None, tuple(f"o{i}" for i in range(300))),),
        positions=np.arange(300),
    )  # fmt: skip
    accepted = Accepted.of([(f"o{i}", n, f"msg-{i:012d}") for i, n in enumerate(numbers)])
    rows, ids, whole = encode_accepted(batch, accepted)
    assert isinstance(ids, bytes)  # long enough to be compressed
    assert decode_accepted(batch, rows, ids, whole) == accepted
    for damaged in (ids[:4] + b"\x00" * 12, ids[:-5], b"\x01"):
        try:
            decode_accepted(batch, rows, damaged, whole)
        except LedgerError as exc:
            assert "ledger is damaged" in str(exc)
        else:
            raise AssertionError("damaged msgIds were read")
