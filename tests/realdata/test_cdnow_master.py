"""Real data, right answers: the whole CDNOW master file through the CLI, checked against pandas
and lifetimes computed here, never against numbers copied from crmkit's own output.

``CDNOW_master.txt`` (shipped in the ``lifetimes`` package) holds 69,659 purchases of 23,570
customers from January 1997 to June 1998. A user's CSV version of it has a header line and CRLF
line endings; this one also carries the line number as ``order_id``, so that importing it again
can be checked.
"""

from __future__ import annotations

import csv
import json
import math
import re
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

import crmkit
from crmkit.cli import make_cli

pd = pytest.importorskip("pandas")
lifetimes = pytest.importorskip("lifetimes")
pytest.importorskip("crmkit_loyalty")

pytestmark = pytest.mark.slow

DATASETS = Path(lifetimes.__file__).parent / "datasets"
RFM_AS_OF = pd.Timestamp("1998-06-30")
CLV_AS_OF = "1997-09-30"
MAPPING = [
    "--set", "kind=purchase", "--map", "customer_id=customer_external_id", "--map", "date=occurred_at",
    "--map", "number_of_cds=data.quantity", "--map", "dollar_value=amount", "--date-format", "%Y%m%d",
    "--create-customers", "--key", "order_id",
]

# The default named segments as the docs list them (first match wins, on R and F).
SEGMENTS = [
    ("champions", (5, 5), (4, 5)), ("loyal", (3, 4), (4, 5)), ("potential_loyalists", (4, 5), (2, 3)),
    ("new", (5, 5), (1, 1)), ("promising", (4, 4), (1, 1)), ("need_attention", (3, 3), (3, 3)),
    ("about_to_sleep", (3, 3), (1, 2)), ("cannot_lose", (1, 2), (5, 5)), ("at_risk", (1, 2), (3, 4)),
    ("hibernating", (2, 2), (1, 2)), ("lost", (1, 1), (1, 2)),
]


def run(*args):
    return CliRunner().invoke(make_cli(), [str(a) for a in args])


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    """The user's CSV (header, CRLF), the CRM file it was imported into, and the file as pandas."""
    folder = tmp_path_factory.mktemp("cdnow_master")
    as_csv = folder / "cdnow_master.csv"
    with (DATASETS / "CDNOW_master.txt").open() as source, as_csv.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["customer_id", "date", "number_of_cds", "dollar_value", "order_id"])
        for number, line in enumerate(source, start=1):
            if number > 1:  # the shipped file's own header line
                writer.writerow(line.split() + [number])
    assert as_csv.read_bytes().count(b"\r\n") == 69_660
    db = folder / "cdnow.db"
    assert run("init", db, "--currency", "USD").exit_code == 0
    imported = run("import", db, as_csv, "--kind", "interactions", *MAPPING)
    assert imported.exit_code == 0, imported.output
    frame = pd.read_csv(as_csv, dtype={"customer_id": str, "date": str, "dollar_value": str})
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    frame["cents"] = [int(Decimal(v) * 100) for v in frame["dollar_value"]]
    return {"csv": as_csv, "db": db, "frame": frame, "import_output": imported.output}


def test_every_row_arrived_and_a_second_import_adds_nothing(master):
    frame = master["frame"]
    assert "Imported 69659 interactions" in master["import_output"]
    assert f"{frame['customer_id'].nunique()} new customer(s) created" in master["import_output"]
    again = run("import", master["db"], master["csv"], "--kind", "interactions", *MAPPING)
    assert again.exit_code == 0, again.output
    assert "69,659 read: 0 new, 69,659 already recorded." in again.output
    with crmkit.open(master["db"]) as crm:
        count, cents = crm.db.execute("SELECT COUNT(*), SUM(amount) FROM interactions").fetchone()
    assert (count, cents) == (len(frame), int(frame["cents"].sum()))


