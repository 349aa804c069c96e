//! Which IANA zone a country's numbers are in, for a country that in effect keeps one time:
//! a send window is read on the recipient's clock, and a number tells only its country.
//!
//! `zone.tab` is IANA's table of zones by country, from tzdata 2025b, the release chrono-tz
//! 0.10.4 compiles in (a test checks that every zone it names is one chrono-tz knows).

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::Tz;

const ZONE_TAB: &str = include_str!("zone.tab");

/// The years over which a country's zones must agree, fixed so that the answer never
/// depends on the clock.
const FROM: i64 = 1_735_689_600; // 2025-01-01T00:00:00Z
const UNTIL: i64 = 1_830_297_600; // 2028-01-01T00:00:00Z
/// Zones are compared every hour: a country whose zones disagree for less than an hour a
/// year counts as keeping one time.
const STEP: usize = 3600;

struct Country {
    /// As listed, the country's principal zone first.
    zones: Vec<&'static str>,
    single: OnceLock<Option<Tz>>,
}

/// Country code → its zones, in the table's order.
static COUNTRIES: LazyLock<HashMap<&'static str, Country>> = LazyLock::new(|| {
    let mut countries: HashMap<&'static str, Country> = HashMap::new();
    for line in ZONE_TAB.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut columns = line.split('\t');
        let (Some(code), Some(_coordinates), Some(zone)) =
            (columns.next(), columns.next(), columns.next())
        else {
            continue;
        };
        countries
            .entry(code)
            .or_insert_with(|| Country {
                zones: Vec::new(),
                single: OnceLock::new(),
            })
            .zones
            .push(zone);
    }
    countries
});

/// The zone of a country (ISO 3166 alpha-2, e.g. `IN`) when every zone listed for it keeps
/// the same UTC offset as the first throughout 2025-2027; `None` for a country with several
/// times (`US`, `ES` with the Canary Islands) or a code the table does not list.
pub(crate) fn country_zone(country: &str) -> Option<Tz> {
    let entry = COUNTRIES.get(country.to_ascii_uppercase().as_str())?;
    *entry.single.get_or_init(|| single_zone(&entry.zones))
}

fn single_zone(names: &[&str]) -> Option<Tz> {
    let zones: Vec<Tz> = names
        .iter()
        .map(|name| name.parse().ok())
        .collect::<Option<_>>()?;
    let (first, rest) = zones.split_first()?;
    let offset = |zone: &Tz, seconds: i64| {
        DateTime::from_timestamp(seconds, 0).map(|t| {
            zone.offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc()
        })
    };
    (FROM..UNTIL)
        .step_by(STEP)
        .all(|t| rest.iter().all(|zone| offset(zone, t) == offset(first, t)))
        .then_some(*first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_that_keep_one_time() {
        for (country, zone) in [
            ("IN", "Asia/Kolkata"),
            ("GB", "Europe/London"),
            ("DE", "Europe/Berlin"),
            ("FR", "Europe/Paris"),
            ("NL", "Europe/Amsterdam"),
            ("JP", "Asia/Tokyo"),
            ("SG", "Asia/Singapore"),
            ("AE", "Asia/Dubai"),
            ("in", "Asia/Kolkata"),
        ] {
            assert_eq!(
                country_zone(country).map(|tz| tz.name()),
                Some(zone),
                "{country}"
            );
        }
        // Busingen is listed for Germany, and keeps Berlin's time.
        assert_eq!(COUNTRIES["DE"].zones, ["Europe/Berlin", "Europe/Busingen"]);
    }

    #[test]
    fn countries_with_several_times() {
        for country in ["US", "CA", "RU", "AU", "BR", "MX", "ES", "ID", "PT"] {
            assert_eq!(country_zone(country), None, "{country}");
        }
        // Not in the table.
        for code in ["XX", "", "IND", "UK"] {
            assert_eq!(country_zone(code), None, "{code}");
        }
    }

    #[test]
    fn every_zone_in_the_table_is_known_to_chrono_tz() {
        let mut zones = 0;
        for country in COUNTRIES.values() {
            for name in &country.zones {
                assert!(name.parse::<Tz>().is_ok(), "{name}");
                zones += 1;
            }
        }
        assert_eq!(COUNTRIES.len(), 247);
        assert_eq!(zones, 418);
    }

    #[test]
    fn the_window_is_2025_to_2027() {
        let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap().to_rfc3339();
        assert_eq!(at(FROM), "2025-01-01T00:00:00+00:00");
        assert_eq!(at(UNTIL), "2028-01-01T00:00:00+00:00");
    }
}
