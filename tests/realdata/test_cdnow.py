"""Real data end to end: the CDNOW transactions of Fader, Hardie & Lee (2005) through the CLI.

The `lifetimes` package (a dev dependency) ships ``CDNOW_sample.txt``: 6,919 purchases of the
2,357 customers who first bought at CDNOW in the first quarter of 1997, as the paper used them.
A user turns the whitespace-separated file into CSV, imports it with ``crmkit import`` (no kind
column, dates as ``19970101``, customers known only by their number) and fits the CLV models on
the 39-week calibration period. The fitted parameters must be the published ones — through the
importer, the interaction log, the per-day summary in SQL and the fits, not only on a prepared
summary table as ``tests/plugins/loyalty/test_loyalty_clv.py`` checks.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

import crmkit
from crmkit.cli import make_cli

lifetimes = pytest.importorskip("lifetimes")
pytest.importorskip("crmkit_loyalty")

SAMPLE = Path(lifetimes.__file__).parent / "datasets" / "CDNOW_sample.txt"
CALIBRATION_END = "1997-09-30"  # 39 weeks after 1 January 1997

# Fader, Hardie & Lee (2005), table of BG/NBD estimates; Fader & Hardie (2013) for Gamma-Gamma.
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}


@pytest.fixture(scope="module")
def cdnow_db(tmp_path_factory):
    """A CRM file holding the CDNOW sample, imported as a user would (CSV, then ``crmkit import``)."""
    folder = tmp_path_factory.mktemp("cdnow")
    as_csv = folder / "cdnow.csv"
    with SAMPLE.open() as source, as_csv.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["customer", "date", "quantity", "amount"])
        for line in source:
            customer, _, day, quantity, amount = line.split()
            writer.writerow([customer, day, quantity, amount])
    db = folder / "cdnow.db"
    run = CliRunner().invoke
    assert run(make_cli(), ["init", str(db), "--currency", "USD"]).exit_code == 0
    result = run(make_cli(), [
        "import", str(db), str(as_csv), "--kind", "interactions", "--set", "kind=purchase",
        "--map", "customer=customer_external_id", "--map", "date=occurred_at", "--map", "quantity=data.quantity",
        "--date-format", "%Y%m%d", "--create-customers",
    ])
    assert result.exit_code == 0, result.output
    assert "Imported 6919 interactions from" in result.output and "2357 new customer(s) created" in result.output
    return db


def test_every_purchase_and_cent_arrived(cdnow_db):
    """The log holds each row of the file, and the total is the file's total to the cent."""
    expected = sum(Decimal(line.split()[4]) for line in SAMPLE.open())
    with crmkit.open(cdnow_db, plugins=["loyalty"]) as crm:
        assert crm.customers.count() == 2357
        assert crm.interactions.count() == 6919
        cents = crm.db.execute("SELECT sum(amount) FROM interactions WHERE kind = 'purchase'").fetchone()[0]
    assert Decimal(cents) / 100 == expected


def test_clv_fit_on_the_imported_log_gives_the_published_parameters(cdnow_db):
    with crmkit.open(cdnow_db, plugins=["loyalty"]) as crm:
        result = crm.loyalty.clv(as_of=CALIBRATION_END, store=False)
    assert result.customers == 2357
    for name, published in PUBLISHED_BGNBD.items():
        assert result.bgnbd[name] == pytest.approx(published, rel=2e-3), name
    for name, published in PUBLISHED_GAMMA_GAMMA.items():
        assert result.gamma_gamma[name] == pytest.approx(published, rel=2e-3), name
    assert result.bgnbd["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)


def test_cli_shows_the_fit_and_rfm_scores_every_buyer(cdnow_db):
    run = CliRunner().invoke
    shown = run(make_cli(), ["loyalty", "clv", str(cdnow_db), "--as-of", CALIBRATION_END])
    assert shown.exit_code == 0, shown.output
    assert "BG/NBD r=0.2426 alpha=4.4136 a=0.7929 b=2.4259" in shown.output
    rfm = run(make_cli(), ["loyalty", "rfm", str(cdnow_db), "--as-of", CALIBRATION_END])
    assert rfm.exit_code == 0, rfm.output
    assert "2357 customers" in rfm.output
