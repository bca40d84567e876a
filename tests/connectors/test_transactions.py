"""transactions connector: billing and e-commerce activity facts (feeds.md §13)."""

from __future__ import annotations

import datetime as dt

from consent_pipeline.canonical import Batch
from consent_pipeline.core.ingest.ingest import read_source
from tests.conftest import SCENARIOS
from tests.connectors.ledger import accounted

S = "transactions"
D = "2026-02-20T020000Z"
HEADER = "txn_id,customer_id,brand,txn_type,occurred_at,amount,currency\n"


def txn(
    txn_id: str = "T-1",
    customer: str = "C1",
    brand: str = "lakeside_energy",
    kind: str = "purchase",
    when: str = "2026-02-10T16:00:00Z",
    amount: str = "75.00",
    currency: str = "USD",
) -> str:
    return f"{txn_id},{customer},{brand},{kind},{when},{amount},{currency}\n"


def rejects(batch: Batch) -> list[tuple]:
    return sorted(batch.rejects.select("source_record", "reason", "detail").rows(), key=str)


def test_rows_become_activity_facts(drop, read):
    drop(
        S,
        D,
        "transactions_1.csv",
        HEADER
        + txn()
        + txn("T-2", "C2", "lakeside_home", "inquiry", "2026-02-11T09:30:00+01:00", "0", "gbp")
        + txn("T-3", "C2", "lakeside_motors", "contract_start", "2025-03-01T00:00:00Z", "", "")
        + txn("T-4", "C2", "lakeside_motors", " Contract_End ", "2026-03-01T00:00:00-05:00", "-12.5", "AUD")
        + txn("T-5", "C3", "lakeside_energy", "cancellation", "2026-02-19 23:59:59", ".5", "CAD"),
    )
    batch = read(S)
    assert batch.table("activity").select(
        "source_record_id", "activity_id", "party_id", "brand", "kind", "occurred_at", "amount", "currency"
    ).rows() == [
        ("T-1", "T-1", "C1", "lakeside_energy", "purchase", dt.datetime(2026, 2, 10, 16), 75.0, "USD"),
        ("T-2", "T-2", "C2", "lakeside_home", "inquiry", dt.datetime(2026, 2, 11, 8, 30), 0.0, "GBP"),
        ("T-3", "T-3", "C2", "lakeside_motors", "contract_start", dt.datetime(2025, 3, 1), None, None),
        # a contract end may lie in the future, but not beyond the future/past rule: rejected by the core
        (
            "T-5",
            "T-5",
            "C3",
            "lakeside_energy",
            "cancellation",
            dt.datetime(2026, 2, 19, 23, 59, 59),
            0.5,
            "CAD",
        ),
    ]
    assert rejects(batch) == [(4, "future_timestamp", "2026-03-01 05:00:00.000000")]
    assert accounted(batch) == {"transactions_1.csv": (4, 0, 1)}


def test_bad_occurred_at(drop, read):
    drop(
        S,
        D,
        "transactions_1.csv",
        HEADER + txn(when="2026-02-30T10:00:00Z") + txn(when="10/02/2026") + txn(when="") + txn("T-ok"),
    )
    batch = read(S)
    assert batch.table("activity")["activity_id"].to_list() == ["T-ok"]
    assert rejects(batch) == [
        (1, "bad_timestamp", "occurred_at: 2026-02-30T10:00:00Z"),
        (2, "bad_timestamp", "occurred_at: 10/02/2026"),
        (3, "bad_timestamp", "occurred_at: "),
    ]
    assert accounted(batch) == {"transactions_1.csv": (1, 0, 3)}


def test_unknown_txn_type_is_reported_once(drop, read):
    drop(S, D, "transactions_1.csv", HEADER + txn(kind="refund") + txn(kind="") + txn("T-ok"))
    batch = read(S)
    assert batch.table("activity")["activity_id"].to_list() == ["T-ok"]
    # rejected by the connector, so validation's unknown_activity_kind never sees it
    assert rejects(batch) == [
        (1, "unknown_txn_type", "txn_type: refund"),
        (2, "unknown_txn_type", "txn_type: "),
    ]
    assert accounted(batch) == {"transactions_1.csv": (1, 0, 2)}


