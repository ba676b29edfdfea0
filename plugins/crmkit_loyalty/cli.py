"""``crmkit loyalty ...``: RFM, Pareto, tiers, points, churn, cadence and CLV from the command line."""

from __future__ import annotations

import click

from crmkit import CrmError
from crmkit.cli import ID, LIMIT, db_argument, open_crm

from .config import RFM_METHODS

class OneLineChoice(click.Choice):
    """A choice whose bad value is one ``Error:`` line (a CrmError), like crmkit's own options."""

    def convert(self, value, param, ctx):
        from crmkit import CrmError

        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as error:
            raise CrmError(f"{param.opts[-1] if param else 'value'}: {error.message}") from None


as_of_option = click.option("--as-of", "as_of", default=None, help="Compute as of this date or time (default: now).")


def open_active(db):
    """Open the CRM for a loyalty command; one error line when the loyalty plugin is not active in it."""
    return open_crm(db, plugin="loyalty")


def _table(rows: list[dict], columns: list[str]) -> None:
    if not rows:
        click.echo("(none)")
        return
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    click.echo("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        click.echo("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))


@click.group()
def loyalty() -> None:
    """Loyalty: RFM, Pareto, tiers, points, churn warnings, cadence and lifetime value."""


@loyalty.command()
@db_argument
@as_of_option
@click.option("--window", "window_days", type=int, default=365, show_default=True, help="Window in days for F and M.")
@click.option("--store/--no-store", default=False, show_default=True, help="Store the run (for the rfm_score and rfm_segment fields and movement). "
              "Without it nothing is written.")
@click.option("--method", type=OneLineChoice(RFM_METHODS), default=None,
              help="quantiles: cut points from the distribution, equal values score alike; ntile: SQL NTILE, "
                   "ties by customer id; thresholds: fixed cut points. Default: the stored method, else quantiles.")
@click.option("--thresholds", default=None, metavar="CUTS",
              help='Fixed cut points for --method thresholds, e.g. "r=30,90,180,365 f=2,3,5,8 m=50,100,250,500".')
@click.option("--save", is_flag=True, help="Store --method (and --thresholds) as this CRM's default.")
def rfm(db, as_of, window_days, store, method, thresholds, save):
    """Score customers by recency, frequency and monetary value; show the named segments and cut points.

    Reads only, unless --store (store the run) or --save (store the method) is given.
    """
    from crmkit import ValidationError

    from .config import parse_thresholds

    cuts = parse_thresholds(thresholds) if thresholds is not None else None
    if cuts is not None and method not in (None, "thresholds"):
        raise ValidationError("--thresholds", thresholds, "only with --method thresholds")
    if cuts is not None:
        method = "thresholds"
    if save and method is None:
        raise ValidationError("--save", True, "a --method to store")
    with open_active(db) as crm:
        if save:
            crm.loyalty.set_rfm_method(method, cuts)
        result = crm.loyalty.rfm(as_of=as_of, window_days=window_days, store=store, method=method, thresholds=cuts)
        n = len(result.scores)
        click.echo(f"RFM as of {result.as_of:%Y-%m-%d}, window {window_days} days, {result.method}: {n} customer{'' if n == 1 else 's'}")
        if result.cuts:
            click.echo(
                "cut points: R below " + "/".join(map(str, result.cuts["r"])) + " days, F above "
                + "/".join(map(str, result.cuts["f"])) + ", M above " + "/".join(result.cuts["m"]) + f" {crm.currency}"
                if result.method == "quantiles" else
                "cut points: R at most " + "/".join(map(str, result.cuts["r"])) + " days, F at least "
                + "/".join(map(str, result.cuts["f"])) + ", M at least " + "/".join(result.cuts["m"]) + f" {crm.currency}"
            )
        _table([{"segment": k, "customers": v} for k, v in result.segments.items()], ["segment", "customers"])


@loyalty.command()
@db_argument
@as_of_option
@click.option("--window", "window_days", type=int, default=None, help="Only revenue of the last N days.")
@click.option("--top", default="0.2", show_default=True, help="Fraction of top customers.")
def pareto(db, as_of, window_days, top):
    """Revenue share of the top customers, Gini coefficient and Lorenz curve."""
    with open_active(db) as crm:
        p = crm.loyalty.pareto(as_of=as_of, window_days=window_days, top=top)
        click.echo(f"customers: {p.customers}  revenue: {p.revenue} {crm.currency}")
        click.echo(f"top {p.top_fraction * 100:.0f}% ({p.top_customers} customers): {p.top_revenue} = {p.top_share:.1%} of revenue")
        click.echo(f"gini: {p.gini:.3f}")
        _table([{"customers": f"{x:.0%}", "revenue": f"{y:.1%}"} for x, y in p.lorenz[::10]], ["customers", "revenue"])


@loyalty.command()
@db_argument
@as_of_option
@click.option("--evaluate", is_flag=True, help="Evaluate tiers as of the date and record changes.")
def tiers(db, as_of, evaluate):
    """Show tier definitions and members; --evaluate assigns tiers and records changes."""
    with open_active(db) as crm:
        if evaluate:
            done = crm.loyalty.tiers.evaluate(as_of)
            click.echo(f"evaluated as of {done.as_of:%Y-%m-%d} ({done.policy}): {done.upgrades} upgrades, {done.downgrades} downgrades")
        members = crm.loyalty.tiers.members(as_of)
        _table(
            [{"tier": t.name, "rule": t.rule, "multiplier": t.multiplier, "members": members.get(t.name, 0)}
             for t in reversed(crm.loyalty.tiers.list())],
            ["tier", "rule", "multiplier", "members"],
        )