def expected_rfm(frame) -> pd.DataFrame:
    """Recency, frequency and monetary (cents) per customer as of 1998-06-30 over 365 days,
    scored 1 + ⌊5 · (customers with a strictly worse value) / n⌋ with pandas' rank."""
    seen = frame[frame["date"] <= RFM_AS_OF]
    window = seen[seen["date"] > RFM_AS_OF - pd.Timedelta(days=365)]
    out = pd.DataFrame({"recency": (RFM_AS_OF - seen.groupby("customer_id")["date"].max()).dt.days})
    out["frequency"] = window.groupby("customer_id").size().reindex(out.index, fill_value=0)
    out["monetary"] = window.groupby("customer_id")["cents"].sum().reindex(out.index, fill_value=0)
    n = len(out)
    for dimension, better in (("r", -out["recency"]), ("f", out["frequency"]), ("m", out["monetary"])):
        worse = better.rank(method="min").astype(int) - 1
        out[dimension] = 1 + (5 * worse) // n

    def segment(row) -> str:
        return next((name for name, (r0, r1), (f0, f1) in SEGMENTS if r0 <= row.r <= r1 and f0 <= row.f <= f1), "unclassified")

    out["segment"] = [segment(row) for row in out.itertuples()]
    return out


def test_rfm_scores_respect_ties_and_match_pandas(master):
    expected = expected_rfm(master["frame"])
    shown = run("loyalty", "rfm", master["db"], "--as-of", "1998-06-30", "--store")
    assert shown.exit_code == 0, shown.output
    assert f"quantiles: {len(expected)} customers" in shown.output
    for name, count in expected["segment"].value_counts().items():
        assert re.search(rf"^{name}\s+{count}\s*$", shown.output, re.MULTILINE), (name, count, shown.output)
    with crmkit.open(master["db"]) as crm:
        stored = pd.DataFrame(crm.db.execute(
            "SELECT c.external_id, r.recency_days, r.frequency, r.monetary, r.r, r.f, r.m, r.segment "
            "FROM loyalty_rfm r JOIN customers c ON c.id = r.customer_id"
        ).fetchall(), columns=["customer_id", "recency", "frequency", "monetary", "r", "f", "m", "segment"]).set_index("customer_id")
    stored = stored.loc[expected.index]
    for column in ("recency", "frequency", "monetary", "r", "f", "m", "segment"):
        assert (stored[column] == expected[column]).all(), column
    # the invariant: one score per value, in every dimension
    for value, score in (("recency", "r"), ("frequency", "f"), ("monetary", "m")):
        assert (stored.groupby(value)[score].nunique() == 1).all()
    # the segment sizes follow the data: they are not equal thirds of the customers
    assert expected["segment"].value_counts().nunique() > 2


def dollars(cents) -> Decimal:
    return (Decimal(int(cents)) / 100).quantize(Decimal("0.01"))


def test_pareto_matches_pandas(master):
    frame = master["frame"]
    net = frame[frame["date"] <= RFM_AS_OF].groupby("customer_id")["cents"].sum().sort_values()
    n = len(net)
    top = math.ceil(n * 0.2)
    share = net.iloc[-top:].sum() / net.sum()
    ranks = pd.Series(range(1, n + 1), index=net.index)
    gini = 2 * (ranks * net).sum() / (n * net.sum()) - (n + 1) / n
    shown = run("loyalty", "pareto", master["db"], "--as-of", "1998-06-30")
    assert shown.exit_code == 0, shown.output
    assert f"customers: {n}  revenue: {dollars(net.sum())} USD" in shown.output
    assert f"top 20% ({top} customers): {dollars(net.iloc[-top:].sum())} = {share:.1%} of revenue" in shown.output
    assert f"gini: {gini:.3f}" in shown.output


def lifetimes_fit(frame):
    """lifetimes' BG/NBD and Gamma-Gamma on per-day data in weeks, positive spends only."""
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    frame = frame.assign(value=frame["cents"] / 100)
    summary = summary_data_from_transaction_data(
        frame, "customer_id", "date", monetary_value_col="value", observation_period_end=CLV_AS_OF, freq="D",
    )
    summary["recency"] /= 7
    summary["T"] /= 7
    bgnbd = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"]).params_
    repeat = summary[summary["frequency"] > 0]
    spenders = repeat[repeat["monetary_value"] > 0]
    gamma_gamma = GammaGammaFitter().fit(spenders["frequency"], spenders["monetary_value"]).params_
    return bgnbd, gamma_gamma, len(summary), len(repeat) - len(spenders)


