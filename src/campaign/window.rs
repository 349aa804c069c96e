//! A campaign's send window (`window:` in the project file, or in a campaign file, which
//! overrides it): the hours and days in which a recipient may be messaged, on whose clock,
//! and how long a scheduled send may wait for it. The arithmetic is `schedule/window.rs`.

use chrono::TimeDelta;
use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::Deserialize;

use super::document::Document;
use super::mobile::Mobile;
use crate::diagnostic::Pos;
use crate::schedule::window::{Days, Hours, SendWindow};
use crate::schedule::{Schedule, format_duration, parse_duration};

/// How long a scheduled send may wait for its window when `max_delay` is not given.
pub(crate) const DEFAULT_MAX_DELAY: TimeDelta = TimeDelta::hours(24);

/// `window:` as written.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WindowSpec {
    /// The hours in which messages may be sent, on the recipient's clock: `HH:MM-HH:MM`,
    /// e.g. `09:00-20:00`. An end before the start is an overnight window (`21:00-06:00`,
    /// belonging to the day it starts on); `24:00` may end a window.
    #[schemars(required)]
    pub hours: Option<String>,
    /// The days of the week: `MON-SAT`, `MON,WED,FRI`, `MON-FRI,SUN`, or `ALL`. Default: every
    /// day.
    pub days: Option<String>,
    /// Whose clock: `recipient` (the default: each recipient's `timezone` field if set, else
    /// the zone of their number's country when it has one, else the schedule's zone) or an
    /// IANA time zone such as `Asia/Kolkata` for everyone.
    pub timezone: Option<String>,
    /// How long after its scheduled time a send may wait for its window (or for the daily
    /// limit) before it is recorded as missed: `12h`, `2d`. Default: `24h`.
    pub max_delay: Option<String>,
}

/// A send window, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    pub window: SendWindow,
    pub zone: WindowZone,
    pub max_delay: TimeDelta,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WindowZone {
    /// Each recipient's own.
    Recipient,
    /// One zone for everyone.
    Fixed(Tz),
}

/// Where the zone of a recipient's window came from, as the JSON plan says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ZoneFrom {
    /// Their `timezone` field.
    Recipient,
    /// Their number's country, which has one zone.
    Country,
    /// The campaign's schedule (a country of several zones, or a blast).
    Schedule,
    /// The window's own `timezone`.
    Window,
    /// Nothing else said: UTC.
    Utc,
}

impl ZoneFrom {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ZoneFrom::Recipient => "recipient",
            ZoneFrom::Country => "country",
            ZoneFrom::Schedule => "schedule",
            ZoneFrom::Window => "window",
            ZoneFrom::Utc => "utc",
        }
    }
}

