"""Exact money: integer minor units in storage, :class:`~decimal.Decimal` in the API.

No float ever touches an amount. A float given as money is refused, because ``0.1 + 0.2`` is
not ``0.3`` and a CRM must add up to the cent.
"""

from __future__ import annotations

from decimal import MAX_EMAX, MIN_EMIN, Decimal, Inexact, InvalidOperation, localcontext

from .errors import ValidationError

# ISO 4217 currencies whose minor unit is not the cent.
_EXPONENTS = {
    "BHD": 3, "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0,
    "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0, "TND": 3, "UGX": 0,
    "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}


# Minor units are stored in SQLite INTEGER columns (64-bit signed).
MAX_MINOR = 2**63 - 1
#: The largest amount of one interaction, in minor units: 15 digits (9,999,999,999,999.99 in a
#: currency with cents). Totals of amounts (a customer's net spend, a segment's spend, a
#: report's revenue) then stay exact in 64 bits on every engine for over 9,000 of the largest.
AMOUNT_DIGITS = 15
MAX_AMOUNT = 10**AMOUNT_DIGITS - 1


def exponent_of(currency: str) -> int:
    """Number of decimal places of ``currency`` (2 unless ISO 4217 says otherwise)."""
    code = currency.upper()
    if len(code) != 3 or not code.isalpha():
        raise ValidationError("currency", currency, "a three-letter ISO 4217 code")
    return _EXPONENTS.get(code, 2)


def to_decimal(value: object, field: str = "amount") -> Decimal:
    """Read ``value`` (Decimal, int or numeric string) as an exact Decimal."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValidationError(
            field, value, "exact money as Decimal, int or a numeric string, not a float or bool"
        )
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValidationError(field, value, "a number") from None
    else:
        raise ValidationError(field, value, "exact money as Decimal, int or a numeric string")
    if not number.is_finite():
        raise ValidationError(field, value, "a finite number")
    return number


def to_minor(value: object, exponent: int, field: str = "amount") -> int:
    """Convert money to integer minor units, refusing more decimals than the currency has."""
    number = to_decimal(value, field)
    if number and number.adjusted() + exponent >= 19:
        raise ValidationError(field, value, f"at most {from_minor(MAX_MINOR, exponent)} in absolute value")
    # Scale exactly: the default context rounds past 28 digits and flushes tiny values to zero.
    with localcontext() as context:
        context.prec = max(28, len(number.as_tuple().digits) + abs(exponent) + 2)
        context.Emax, context.Emin = MAX_EMAX, MIN_EMIN
        context.traps[Inexact] = True
        try:
            scaled = number.scaleb(exponent)
        except Inexact:
            scaled = None
        if scaled is None or scaled != scaled.to_integral_value():
            raise ValidationError(field, value, f"at most {exponent} decimal places")
    minor = int(scaled)
    if not -MAX_MINOR <= minor <= MAX_MINOR:
        raise ValidationError(field, value, f"at most {from_minor(MAX_MINOR, exponent)} in absolute value")
    return minor


def to_amount(value: object, exponent: int, field: str = "amount") -> int:
    """An interaction's amount in minor units: exact money of at most :data:`MAX_AMOUNT`."""
    minor = to_minor(value, exponent, field)
    if not -MAX_AMOUNT <= minor <= MAX_AMOUNT:
        raise ValidationError(field, value, f"at most {from_minor(MAX_AMOUNT, exponent)} ({AMOUNT_DIGITS} digits with the decimals)")
    return minor


def from_minor(minor: int | None, exponent: int) -> Decimal | None:
    """Convert integer minor units back to a Decimal with the currency's places."""
    if minor is None:
        return None
    return Decimal(minor).scaleb(-exponent)
