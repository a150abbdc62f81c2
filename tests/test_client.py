"""AsyncClient against the real sandbox over loopback HTTP: endpoints, codes, limits, retries."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from conftest import FAST_SETTINGS

from itnio_campaign.client import AsyncClient
from itnio_campaign.config import (
    ClientSettings,
    Credentials,
    RetryPolicy,
    Timeouts,
)
from itnio_campaign.errors import (
    STATUS_CODES,
    AmbiguousError,
    ConfigError,
    FatalApiError,
    NotSentError,
    RejectedError,
    TransientApiError,
    UsageError,
)
from itnio_campaign.models import BatchItem
from itnio_campaign.sandbox import Sandbox

IN1, IN2, IN3 = "919876543210", "919876543211", "919876543212"


# -- credentials ----------------------------------------------------------------------------
def test_signing_vector() -> None:
    # md5("bDqJFiq9" + "secret" + "1630468800"), computed with coreutils md5sum.
    creds = Credentials("bDqJFiq9", "secret", "4luaKsL2", base_url="https://x.test/sms")
    assert creds.sign(1630468800) == "5e05d651d20b87515084ccf02b24c04f"
    headers = creds.headers(1630468800)
    assert headers["Timestamp"] == "1630468800" and headers["Api-Key"] == "bDqJFiq9"


def test_credentials_hide_secrets() -> None:
    creds = Credentials("the-key-123", "the-secret-456", "app", base_url="https://x.test/sms")
    for text in (repr(creds), str(creds), f"{creds}", repr(AsyncClient(creds))):
        assert "the-key-123" not in text and "the-secret-456" not in text
        assert "app" in text


def test_from_env_reads_env_file_and_environment(tmp_path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\nexport ITNIO_API_KEY='file-key'\nITNIO_API_SECRET=\"file-secret\"\n"
        "ITNIO_APP_ID=file-app\n"
    )
    creds = Credentials.from_env(env_file, {"ITNIO_APP_ID": "env-app"})
    assert (creds.api_key, creds.api_secret, creds.app_id) == ("file-key", "file-secret", "env-app")
    assert creds.base_url == "https://api.itniotech.com/sms"


def test_from_env_names_everything_missing(tmp_path) -> None:
    with pytest.raises(ConfigError) as info:
        Credentials.from_env(tmp_path / "absent.env", {"ITNIO_APP_ID": "a"})
    assert "ITNIO_API_KEY" in str(info.value) and "ITNIO_API_SECRET" in str(info.value)
    assert "ITNIO_APP_ID" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.itniotech.com/sms", True),
        ("http://127.0.0.1:8080/sms", True),
        ("http://localhost:1/sms", True),
        ("http://[::1]:1/sms", True),
        ("http://api.itniotech.com/sms", False),
        ("http://10.0.0.5/sms", False),
        ("ftp://x/sms", False),
    ],
)
def test_plain_http_only_for_loopback(url: str, ok: bool) -> None:
    if ok:
        assert Credentials("k", "s", "a", base_url=url).base_url == url
    else:
        with pytest.raises(ConfigError):
            Credentials("k", "s", "a", base_url=url)


# -- endpoints ------------------------------------------------------------------------------
async def test_done_when_example(sb: Sandbox, client: AsyncClient) -> None:
    sent = await client.send_sms([IN1, "12"], "hello", order_ids=["a1", "a2"])
    balance = await client.get_balance()
    assert (sent.success, sent.fail) == (1, 1)
    assert [(s.number, s.order_id) for s in sent.submissions] == [(IN1, "a1")]
    assert sent.submissions[0].msg_id.isdigit()
    assert isinstance(balance.balance, Decimal) and balance.balance == sb.balance
    assert sb.accept_counts() == {"a1": 1}


async def test_send_sms_get_encodes_content(sb: Sandbox, client: AsyncClient) -> None:
    text = "50% off & free coffee? yes=1 #today"
    sent = await client.send_sms([IN1, IN2], text, sender_id="ACME", method="GET")
    assert sent.success == 2
    assert {m.content for m in sb.accepted} == {text}
    assert [r.method for r in sb.requests] == ["GET"]


async def test_send_sms_batch_flat_answer(sb: Sandbox, client: AsyncClient) -> None:
    items = [
        BatchItem((IN1,), "Hi Asha", order_ids=("o1",)),
        BatchItem((IN2, IN3), "Hi all", sender_id="ACME", order_ids=("o2", "o3")),
    ]
    sent = await client.send_sms_batch(items)
    assert {s.order_id for s in sent.submissions} == {"o1", "o2", "o3"}
    assert {(m.order_id, m.content) for m in sb.accepted} == {
        ("o1", "Hi Asha"),
        ("o2", "Hi all"),
        ("o3", "Hi all"),
    }


async def test_get_report_converges(sb: Sandbox, client: AsyncClient) -> None:
    sent = await client.send_sms([IN1, IN2], "hello")
    sb.settle_all()
    report = await client.get_report([s.msg_id for s in sent.submissions] + ["999"])
    assert report.nofound == 1
    assert {r.status for r in report.records} <= {"delivered", "undelivered"}
    assert all(r.receive_time is not None and r.receive_time.tzinfo for r in report.records)


async def test_sent_records_pages_and_iterates() -> None:
    async with (
        Sandbox(sent_records_page_size=3, seed=2) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        await client.send_sms([f"9198765432{i:02d}" for i in range(8)], "hello")
        now = datetime.now(UTC)
        first = await client.get_sent_records(now - timedelta(hours=1), now + timedelta(minutes=1))
        assert len(first.records) == 3 and first.start_index == 0
        numbers = [
            r.number
            async for r in client.iter_sent_records(
                now - timedelta(days=40), now + timedelta(minutes=1)
            )
        ]
        assert sorted(numbers) == sorted(m.number for m in sb.accepted)


async def test_mo_records_pages(sb: Sandbox, client: AsyncClient) -> None:
    for i in range(7):
        sb.add_reply(f"9198765432{i:02d}", "STOP" if i % 2 else "thanks")
    now = datetime.now(UTC)
    page = await client.get_mo_records(now - timedelta(days=1), now + timedelta(hours=1), size=3)
    assert (page.total, page.pages, len(page.records)) == (7, 3, 3)
    replies = [r async for r in client.iter_mo_records(now - timedelta(days=40), now, size=3)]
    assert sorted(r.content for r in replies) == sorted(["STOP"] * 3 + ["thanks"] * 4)


# -- status codes ---------------------------------------------------------------------------
@pytest.mark.parametrize("code", [c for c in STATUS_CODES if c != "0"])
async def test_every_status_code_maps_to_its_class(sb: Sandbox, client: AsyncClient, code) -> None:
    row = STATUS_CODES[code]
    sb.inject("sendSms", *[f"api_{code}"] * FAST_SETTINGS.retry.max_attempts)
    expected = {"fatal": FatalApiError, "rejected": RejectedError, "retry": TransientApiError}
    with pytest.raises(expected[row.kind]) as info:
        await client.send_sms([IN1], "hello", order_ids=["x"])
    err = info.value
    assert (err.endpoint, err.code) == ("sendSms", code)
    assert row.meaning in str(err)
    attempts = FAST_SETTINGS.retry.max_attempts if row.kind == "retry" else 1
    assert err.attempts == attempts == len(sb.requests)
    assert sb.accept_counts() == {}


async def test_real_rule_answers(sb: Sandbox, client: AsyncClient) -> None:
    with pytest.raises(RejectedError) as info:
        await client.send_sms([IN1], "You won at the casino!")
    assert info.value.code == "-3"
    sb.balance = Decimal("0.001")
    with pytest.raises(FatalApiError) as fatal:
        await client.send_sms([IN1], "hello")
    assert fatal.value.code == "-10" and "balance" in str(fatal.value)


async def test_wrong_secret_is_fatal_and_not_retried(sb: Sandbox) -> None:
    wrong = Credentials("sandbox-key", "wrong-secret", "sandbox-app", base_url=sb.url)
    async with AsyncClient(wrong, FAST_SETTINGS) as client:
        with pytest.raises(FatalApiError) as info:
            await client.get_balance()
    assert info.value.code == "-1" and len(sb.requests) == 1
    assert "wrong-secret" not in str(info.value)


async def test_expired_timestamp_is_resigned(sb: Sandbox) -> None:
    ticks = iter([0.0])  # the first attempt is signed with a time in 1970

    def clock() -> float:
        return next(ticks, datetime.now().timestamp())

    async with AsyncClient(sb.credentials, FAST_SETTINGS, clock=clock) as client:
        sent = await client.send_sms([IN1], "hello")
    assert sent.attempts == 2
    assert [r.status for r in sb.requests] == ["-16", "0"]


# -- limits, checked before any I/O ---------------------------------------------------------
@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.send_sms([], "hi"),
        lambda c: c.send_sms([IN1] * 1001, "hi"),
        lambda c: c.send_sms([IN1] * 101, "hi", method="GET"),
        lambda c: c.send_sms([IN1], ""),
        lambda c: c.send_sms([IN1], "x" * 1025),
        lambda c: c.send_sms([IN1], "hi", sender_id="S" * 33),
        lambda c: c.send_sms([IN1, IN2], "hi", order_ids=["only-one"]),
        lambda c: c.send_sms([IN1], "hi", order_ids=["a,b"]),
        lambda c: c.send_sms(IN1, "hi"),
        lambda c: c.send_sms_batch([BatchItem((IN1,) * 600, "a"), BatchItem((IN2,) * 401, "b")]),
        lambda c: c.send_sms_batch([]),
        lambda c: c.get_report([]),
        lambda c: c.get_report([str(i) for i in range(201)]),
        lambda c: c.get_sent_records("2026-01-01T00:00:00+00:00", "2026-02-02T00:00:00+00:00"),
        lambda c: c.get_sent_records("2026-01-02T00:00:00+00:00", "2026-01-01T00:00:00+00:00"),
        lambda c: c.get_mo_records(
            "2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00", size=0
        ),
        lambda c: c.get_mo_records(
            "2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00", size=101
        ),
        lambda c: c.get_mo_records("2022-06-01T00:00:00+08:00", "2022-06-02T00:00:00+08:00"),
    ],
)
async def test_limits_raise_before_any_io(sb: Sandbox, client: AsyncClient, call) -> None:
    with pytest.raises(UsageError):
        await call(client)
    assert sb.requests == []


async def test_limits_at_the_edge_pass(sb: Sandbox, client: AsyncClient) -> None:
    numbers = [f"9198{i:08d}" for i in range(1000)]
    sent = await client.send_sms(numbers, "x" * 1024, sender_id="S" * 32)
    assert sent.success == 1000


# -- the retry policy under each fault ------------------------------------------------------
@pytest.mark.parametrize(
    ("faults", "attempts"),
    [
        (["http_503"], 2),
        (["http_429", "http_429"], 3),
        (["api_-15"], 2),
        (["api_-16", "http_503", "api_-15"], 4),
    ],
)
async def test_provably_unaccepted_faults_are_retried(
    sb: Sandbox, client: AsyncClient, faults, attempts
) -> None:
    sb.inject("sendSms", *faults)
    sent = await client.send_sms([IN1], "hello", order_ids=["o1"])
    assert sent.attempts == attempts == len(sb.requests)
    assert sb.accept_counts() == {"o1": 1}


async def test_retries_run_out_as_not_sent(sb: Sandbox, client: AsyncClient) -> None:
    sb.inject("sendSms", *["http_503"] * 4)
    with pytest.raises(NotSentError) as info:
        await client.send_sms([IN1], "hello")
    assert (info.value.code, info.value.attempts) == ("HTTP 503", 4)
    assert sb.accept_counts() == {}


@pytest.mark.parametrize("fault", ["http_500", "http_502", "drop_after_accept"])
async def test_ambiguous_faults_are_never_retried(sb: Sandbox, client: AsyncClient, fault) -> None:
    sb.inject("sendSms", fault)
    with pytest.raises(AmbiguousError) as info:
        await client.send_sms([IN1, IN2], "hello", order_ids=["o1", "o2"])
    err = info.value
    assert err.attempts == 1 and len(sb.requests) == 1
    assert err.request["numbers"] == f"{IN1},{IN2}" and err.request["orderId"] == "o1,o2"
    accepted = sum(sb.accept_counts().values())
    assert accepted == (2 if fault == "drop_after_accept" else 0)


async def test_answer_after_timeout_is_ambiguous() -> None:
    settings = ClientSettings(
        retry=RetryPolicy(max_attempts=4, backoff_base=0.001),
        timeouts=Timeouts(connect=2.0, read=0.3),
    )
    async with (
        Sandbox(slow_answer_seconds=2.0) as sb,
        AsyncClient(sb.credentials, settings) as client,
    ):
        sb.inject("sendSms", "delay_after_accept")
        with pytest.raises(AmbiguousError) as info:
            await client.send_sms([IN1], "hello", order_ids=["o1"])
        assert sb.accept_counts() == {"o1": 1}
        assert info.value.attempts == 1 and info.value.code == "no answer"


async def test_connection_refused_is_retried_then_not_sent() -> None:
    with socket.socket() as s:  # a port that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    creds = Credentials("k", "s", "a", base_url=f"http://127.0.0.1:{port}/sms")
    async with AsyncClient(creds, FAST_SETTINGS) as client:
        with pytest.raises(NotSentError) as info:
            await client.send_sms([IN1], "hello")
        assert info.value.attempts == 4 and info.value.code == "connect"
        assert client.retries == 3


async def test_read_endpoints_retry_ambiguous_faults(sb: Sandbox, client: AsyncClient) -> None:
    sb.inject("getBalance", "http_500", "drop_after_accept")
    balance = await client.get_balance()
    assert balance.balance == sb.balance and len(sb.requests) == 3


async def test_retry_after_is_honoured_up_to_the_cap() -> None:
    policy = RetryPolicy(retry_after_cap=5.0)
    assert policy.retry_after("2", attempt=1, jitter=0.0) == 2.0
    assert policy.retry_after("120", attempt=1, jitter=0.0) == 5.0
    assert policy.retry_after("soon", attempt=3, jitter=0.0) == policy.backoff(3, 0.0) == 2.0
    assert RetryPolicy().backoff(10, 0.0) == 8.0


# -- secrets --------------------------------------------------------------------------------
async def test_secrets_absent_from_logs_and_errors(
    sb: Sandbox, client: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sb.inject("sendSms", "http_503", "api_-16", "http_500")
    with pytest.raises(AmbiguousError) as info:
        await client.send_sms([IN1], "hello")
    secret, key = sb.credentials.api_secret, sb.credentials.api_key
    texts = [caplog.text, str(info.value), repr(info.value), str(info.value.request)]
    assert all(secret not in t and key not in t for t in texts)
    assert "sendSms" in caplog.text  # the retries were logged


def test_times_naive_are_local_and_bad_ones_are_clear() -> None:
    from itnio_campaign.client import aware_time

    local = aware_time("2026-05-01T09:00:00")
    assert local.tzinfo is not None
    assert local.utcoffset() == datetime(2026, 5, 1, 9).astimezone().utcoffset()
    assert aware_time("2026-05-01T09:00:00+05:30").utcoffset() == timedelta(hours=5, minutes=30)
    with pytest.raises(UsageError, match="start must be an ISO 8601 time"):
        aware_time("yesterday", "start")
    with pytest.raises(UsageError):
        aware_time(12345)  # type: ignore[arg-type]


def test_odd_answer_fields_are_read_as_text_and_numbers_in_requests_as_text() -> None:
    from itnio_campaign.client import _send_result, _texts

    answer = {"status": "0", "success": "3", "array": [
        {"msgId": 17, "number": 919800000001, "orderId": None},
        {"msgId": "m2", "number": "919800000002"},
        "not an object",
        {"msgId": "m3", "number": "919800000003", "orderId": "o3"},
    ]}  # fmt: skip
    sent = _send_result(answer, 1, 0.0)
    assert sent.msg_ids == ("17", "m2", "m3")
    assert sent.numbers == ("919800000001", "919800000002", "919800000003")
    assert sent.order_ids == ("", "", "o3")
    assert _texts(("a", "b")) == ("a", "b") and _texts([1, "b"]) == ("1", "b")
    assert _texts((1, 2)) == ("1", "2")