def test_clv_survives_the_zero_spend_buyer_and_matches_lifetimes(master, tmp_path):
    bgnbd, gamma_gamma, customers, left_out = lifetimes_fit(master["frame"])
    assert left_out >= 1  # the repeat buyer whose purchases are all $0
    shown = run("loyalty", "clv", master["db"], "--as-of", CLV_AS_OF)
    assert shown.exit_code == 0, shown.output
    found = dict(re.findall(r"\b(r|alpha|a|b|p|q|v)=([0-9.]+)", shown.output))
    for name in ("r", "alpha", "a", "b"):
        assert float(found[name]) == pytest.approx(bgnbd[name], rel=5e-3), name
    for name in ("p", "q", "v"):
        assert float(found[name]) == pytest.approx(gamma_gamma[name], rel=5e-3), name
    noun = "repeat buyer" if left_out == 1 else "repeat buyers"
    assert f"{left_out} {noun} with no positive spend left out of the spend model" in shown.output
    assert f"{customers} customers, predicted" in shown.output
    # the report reads the stored run and says the same
    report = run("report", master["db"], "--as-of", "1998-06-30", "--json", tmp_path / "json")
    assert report.exit_code == 0, report.output
    section = json.loads((tmp_path / "json" / "loyalty.clv.json").read_text())["section"]
    assert section["figures"]["customers valued"] == customers
    assert section["figures"]["left out of the spend model"] == left_out
    rfm = json.loads((tmp_path / "json" / "loyalty.rfm.json").read_text())["section"]
    expected = expected_rfm(master["frame"])
    assert rfm["figures"]["customers scored"] == len(expected)
    assert {row["segment"]: row["customers"] for row in rfm["rows"] if row["customers"]} == expected["segment"].value_counts().to_dict()
    window = expected[expected["frequency"] > 0]["monetary"].clip(lower=0).sort_values()
    top = math.ceil(len(window) * 0.2)
    assert rfm["figures"]["top 20% revenue share"] == pytest.approx(window.iloc[-top:].sum() / window.sum(), abs=1e-6)


def test_example_transactions_without_amounts(tmp_path):
    """lifetimes' ``example_transactions.csv`` (date, id; no money): imported with amount 0,
    BG/NBD on crmkit's summary equals lifetimes'; the spend model cannot be fitted, and the CLI
    says why in one line and stores no run."""
    from lifetimes import BetaGeoFitter
    from lifetimes.utils import summary_data_from_transaction_data

    import crmkit
    from crmkit_loyalty import clv
    from crmkit_loyalty.value import summary

    source = DATASETS / "example_transactions.csv"
    db = tmp_path / "example.db"
    assert run("init", db).exit_code == 0
    imported = run("import", db, source, "--kind", "interactions", "--set", "kind=purchase", "--set", "amount=0",
                   "--map", "id=customer_external_id", "--map", "date=occurred_at", "--create-customers")
    assert imported.exit_code == 0, imported.output
    frame = pd.read_csv(source, parse_dates=["date"])
    assert f"Imported {len(frame)} interactions" in imported.output
    end = frame["date"].max().normalize()
    expected = summary_data_from_transaction_data(frame, "id", "date", observation_period_end=end, freq="D")
    expected["recency"] /= 7
    expected["T"] /= 7
    lt = BetaGeoFitter().fit(expected["frequency"], expected["recency"], expected["T"]).params_
    with crmkit.open(db, plugins=["loyalty"]) as crm:
        data = summary(crm, end.strftime("%Y-%m-%d"))
        fit = clv.fit_bgnbd(data["frequency"], data["recency"], data["T"])
        scores = crm.loyalty.rfm(as_of=end.strftime("%Y-%m-%d"), store=False).scores.columns()
    assert len(data["customer_id"]) == frame["id"].nunique()
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fit, name) == pytest.approx(lt[name], rel=5e-3), name
    rfm = pd.DataFrame({k: scores[k] for k in ("recency_days", "frequency", "r", "f")})
    assert (rfm.groupby("recency_days")["r"].nunique() == 1).all() and (rfm.groupby("frequency")["f"].nunique() == 1).all()
    failed = run("loyalty", "clv", db, "--as-of", end.strftime("%Y-%m-%d"))
    assert failed.exit_code == 1
    (line,) = failed.output.strip().splitlines()
    assert line.startswith("Error: CLV needs at least 2 repeat buyers with a positive spend")
    with crmkit.open(db, plugins=["loyalty"]) as crm:
        assert crm.loyalty.runs("clv") == []


