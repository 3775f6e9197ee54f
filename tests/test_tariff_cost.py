"""The cost calculator (issue #6): worked examples, condition semantics, taxes, clamps, refusals."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from ocpp_e2e.errors import TariffError
from ocpp_e2e.tariffs import calculate_cost, minor_unit
from ocpp_e2e.tariffs.cost import decimal_text

DATA = Path(__file__).parent / "data" / "tariffs"
STEP = "org.ocpp-e2e"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def bill(tariff: Any, session: Any) -> dict[str, Any]:
    return calculate_cost(tariff, session).to_dict()


def session(start: str, stop: str, wh: int = 0, **extra: Any) -> dict[str, Any]:
    return {"start": start, "stop": stop, "meterStartWh": 0, "meterStopWh": wh, **extra}


# --------------------------------------------------------------------------- worked examples


def test_flat_fee_with_15_percent_vat() -> None:
    out = bill(load("flat-fee-vat.tariff.json"), load("session-39min.json"))
    (line,) = out["lines"]
    assert (line["dimension"], line["exclTax"], line["inclTax"]) == ("fixedFee", "2.50", "2.875")
    assert line["taxes"] == [{"type": "VAT", "tax": "15", "stack": 0, "amount": "0.375"}]
    assert out["rounded"] == {"minorUnit": 2, "exclTax": "2.50", "inclTax": "2.88"}


def test_per_minute_in_15_minute_steps_bills_45_minutes_for_39() -> None:
    out = bill(load("per-minute.tariff.json"), load("session-39min.json"))
    (line,) = out["lines"]
    assert line["quantity"] == "2340" and line["quantityUnit"] == "s"
    assert line["stepSize"] == "900" and line["billedQuantity"] == "2700"
    assert line["exclTax"] == "292.50"
    assert line["inclTax"] == "348.075"
    assert out["totalInclTax"] == "348.075"
    assert out["rounded"]["inclTax"] == "348.08"


def test_per_kwh_in_1_kwh_steps_bills_10_kwh_for_9999_wh() -> None:
    out = bill(load("per-kwh.tariff.json"), load("session-9999wh.json"))
    (line,) = out["lines"]
    assert (line["quantity"], line["billedQuantity"], line["exclTax"]) == ("9999", "10000", "5.10")
    assert out["totalExclTax"] == "5.10"


# --------------------------------------------------------------------------- splitting the session


def test_session_crossing_18h_is_billed_at_both_prices_with_interpolated_energy() -> None:
    out = bill(load("time-of-day.tariff.json"), load("session-across-18h.json"))
    by_index = {line["priceIndex"]: line for line in out["lines"]}
    # 17:30-17:40 2000 Wh, then 28000 Wh over 50 min: 20 of those minutes before 18:00.
    assert by_index[1]["quantity"] == "13200" and by_index[1]["exclTax"] == "7.788"
    assert by_index[0]["quantity"] == "16800" and by_index[0]["exclTax"] == "6.552"
    assert by_index[0]["periods"] == [
        {"start": "2026-03-02T17:00:00Z", "stop": "2026-03-02T17:30:00Z", "quantity": "16800"}
    ]
    assert out["totalExclTax"] == "14.34"
    assert out["totalInclTax"] == "17.0646"


def test_why_names_the_conditions_of_the_price_that_applied() -> None:
    out = bill(load("time-of-day.tariff.json"), load("session-across-18h.json"))
    evening = next(x for x in out["lines"] if x["priceIndex"] == 0)
    assert evening["why"] == "local time 18:00–07:00 (next day)"
    assert evening["conditions"] == {"startTimeOfDay": "18:00", "endTimeOfDay": "07:00"}


def test_session_into_the_weekend_switches_price_at_local_midnight() -> None:
    out = bill(load("weekend.tariff.json"), load("session-into-saturday.json"))
    by_index = {line["priceIndex"]: line for line in out["lines"]}
    assert by_index[1]["quantity"] == "3600" and by_index[1]["exclTax"] == "6.00"  # Friday
    assert by_index[0]["quantity"] == "3600" and by_index[0]["exclTax"] == "3.00"  # Saturday
    assert out["totalExclTax"] == "9.00"


def test_time_zone_defaults_to_utc() -> None:
    s = load("session-into-saturday.json")
    del s["timeZone"]  # 22:00Z Friday to 00:00Z Saturday: all of it on Friday in UTC
    out = bill(load("weekend.tariff.json"), s)
    assert [x["priceIndex"] for x in out["lines"]] == [1]
    assert out["timeZone"] == "UTC"


def test_first_price_whose_conditions_hold_wins() -> None:
    tariff = {"tariffId": "t", "currency": "EUR", "chargingTime": {"prices": [
        {"priceMinute": 1, "conditions": {"startTimeOfDay": "00:00", "endTimeOfDay": "00:00"}},
        {"priceMinute": 9, "conditions": {"startTimeOfDay": "10:00", "endTimeOfDay": "11:00"}},
    ]}}  # fmt: skip
    out = bill(tariff, session("2026-03-02T10:00:00Z", "2026-03-02T10:10:00Z"))
    assert [(x["priceIndex"], x["exclTax"]) for x in out["lines"]] == [(0, "10.00")]


def test_idle_fee_after_a_grace_period() -> None:
    out = bill(load("idle-fee.tariff.json"), load("session-with-idle.json"))
    lines = [
        (x["dimension"], x["priceIndex"], x.get("quantity"), x["exclTax"], x["inclTax"])
        for x in out["lines"]
    ]
    assert lines == [
        ("energy", 0, "40000", "20.00", "20.00"),
        ("idleTime", 0, "900", "0.00", "0.00"),
        ("idleTime", 1, "900", "3.00", "3.57"),
    ]
    assert out["session"]["chargingSeconds"] == "3600"
    assert out["session"]["idleSeconds"] == "1800"


def test_energy_threshold_splits_at_the_interpolated_instant() -> None:
    tariff = {"tariffId": "t", "currency": "EUR", "energy": {"prices": [
        {"priceKwh": 0.30, "conditions": {"maxEnergy": 10000}}, {"priceKwh": 0.60},
    ]}, "chargingTime": {"prices": [
        {"priceMinute": 0, "conditions": {"maxEnergy": 10000}}, {"priceMinute": 1},
    ]}}  # fmt: skip
    out = bill(tariff, session("2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z", wh=40000))
    energy = {x["priceIndex"]: x["quantity"] for x in out["lines"] if x["dimension"] == "energy"}
    assert energy == {0: "10000", 1: "30000"}
    # 10 kWh of 40 kWh delivered linearly over an hour: reached after 15 minutes.
    paid = next(
        x for x in out["lines"] if x["dimension"] == "chargingTime" and x["priceIndex"] == 1
    )
    assert paid["quantity"] == "2700" and paid["periods"][0]["start"] == "2026-03-02T10:15:00Z"


def test_duration_condition_min_time_is_inclusive_from_that_instant() -> None:
    tariff = {"tariffId": "t", "currency": "EUR", "chargingTime": {"prices": [
        {"priceMinute": 2, "conditions": {"minTime": 3600}}, {"priceMinute": 1},
    ]}}  # fmt: skip
    out = bill(tariff, session("2026-03-02T10:00:00Z", "2026-03-02T11:30:00Z"))
    assert {x["priceIndex"]: x["quantity"] for x in out["lines"]} == {1: "3600", 0: "1800"}


def test_power_condition_uses_the_average_power_between_readings() -> None:
    tariff = {"tariffId": "t", "currency": "EUR", "energy": {"prices": [
        {"priceKwh": 0.70, "conditions": {"minPower": 22000}}, {"priceKwh": 0.40},
    ]}}  # fmt: skip
    s = session("2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z", wh=30000,
                meterValues=[{"timestamp": "2026-03-02T10:30:00Z", "wh": 25000}])  # fmt: skip
    out = bill(tariff, s)  # 50 kW for 30 min, then 10 kW
    assert {x["priceIndex"]: x["quantity"] for x in out["lines"]} == {0: "25000", 1: "5000"}


def test_evse_kind_condition_compares_with_the_session() -> None:
    tariff = {"tariffId": "t", "currency": "EUR", "energy": {"prices": [
        {"priceKwh": 0.79, "conditions": {"evseKind": "DC"}}, {"priceKwh": 0.49},
    ]}}  # fmt: skip
    ac = bill(tariff, session("2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z", 1000, evseKind="AC"))
    dc = bill(tariff, session("2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z", 1000, evseKind="DC"))
    assert (ac["totalExclTax"], dc["totalExclTax"]) == ("0.49", "0.79")


def test_daylight_saving_change_keeps_local_time_of_day() -> None:
    # 2026-03-29 02:00 CET -> 03:00 CEST; 07:00 local is 05:00Z that day.
    tariff = {"tariffId": "t", "currency": "EUR", "chargingTime": {"prices": [
        {"priceMinute": 1, "conditions": {"startTimeOfDay": "07:00", "endTimeOfDay": "19:00"}},
    ]}}  # fmt: skip
    s = session("2026-03-29T04:00:00Z", "2026-03-29T06:00:00Z", timeZone="Europe/Berlin")
    (line,) = bill(tariff, s)["lines"]
    assert line["periods"][0]["start"] == "2026-03-29T05:00:00Z" and line["quantity"] == "3600"


# --------------------------------------------------------------------------- taxes and clamps


def test_stacked_taxes_apply_on_top_of_lower_stacks() -> None:
    rates = [{"type": "Levy", "tax": 2, "stack": 1}, {"type": "VAT", "tax": 19}]
    tariff = {
        "tariffId": "t",
        "currency": "EUR",
        "fixedFee": {"prices": [{"priceFixed": 100}], "taxRates": rates},
    }
    (line,) = bill(tariff, session("2026-03-02T10:00:00Z", "2026-03-02T10:01:00Z"))["lines"]
    assert line["taxes"] == [
        {"type": "VAT", "tax": "19", "stack": 0, "amount": "19.00"},
        {"type": "Levy", "tax": "2", "stack": 1, "amount": "2.38"},
    ]
    assert line["inclTax"] == "121.38"


def test_taxes_of_one_stack_share_the_same_base() -> None:
    tariff = {"tariffId": "t", "currency": "EUR", "fixedFee": {"prices": [{"priceFixed": 100}],
              "taxRates": [{"type": "State", "tax": 5}, {"type": "City", "tax": 1}]}}  # fmt: skip
    (line,) = bill(tariff, session("2026-03-02T10:00:00Z", "2026-03-02T10:01:00Z"))["lines"]
    assert [t["amount"] for t in line["taxes"]] == ["5.00", "1.00"]


def test_min_cost_raises_the_total_with_an_adjustment_line() -> None:
    tariff = {**load("per-kwh.tariff.json"), "minCost": {"exclTax": 8}}
    out = bill(tariff, load("session-9999wh.json"))
    assert out["lines"][-1]["dimension"] == "minCost"
    assert out["lines"][-1]["exclTax"] == "2.90"
    assert out["totalExclTax"] == "8.00"


def test_max_cost_lowers_the_total() -> None:
    tariff = {
        **load("per-minute.tariff.json"),
        "maxCost": {"exclTax": 100, "taxRates": [{"type": "VAT", "tax": 19}]},
    }
    out = bill(tariff, load("session-39min.json"))
    assert out["lines"][-1]["dimension"] == "maxCost"
    assert (out["totalExclTax"], out["totalInclTax"]) == ("100.00", "119.00")


def test_min_cost_given_incl_tax_compares_the_total_incl_tax() -> None:
    vat = [{"type": "VAT", "tax": 19}]
    tariff = load("per-kwh.tariff.json")
    tariff["energy"]["taxRates"] = vat  # 5.10 excl., 6.069 incl.
    tariff["minCost"] = {"inclTax": 11.9, "taxRates": vat}
    out = bill(tariff, load("session-9999wh.json"))
    assert out["lines"][-1]["exclTax"] == "4.90"
    assert (out["totalExclTax"], out["totalInclTax"]) == ("10.00", "11.90")


def test_total_within_bounds_is_left_alone() -> None:
    tariff = {**load("per-kwh.tariff.json"), "minCost": {"exclTax": 1}, "maxCost": {"exclTax": 50}}
    out = bill(tariff, load("session-9999wh.json"))
    assert [x["dimension"] for x in out["lines"]] == ["energy"]


def test_min_cost_above_max_cost_is_refused() -> None:
    tariff = {**load("per-kwh.tariff.json"), "minCost": {"exclTax": 10}, "maxCost": {"exclTax": 5}}
    with pytest.raises(TariffError, match=r"\$\.minCost\.exclTax: minCost.exclTax 10 is above"):
        calculate_cost(tariff, load("session-9999wh.json"))


# --------------------------------------------------------------------------- each amount on its own

FLAT_100_VAT = {
    "tariffId": "flat", "currency": "EUR",
    "fixedFee": {"prices": [{"priceFixed": 100}], "taxRates": [{"type": "VAT", "tax": 19}]},
}  # fmt: skip
ONE_HOUR = session("2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z")


def test_max_cost_with_both_amounts_caps_the_total_incl_tax_too() -> None:
    # 100.00 + 19% = 119.00; maxCost 100 excl. / 110 incl.: excl. stays 100, incl. is cut to 110.
    tariff = {**FLAT_100_VAT, "maxCost": {"exclTax": 100, "inclTax": 110}}
    out = bill(tariff, ONE_HOUR)
    assert (out["totalExclTax"], out["totalInclTax"]) == ("100.00", "110.00")
    assert out["lines"][-1]["dimension"] == "maxCost"
    assert "total inclTax 119 is above maxCost.inclTax 110" in out["lines"][-1]["why"]


def test_max_cost_with_both_amounts_caps_each_total_to_its_own_figure() -> None:
    tariff = {**FLAT_100_VAT, "maxCost": {"exclTax": 50, "inclTax": 70}}
    out = bill(tariff, ONE_HOUR)
    assert (out["totalExclTax"], out["totalInclTax"]) == ("50.00", "70.00")


def test_min_cost_with_both_amounts_raises_each_total_to_its_own_figure() -> None:
    tariff = {**FLAT_100_VAT, "minCost": {"exclTax": 150, "inclTax": 200}}
    out = bill(tariff, ONE_HOUR)
    assert (out["totalExclTax"], out["totalInclTax"]) == ("150.00", "200.00")


def test_bound_within_both_amounts_adds_no_line() -> None:
    tariff = {**FLAT_100_VAT, "maxCost": {"exclTax": 100, "inclTax": 119}}
    assert [line["dimension"] for line in bill(tariff, ONE_HOUR)["lines"]] == ["fixedFee"]


def test_min_cost_incl_tax_above_max_cost_incl_tax_is_refused() -> None:
    tariff = {**FLAT_100_VAT, "minCost": {"inclTax": 10}, "maxCost": {"exclTax": 1, "inclTax": 5}}
    with pytest.raises(TariffError, match=r"\$\.minCost\.inclTax: minCost.inclTax 10 is above"):
        calculate_cost(tariff, ONE_HOUR)


# --------------------------------------------------------------------------- reservation

RESERVED = session(
    "2026-03-02T10:00:00Z",
    "2026-03-02T11:00:00Z",
    reservationStart="2026-03-02T09:30:00Z",
    reservationStop="2026-03-02T10:00:00Z",
)


def test_reservation_fee_and_time_are_billed_over_the_reservation() -> None:
    tariff = {
        "tariffId": "r", "currency": "EUR",
        "reservationFixed": {"prices": [{"priceFixed": 1.5}]},
        "reservationTime": {"prices": [{"priceMinute": 0.1}],
                            "taxRates": [{"type": "VAT", "tax": 19}]},
    }  # fmt: skip
    out = bill(tariff, RESERVED)
    got = [(x["dimension"], x.get("quantity"), x["exclTax"], x["inclTax"]) for x in out["lines"]]
    assert got == [
        ("reservationFixed", "1", "1.50", "1.50"),
        ("reservationTime", "1800", "3.00", "3.57"),
    ]


def test_reservation_time_follows_time_of_day_conditions() -> None:
    tariff = {
        "tariffId": "r", "currency": "EUR",
        "reservationTime": {"prices": [
            {"priceMinute": 0.2, "conditions": {"startTimeOfDay": "09:45", "endTimeOfDay": "12:00"}},
            {"priceMinute": 0.1},
        ]},
    }  # fmt: skip
    out = bill(tariff, RESERVED)
    assert [(x["priceIndex"], x["quantity"]) for x in out["lines"]] == [(0, "900"), (1, "900")]


def test_reservation_price_on_energy_is_refused_with_the_reason() -> None:
    tariff = {
        "tariffId": "r", "currency": "EUR",
        "reservationTime": {"prices": [{"priceMinute": 0.1, "conditions": {"minEnergy": 1}}]},
    }  # fmt: skip
    with pytest.raises(TariffError, match="minEnergy cannot be evaluated for a reservation"):
        calculate_cost(tariff, RESERVED)


def test_reservation_prices_without_a_reservation_are_named_in_the_notes() -> None:
    tariff = {"tariffId": "r", "currency": "EUR",
              "reservationFixed": {"prices": [{"priceFixed": 1.5}]}}  # fmt: skip
    out = bill(tariff, ONE_HOUR)
    assert out["lines"] == []
    assert out["notes"] == ["reservationFixed is not billed: the session record has no reservation"]


def test_reservation_that_ends_after_the_session_start_is_refused() -> None:
    bad = {**RESERVED, "reservationStop": "2026-03-02T10:05:00Z"}
    with pytest.raises(TariffError, match=r"\$\.reservationStop: the reservation must start"):
        calculate_cost(FLAT_100_VAT, bad)


# --------------------------------------------------------------------------- bounded work


def test_session_spanning_centuries_is_refused_at_once() -> None:
    tariff = {
        "tariffId": "night", "currency": "EUR",
        "energy": {"prices": [
            {"priceKwh": 0.2, "conditions": {"startTimeOfDay": "22:00", "endTimeOfDay": "06:00"}},
            {"priceKwh": 0.4},
        ]},
    }  # fmt: skip
    long = session("1826-03-02T10:00:00Z", "2026-03-02T10:00:00Z", wh=10)
    with pytest.raises(TariffError, match=r"spans 73049 days; at most 92 days are billed"):
        calculate_cost(tariff, long)


def test_reservation_counts_toward_the_span_limit() -> None:
    long = {**RESERVED, "reservationStart": "2025-01-01T00:00:00Z"}
    with pytest.raises(TariffError, match="at most 92 days"):
        calculate_cost(FLAT_100_VAT, long)


def test_session_of_92_days_with_hourly_prices_is_billed() -> None:
    tariff = {
        "tariffId": "hourly", "currency": "EUR", "energy": {"prices": [
            {"priceKwh": 0.1 + h / 100,
             "conditions": {"startTimeOfDay": f"{h:02d}:00", "endTimeOfDay": f"{h + 1:02d}:00"}}
            for h in range(23)
        ] + [{"priceKwh": 0.5}]},
    }  # fmt: skip
    out = bill(tariff, session("2026-01-01T00:00:00Z", "2026-04-03T00:00:00Z", wh=92_000))
    assert out["totalExclTax"] != "0.00" and len(out["lines"]) == 24


# --------------------------------------------------------------------------- exactness and rounding


def test_rounding_to_the_minor_unit_is_half_up() -> None:
    tariff = {"tariffId": "t", "currency": "EUR", "fixedFee": {"prices": [{"priceFixed": 0.005}]}}
    out = bill(tariff, session("2026-03-02T10:00:00Z", "2026-03-02T10:01:00Z"))
    assert (out["totalExclTax"], out["rounded"]["exclTax"]) == ("0.005", "0.01")


def test_currency_without_minor_unit_rounds_to_whole_units() -> None:
    tariff = {"tariffId": "t", "currency": "JPY", "fixedFee": {"prices": [{"priceFixed": 99.5}]}}
    out = bill(tariff, session("2026-03-02T10:00:00Z", "2026-03-02T10:01:00Z"))
    assert (out["totalExclTax"], out["rounded"]["exclTax"]) == ("99.5", "100")


def test_amount_without_finite_decimal_is_marked_inexact() -> None:
    tariff = {"tariffId": "t", "currency": "EUR", "chargingTime": {"prices": [{"priceMinute": 1}]}}
    out = bill(tariff, session("2026-03-02T10:00:00Z", "2026-03-02T10:00:01Z"))
    assert out["totalExclTax"] == "0.016666666667"
    assert "totalExclTax" in out["inexact"]


def test_exact_amounts_are_not_marked_inexact() -> None:
    assert bill(load("per-minute.tariff.json"), load("session-39min.json"))["inexact"] == []


def test_decimal_text_is_exact_for_finite_expansions() -> None:
    assert decimal_text(Fraction(348075, 1000), 2) == ("348.075", True)


# --------------------------------------------------------------------------- refusals


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(TariffError, match=r"\$\.currency: currency 'XTS' is not supported"):
        minor_unit("XTS")


def test_tariff_that_is_not_a_tariff_type_is_refused() -> None:
    with pytest.raises(
        TariffError, match=r"\$: Additional properties are not allowed \('type' was unexpected\)"
    ):
        calculate_cost(
            {"tariffId": "t", "currency": "EUR", "type": "Tariff"}, load("session-39min.json")
        )


def test_session_before_valid_from_is_refused() -> None:
    tariff = {**load("per-kwh.tariff.json"), "validFrom": "2026-04-01T00:00:00Z"}
    with pytest.raises(
        TariffError, match=r"\$\.validFrom: the session starts at 2026-03-02T10:00:00Z"
    ):
        calculate_cost(tariff, load("session-9999wh.json"))


def test_unknown_session_member_is_refused() -> None:
    with pytest.raises(TariffError, match=r"session: \$: unknown member\(s\) meterStart;"):
        calculate_cost(
            load("per-kwh.tariff.json"), {**load("session-9999wh.json"), "meterStart": 1}
        )


def test_meter_running_backwards_is_refused() -> None:
    s = {
        **load("session-9999wh.json"),
        "meterValues": [{"timestamp": "2026-03-02T10:30:00Z", "wh": 4000}],
    }
    with pytest.raises(
        TariffError, match=r"\$\.meterValues\[0\]\.wh: the meter must not run backwards"
    ):
        calculate_cost(load("per-kwh.tariff.json"), s)


def test_energy_during_an_idle_period_is_refused() -> None:
    s = session("2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z", wh=100,
                idlePeriods=[{"start": "2026-03-02T09:30:00Z", "stop": "2026-03-02T10:00:00Z"}],
                meterValues=[{"timestamp": "2026-03-02T09:30:00Z", "wh": 50}])  # fmt: skip
    with pytest.raises(TariffError, match=r"\$\.meterValues: the meter rose by 50 Wh"):
        calculate_cost(load("per-kwh.tariff.json"), s)


def test_readings_above_max_power_are_refused() -> None:
    s = {**load("session-across-18h.json"), "maxPowerW": 20000}
    with pytest.raises(TariffError, match=r"\$\.maxPowerW: the meter readings imply 33600 W"):
        calculate_cost(load("time-of-day.tariff.json"), s)


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(TariffError, match=r"\$\.timeZone: unknown IANA time zone 'Mars/Olympus'"):
        calculate_cost(
            load("per-kwh.tariff.json"), {**load("session-9999wh.json"), "timeZone": "Mars/Olympus"}
        )


def test_current_conditions_are_refused_rather_than_guessed() -> None:
    tariff = {
        "tariffId": "t",
        "currency": "EUR",
        "energy": {"prices": [{"priceKwh": 1, "conditions": {"minCurrent": 16}}]},
    }
    with pytest.raises(
        TariffError, match=r"conditions\.minCurrent: current conditions cannot be evaluated"
    ):
        calculate_cost(tariff, load("session-9999wh.json"))


def test_bad_time_of_day_is_refused() -> None:
    tariff = {
        "tariffId": "t",
        "currency": "EUR",
        "energy": {"prices": [{"priceKwh": 1, "conditions": {"startTimeOfDay": "24:00"}}]},
    }
    with pytest.raises(TariffError, match=r"startTimeOfDay: must be a time of day HH:MM"):
        calculate_cost(tariff, load("session-9999wh.json"))


def test_step_size_on_a_fixed_fee_is_refused() -> None:
    tariff = {
        "tariffId": "t",
        "currency": "EUR",
        "fixedFee": {
            "prices": [{"priceFixed": 1, "customData": {"vendorId": STEP, "stepSize": 5}}]
        },
    }
    with pytest.raises(TariffError, match=r"stepSize applies to energy and time prices"):
        calculate_cost(tariff, load("session-9999wh.json"))


def test_non_positive_step_size_is_refused() -> None:
    tariff = {
        "tariffId": "t",
        "currency": "EUR",
        "energy": {"prices": [{"priceKwh": 1, "customData": {"vendorId": STEP, "stepSize": 0}}]},
    }
    with pytest.raises(TariffError, match=r"stepSize: stepSize must be positive"):
        calculate_cost(tariff, load("session-9999wh.json"))


def test_step_size_of_another_vendor_is_ignored() -> None:
    tariff = {
        "tariffId": "t",
        "currency": "EUR",
        "energy": {
            "prices": [{"priceKwh": 1, "customData": {"vendorId": "com.other", "stepSize": 1000}}]
        },
    }
    (line,) = bill(tariff, load("session-9999wh.json"))["lines"]
    assert line["billedQuantity"] == "9999"


# --------------------------------------------------------------------------- both directions

V2X = {
    "tariffId": "v2x", "currency": "EUR",
    "energy": {"prices": [
        {"priceKwh": 0.20, "conditions": {"minPower": -1, "maxPower": -50000}},
        {"priceKwh": 0.40},
    ]},
}  # fmt: skip


def _v2x(**extra: Any) -> dict[str, Any]:
    return session(
        "2026-03-02T10:00:00Z",
        "2026-03-02T12:00:00Z",
        wh=10000,
        meterValues=[{"timestamp": "2026-03-02T11:00:00Z", "wh": 10000, "exportWh": 0}],
        meterStartExportWh=0,
        meterStopExportWh=4000,
        **extra,
    )


def test_energy_fed_back_is_billed_at_the_discharging_price_as_a_credit() -> None:
    out = bill(V2X, _v2x())
    got = [(x["priceIndex"], x["quantity"], x["exclTax"]) for x in out["lines"]]
    # 10 kWh charged in the first hour at 0.40; 4 kWh fed back in the second at 0.20, credited.
    assert got == [(0, "-4000", "-0.80"), (1, "10000", "4.00")]
    assert out["totalExclTax"] == "3.20"
    assert out["session"]["exportedWh"] == "4000"


def test_discharging_without_a_discharging_price_is_refused_with_the_reason() -> None:
    tariff = {"tariffId": "c", "currency": "EUR", "energy": {"prices": [{"priceKwh": 0.4}]}}
    with pytest.raises(TariffError, match=r"fed back 4000 Wh .* no energy price covers discharging"):
        calculate_cost(tariff, _v2x())


def test_discharging_under_a_tariff_without_energy_prices_is_noted() -> None:
    tariff = {"tariffId": "f", "currency": "EUR", "fixedFee": {"prices": [{"priceFixed": 1}]}}
    out = bill(tariff, _v2x())
    assert out["notes"] == ["the vehicle fed back 4000 Wh; the tariff prices no energy"]


def test_discharging_power_range_compares_magnitudes() -> None:
    # 4 kWh in one hour is -4000 W: inside -1..-50000 W, outside -5000..-50000 W.
    narrow = {**V2X, "energy": {"prices": [
        {"priceKwh": 0.20, "conditions": {"minPower": -5000, "maxPower": -50000}},
        {"priceKwh": 0.30, "conditions": {"minPower": -1, "maxPower": -5000}},
        {"priceKwh": 0.40},
    ]}}  # fmt: skip
    out = bill(narrow, _v2x())
    assert [(x["priceIndex"], x["exclTax"]) for x in out["lines"]] == [(1, "-1.20"), (2, "4.00")]


def test_export_register_running_backwards_is_refused() -> None:
    bad = _v2x()
    bad["meterValues"][0]["exportWh"] = 5000
    with pytest.raises(TariffError, match=r"\$\.meterStopExportWh: must not be below"):
        calculate_cost(V2X, bad)


def test_idle_look_ups_by_binary_search_agree_with_summing_every_period() -> None:
    from ocpp_e2e.tariffs.session import Session

    idle = [
        {"start": f"2026-03-02T10:{m:02d}:10Z", "stop": f"2026-03-02T10:{m:02d}:40Z"}
        for m in range(0, 60, 3)
    ]
    sess = Session.from_dict(
        session("2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z", idlePeriods=idle)
    )
    for second in range(0, 3600, 7):
        t = sess.start + second
        naive = sum((min(e, t) - s for s, e in sess.idle if s < t), Fraction(0))
        assert sess.idle_before(t) == naive
        assert sess.is_idle(t) == any(s <= t < e for s, e in sess.idle)
