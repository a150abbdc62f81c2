"""Send windows for promotional SMS per country: documented defaults you can see and override.

``plan_campaign(..., window="promotional")`` gives each recipient the window of their country
(by the number's calling code) in their local time; countries without a preset get
:data:`DEFAULT_WINDOW`. These are conservative readings of rules that mostly speak of calls
or "commercial communications"; **they are not legal advice**: check the rules that apply
to your traffic, and pass your own ``window=``/``days=`` (or change :data:`PRESETS`) when
they differ. Public holidays are not known here: pass ``holidays=``.

>>> preset_for(91)
Preset(country='IN', window='10:00-21:00', days=None, note='TRAI TCCCPR 2018')
>>> preset_for(999).window == DEFAULT_WINDOW.window
True
>>> presets_frame().loc["US", "window"]
'08:00-20:00'
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Preset:
    """One country's promotional window: ``window`` "HH:MM-HH:MM" local, ``days`` like
    ``"mon-sat"`` (None: every day), ``note`` where it comes from."""

    country: str
    window: str
    days: str | None
    note: str


#: Countries without a preset: not from any rule, a conservative daytime window.
DEFAULT_WINDOW = Preset("default", "09:00-20:00", None, "conservative default, no rule")

#: calling code -> preset. Each with its source; where a rule has several windows (weekday
#: and weekend hours) the preset is the stricter one for every day.
PRESETS: dict[int, Preset] = {
    # India: TRAI Telecom Commercial Communications Customer Preference Regulations 2018
    # (TCCCPR): promotional messages only 10:00-21:00 (the 2010 rules said 09:00-21:00).
    91: Preset("IN", "10:00-21:00", None, "TRAI TCCCPR 2018"),
    # United States (+1 also covers Canada and the Caribbean, see below): TCPA, 47 CFR
    # 64.1200(c)(1): no solicitation before 08:00 or after 21:00 at the recipient's location;
    # Florida (Telemarketing Act, 2021), Oklahoma and Maryland say 20:00: the stricter end.
    1: Preset("US", "08:00-20:00", None, "TCPA 47 CFR 64.1200(c)(1); FL/OK/MD 20:00"),
    # France: AF2M / FFTélécoms code of conduct for SMS marketing: no commercial SMS
    # between 20:30 and 08:00, on Sundays or public holidays (pass holidays=).
    33: Preset("FR", "08:00-20:30", "mon-sat", "AF2M/FFTélécoms SMS code of conduct"),
    # Australia: Telecommunications (Telemarketing and Research Calls) Industry Standard
    # 2017: weekdays 09:00-20:00, Saturdays 09:00-17:00, not on Sundays or public holidays;
    # the Spam Act sets no hours for SMS. Weekday hours, no Sundays (Saturday 17:00 not kept).
    61: Preset("AU", "09:00-20:00", "mon-sat", "Telemarketing Industry Standard 2017"),
    # Brazil: no federal hours; state telemarketing laws (e.g. São Paulo's, enforced by
    # Procon-SP) commonly allow weekdays 09:00-21:00, Saturdays 10:00-16:00, not Sundays:
    # the later start, no Sundays (verify for your states).
    55: Preset("BR", "10:00-21:00", "mon-sat", "state telemarketing laws (e.g. Procon-SP)"),
    # Germany: UWG §7 needs consent and sets no hours; the daytime default, no Sundays
    # (Sunday rest, Art. 140 GG with Art. 139 WRV) as the common practice.
    49: Preset("DE", "09:00-20:00", "mon-sat", "UWG §7 (no hours); Sunday rest practice"),
}


def preset_for(calling_code: int) -> Preset:
    """The promotional window for a country calling code (:data:`DEFAULT_WINDOW` if none)."""
    return PRESETS.get(int(calling_code), DEFAULT_WINDOW)


def presets_frame() -> pd.DataFrame:
    """Every preset as a frame (country, calling code, window, days, source), to show users."""
    rows = [
        {"country": p.country, "calling_code": cc, "window": p.window,
         "days": p.days or "every day", "source": p.note}
        for cc, p in sorted(PRESETS.items())
    ]  # fmt: skip
    rows.append({"country": "default", "calling_code": None, "window": DEFAULT_WINDOW.window,
                 "days": "every day", "source": DEFAULT_WINDOW.note})  # fmt: skip
    return pd.DataFrame(rows).set_index("country")


__all__ = ["DEFAULT_WINDOW", "PRESETS", "Preset", "preset_for", "presets_frame"]