@loyalty.command()
@db_argument
@click.argument("customer_id", type=ID, required=False)
@as_of_option
@click.option("--redeem", type=int, default=None, help="Redeem this many points (needs --key).")
@click.option("--award", type=int, default=None, help="Award this many points (needs --key and --reason).")
@click.option("--key", default=None, help="Idempotency key of the redemption or award.")
@click.option("--reason", default=None, help="Reason of an award.")
def points(db, customer_id, as_of, redeem, award, key, reason):
    """Points liability, or one customer's balance and ledger; redeem or award with a key.

    --as-of sets the time of the balance shown and of a redemption or award.
    """
    from crmkit import ValidationError

    with open_active(db) as crm:
        ledger = crm.loyalty.points
        if customer_id is None:
            if redeem or award:
                raise ValidationError("customer_id", None, "a customer id to redeem or award points")
            liability = ledger.liability(as_of)
            click.echo(f"spendable: {liability.spendable}  locked: {liability.locked}  customers: {liability.customers}")
            return
        if redeem is not None or award is not None:
            if key is None:
                raise ValidationError("--key", None, "an idempotency key for the operation")
            if redeem is not None:
                entry = ledger.redeem(customer_id, redeem, key=key, at=as_of)
            else:
                entry = ledger.award(customer_id, award, key=key, reason=reason, at=as_of)
            click.echo(f"entry {entry.id}: {entry.kind} {entry.points:+d}")
        click.echo(f"balance: {ledger.balance(customer_id, as_of)}  locked: {ledger.locked(customer_id, as_of)}")
        _table(
            [{"id": e.id, "date": f"{e.occurred_at:%Y-%m-%d}", "kind": e.kind, "points": e.points,
              "expires": f"{e.expires_at:%Y-%m-%d}" if e.expires_at else "", "reason": e.reason or ""}
             for e in ledger.entries(customer_id)],
            ["id", "date", "kind", "points", "expires", "reason"],
        )


@loyalty.command()
@db_argument
@as_of_option
@click.option("--level", default="medium", show_default=True, type=click.Choice(["low", "medium", "high"]), help="Lowest level shown.")
@click.option("--limit", type=LIMIT, default=50, show_default=True, help="Warnings to show at most.")
def churn(db, as_of, level, limit):
    """Evaluate churn warnings as of a date and list them, highest risk first."""
    with open_active(db) as crm:
        found = crm.loyalty.churn(as_of=as_of, min_level=level, limit=limit)
        _table(
            [{"customer": w.customer_id, "owner": w.owner or "", "class": w.customer_class, "level": w.level,
              "score": w.score, "signals": ",".join(w.signals)} for w in found],
            ["customer", "owner", "class", "level", "score", "signals"],
        )


@loyalty.command()
@db_argument
@click.option("--now", default=None, help="Run as of this time (default: now).")
@click.option("--create", is_flag=True, help="Create the tasks. Without it they are only listed and nothing is written.")
@click.option("--dry-run", is_flag=True, hidden=True, help="The default: list the tasks without creating them.")
def cadence(db, now, create, dry_run):
    """Show the cadence rules and the contact tasks they owe; --create creates them."""
    if create and dry_run:
        raise CrmError("--create and --dry-run contradict each other; give one")
    dry_run = not create
    with open_active(db) as crm:
        for rule in crm.loyalty.cadence_rules():
            unless = f" unless {', '.join(rule.unless)}" if rule.unless else ""
            click.echo(f"- {rule.name}: {rule.delay_days} days after {rule.kind}{unless} -> {rule.task}")
        result = crm.loyalty.cadence(now, dry_run=dry_run)
        verb = "would create" if dry_run else "created"
        click.echo(f"{verb} {len(result['tasks']) if dry_run else sum(result['created'].values())} task(s)")


@loyalty.command()
@db_argument
@as_of_option
@click.option("--months", type=int, default=12, show_default=True, help="Horizon in 30-day months.")
@click.option("--discount", default="0.01", show_default=True, help="Monthly discount rate.")
@click.option("--top", type=LIMIT, default=10, show_default=True, help="Customers listed (0: only the totals).")
def clv(db, as_of, months, discount, top):
    """Fit BG/NBD + Gamma-Gamma and store every customer's predicted lifetime value.

    Repeat buyers whose repeat purchases are worth nothing are left out of the spend model and
    valued at the population's expected spend; a model that cannot be fitted is one Error line.
    """
    with open_active(db) as crm:
        result = crm.loyalty.clv(as_of, months=months, discount_rate=discount)
        b, g = result.bgnbd, result.gamma_gamma
        click.echo(f"BG/NBD r={b['r']:.4f} alpha={b['alpha']:.4f} a={b['a']:.4f} b={b['b']:.4f}")
        click.echo(f"Gamma-Gamma p={g['p']:.4f} q={g['q']:.4f} v={g['v']:.4f}")
        if result.spend_left_out:
            from .value import left_out_text  # numpy and scipy: only for this command

            click.echo(left_out_text(result.spend_left_out))
        click.echo(f"{result.customers} customers, predicted {result.total_clv} {crm.currency}, historical {result.total_historical}")
        if top == 0:
            return  # not "(none)": there are customers, none were asked for
        _table(
            [{"customer": v.customer_id, "clv": v.clv, "historical": v.historical, "p_alive": f"{v.p_alive:.3f}",
              "purchases_90d": f"{v.expected_purchases_90d:.2f}"} for v in result.values[:top]],
            ["customer", "clv", "historical", "p_alive", "purchases_90d"],
        )