def test_the_history_loads_by_column_as_one_large_load(tmp_path, monkeypatch):
    """A team's first load: the 23,570 customers, then the 69,659 purchases with ISO dates, by
    column and as one large load (its indexes built at its end, its references checked before
    the commit on SQLite). Every customer's count, total, first and last purchase, in the rows
    and in the summary, equal pandas' reading of the shipped file."""
    from crmkit import columnar

    loads = []
    large_load_if = columnar._large_load_if

    def noted(large, db, tables):
        loads.append(large)
        return large_load_if(large, db, tables)

    monkeypatch.setattr(columnar, "_large_load_if", noted)
    rows = [line.split() for line in (DATASETS / "CDNOW_master.txt").read_text().splitlines()[1:]]
    frame = pd.DataFrame(rows, columns=["customer", "date", "cds", "dollars"])
    frame["cents"] = [int(Decimal(v) * 100) for v in frame["dollars"]]
    frame["day"] = pd.to_datetime(frame["date"], format="%Y%m%d").dt.strftime("%Y-%m-%d")
    people, bought, db = tmp_path / "people.csv", tmp_path / "bought.csv", tmp_path / "cdnow.db"
    people.write_text("external_id,name\n" + "".join(f"CD{c},Buyer {c}\n" for c in sorted(frame["customer"].unique(), key=int)))
    bought.write_text("customer_external_id,occurred_at,amount\n" + "".join(
        f"CD{c},{d},{v}\n" for c, d, v in zip(frame["customer"], frame["day"], frame["dollars"])
    ))
    assert run("init", db, "--currency", "USD").exit_code == 0
    assert run("import", db, people, "--kind", "customers").exit_code == 0
    imported = run("import", db, bought, "--kind", "interactions", "--set", "kind=purchase")
    assert imported.exit_code == 0, imported.output
    assert loads == [True, True]  # the customers, then the purchases

    by_customer = frame.groupby("customer").agg(count=("cents", "size"), cents=("cents", "sum"), first=("day", "min"), last=("day", "max"))
    expected = {f"CD{c}": (int(r["count"]), int(r["cents"]), r["first"], r["last"]) for c, r in by_customer.iterrows()}
    with crmkit.open(db) as crm:
        stored = crm.db.execute(
            "SELECT c.external_id, count(*), sum(i.amount), min(substr(i.occurred_at, 1, 10)), max(substr(i.occurred_at, 1, 10)) "
            "FROM interactions i JOIN customers c ON c.id = i.customer_id GROUP BY c.external_id"
        ).fetchall()
        summary = crm.db.execute(
            "SELECT c.external_id, s.purchases, s.net_spend, substr(s.first_purchase_at, 1, 10), substr(s.last_purchase_at, 1, 10) "
            "FROM customer_summary s JOIN customers c ON c.id = s.customer_id"
        ).fetchall()
        names = {name for name, _, _ in crm.db.index_definitions(["interactions"])}
    assert {row[0]: tuple(row[1:]) for row in stored} == expected
    assert {row[0]: tuple(row[1:]) for row in summary} == expected
    assert {"ix_interactions_kind_time", "ix_interactions_customer_time"} <= names  # built again at the end