/// A problem of a `window:` entry: the key it is at, and the message.
pub(crate) type SpecProblem = (&'static str, String);

impl Window {
    /// Resolves a spec; every problem names its key.
    pub(crate) fn from_spec(spec: &WindowSpec) -> Result<Window, Vec<SpecProblem>> {
        let mut problems = Vec::new();
        let hours = match spec.hours.as_deref().map(Hours::parse) {
            Some(Ok(hours)) => Some(hours),
            Some(Err(e)) => {
                problems.push(("hours", e));
                None
            }
            None => {
                problems.push((
                    "hours",
                    "a window needs `hours`, e.g. 09:00-20:00".to_owned(),
                ));
                None
            }
        };
        let days = match spec.days.as_deref().map(Days::parse) {
            None => Some(Days::ALL),
            Some(Ok(days)) => Some(days),
            Some(Err(e)) => {
                problems.push(("days", e));
                None
            }
        };
        let zone = match spec.timezone.as_deref().map(str::trim) {
            None | Some("recipient") => Some(WindowZone::Recipient),
            Some(name) => match name.parse::<Tz>() {
                Ok(tz) => Some(WindowZone::Fixed(tz)),
                Err(_) => {
                    problems.push((
                        "timezone",
                        format!(
                            "unknown time zone `{name}`: use `recipient` or an IANA name such as Asia/Kolkata"
                        ),
                    ));
                    None
                }
            },
        };
        let max_delay = match spec.max_delay.as_deref() {
            None => Some(DEFAULT_MAX_DELAY),
            Some(text) => match parse_duration(text) {
                Some(d) if d > TimeDelta::zero() => Some(d),
                _ => {
                    problems.push((
                        "max_delay",
                        format!("`{text}` is not a duration such as 12h, 90m or 2d"),
                    ));
                    None
                }
            },
        };
        match (hours, days, zone, max_delay) {
            (Some(hours), Some(days), Some(zone), Some(max_delay)) if problems.is_empty() => {
                Ok(Window {
                    window: SendWindow { hours, days },
                    zone,
                    max_delay,
                })
            }
            _ => Err(problems),
        }
    }

    /// [`Window::from_spec`] for a `window:` at `base` in `doc`: each problem at the place of
    /// its key.
    pub(crate) fn located(
        spec: &WindowSpec,
        doc: &Document,
        base: &str,
    ) -> Result<Window, Vec<(Pos, String)>> {
        Window::from_spec(spec).map_err(|problems| {
            problems
                .into_iter()
                .map(|(key, message)| {
                    let pointer = format!("{base}/{key}");
                    let pos = if doc.value.pointer(&pointer).is_some() {
                        doc.value_pos(&pointer)
                    } else {
                        doc.key_pos(base)
                    };
                    (pos, message)
                })
                .collect()
        })
    }

    /// `09:00-20:00 MON-SAT, each recipient's time zone, max_delay 24h`.
    pub(crate) fn describe(&self) -> String {
        let zone = match self.zone {
            WindowZone::Recipient => "each recipient's time zone".to_owned(),
            WindowZone::Fixed(tz) => tz.name().to_owned(),
        };
        format!(
            "{}, {zone}, max_delay {}",
            self.window.describe(),
            format_duration(self.max_delay)
        )
    }

    /// The zone whose clock the window is read on for one recipient: the window's own zone,
    /// else the recipient's `timezone` field (an error names a bad one), else the zone of
    /// the number's country when it has a single one, else the schedule's, else UTC.
    pub(crate) fn zone_of(
        &self,
        field: Option<&str>,
        mobile: Option<Mobile>,
        schedule: Option<&Schedule>,
    ) -> Result<(Tz, ZoneFrom), String> {
        if let WindowZone::Fixed(tz) = self.zone {
            return Ok((tz, ZoneFrom::Window));
        }
        if let Some(name) = field.map(str::trim).filter(|n| !n.is_empty()) {
            return name
                .parse::<Tz>()
                .map(|tz| (tz, ZoneFrom::Recipient))
                .map_err(|_| {
                    format!(
                        "unknown time zone `{name}` in the recipient's `timezone` field: use an IANA name such as Asia/Kolkata"
                    )
                });
        }
        if let Some(tz) = mobile.and_then(Mobile::country).and_then(|c| c.zone()) {
            return Ok((tz, ZoneFrom::Country));
        }
        Ok(match schedule {
            Some(s) => (s.timezone, ZoneFrom::Schedule),
            None => (Tz::UTC, ZoneFrom::Utc),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(hours: &str) -> WindowSpec {
        WindowSpec {
            hours: Some(hours.to_owned()),
            ..WindowSpec::default()
        }
    }

    #[test]
    fn a_spec_resolves_with_its_defaults_or_names_each_bad_key() {
        let w = Window::from_spec(&spec("09:00-20:00")).unwrap();
        assert_eq!(
            (w.zone, w.max_delay, w.describe()),
            (
                WindowZone::Recipient,
                TimeDelta::hours(24),
                "09:00-20:00 MON-SUN, each recipient's time zone, max_delay 24h".to_owned()
            )
        );
        let bad = WindowSpec {
            hours: Some("9-20".to_owned()),
            days: Some("MON-FUN".to_owned()),
            timezone: Some("Mars/Olympus".to_owned()),
            max_delay: Some("soon".to_owned()),
        };
        let keys: Vec<&str> = Window::from_spec(&bad)
            .unwrap_err()
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        assert_eq!(keys, ["hours", "days", "timezone", "max_delay"]);
    }

    #[test]
    fn a_recipients_zone_comes_from_their_field_their_country_or_the_schedule() {
        let w = Window::from_spec(&spec("09:00-20:00")).unwrap();
        let india = Mobile::from_digits("919739978284");
        let us = Mobile::from_digits("14155552671");
        let zone = |field, mobile| {
            w.zone_of(field, mobile, None)
                .map(|(tz, from)| (tz.name().to_owned(), from))
        };
        assert_eq!(
            zone(None, india),
            Ok(("Asia/Kolkata".to_owned(), ZoneFrom::Country))
        );
        assert_eq!(
            zone(Some("America/Chicago"), india),
            Ok(("America/Chicago".to_owned(), ZoneFrom::Recipient))
        );
        // The United States has several zones: the schedule's, else UTC.
        assert_eq!(zone(None, us), Ok(("UTC".to_owned(), ZoneFrom::Utc)));
        assert!(
            zone(Some("Somewhere"), us)
                .unwrap_err()
                .contains("`Somewhere`")
        );
        let fixed = Window::from_spec(&WindowSpec {
            timezone: Some("Europe/London".to_owned()),
            ..spec("09:00-20:00")
        })
        .unwrap();
        assert_eq!(
            fixed.zone_of(Some("Asia/Tokyo"), india, None).unwrap(),
            (chrono_tz::Europe::London, ZoneFrom::Window)
        );
    }
}