def test_bad_amount_missing_customer_id_and_unknown_brand(drop, read):
    drop(
        S,
        D,
        "transactions_1.csv",
        HEADER
        + txn(amount="1;250.00")
        + txn(amount="abc")
        + txn(customer="")
        + txn(brand="lakeside_boats")
        + txn(txn_id=""),
    )
    batch = read(S)
    assert batch.table("activity").height == 0
    assert rejects(batch) == [
        (1, "bad_amount", "amount: 1;250.00"),
        (2, "bad_amount", "amount: abc"),
        (3, "missing_value", "customer_id is empty"),
        (4, "unknown_brand", "lakeside_boats"),
        (5, "missing_activity_id", "activity_id is empty"),
    ]
    assert accounted(batch) == {"transactions_1.csv": (0, 0, 5)}


def test_quoted_amount_with_thousands_separator_is_rejected(drop, read):
    drop(
        S,
        D,
        "transactions_1.csv",
        HEADER + 'T-1,C1,lakeside_energy,purchase,2026-02-10T16:00:00Z,"1,250.00",USD\n',
    )
    batch = read(S)
    assert rejects(batch) == [(1, "bad_amount", "amount: 1,250.00")]


def test_columns_by_name_short_row_and_missing_column(drop, read):
    drop(
        S,
        D,
        "transactions_1.csv",
        "occurred_at,txn_type,brand,customer_id,txn_id,channel\n"
        "2026-02-10T16:00:00Z,purchase,lakeside_energy,C1,T-1,web\n"
        "2026-02-10T16:00:00Z,purchase\n",
    )
    drop(
        S,
        D,
        "transactions_2.csv",
        "txn_id,customer_id,brand,occurred_at\nT-2,C1,lakeside_energy,2026-02-10\n",
    )
    batch = read(S)
    assert batch.table("activity").select("activity_id", "amount", "currency").rows() == [("T-1", None, None)]
    assert sorted(batch.rejects.select("source_file", "source_record", "reason").rows()) == [
        (f"{S}/{D}/transactions_1.csv", 2, "malformed_row"),
        (f"{S}/{D}/transactions_2.csv", 1, "missing_column"),
    ]
    assert accounted(batch) == {"transactions_1.csv": (1, 0, 1), "transactions_2.csv": (0, 0, 1)}


def test_unexpected_file(drop, read):
    drop(S, D, "refunds_1.csv", HEADER)
    batch = read(S)
    assert batch.rejects.select("source_record", "reason").rows() == [(None, "unexpected_file")]


def test_public_scenarios(rules):
    expected = {
        "bad_input": {"transactions_0001.csv": (1, 0, 1)},
        "campaigns_and_caps": {"transactions_0001.csv": (14, 0, 0)},
        "regional_templates": {"transactions_0001.csv": (4, 0, 0)},
        "registry": {"transactions_0001.csv": (1, 0, 0)},
    }
    have = sorted(p.name for p in SCENARIOS.iterdir() if (p / "landing" / S).is_dir())
    assert have == sorted(expected)
    for name, ledger in expected.items():
        batch = read_source(S, SCENARIOS / name / "landing", rules)
        assert accounted(batch) == ledger, name
    bad = read_source(S, SCENARIOS / "bad_input" / "landing", rules)
    # the connector's one reject, plus one row per file of the badly named folder (the core's)
    assert sorted(bad.rejects.select("source_file", "source_record", "reason").rows(), key=str) == [
        (f"{S}/2026-02-20T020000Z/transactions_0001.csv", 2, "bad_timestamp"),
        (f"{S}/2026-02-21/transactions_late.csv", None, "bad_delivery_name"),
        (f"{S}/2026-02-21/transactions_late_2.csv", None, "bad_delivery_name"),
    ]
    assert bad.table("activity").select("party_id", "brand", "kind", "amount").rows() == [
        ("C820002", "lakeside_energy", "purchase", 75.0)
    ]
