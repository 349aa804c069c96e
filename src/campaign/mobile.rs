//! Mobile numbers as the API takes them: E.164 digits (the country code, then the national
//! number), no `+`. Read as libphonenumber reads them ([`super::numbering`]).

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use phonenumber::Type;

use super::numbering::{self, Country, NotANumber, Number};

/// A normalised phone number: its E.164 digits, which fit a `u64` exactly (at most 15
/// digits, and a country code never starts with 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Mobile(u64);

/// A number read from a list: the number, and a warning when it is valid but may not
/// reach WhatsApp (a fixed-line number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reading {
    pub mobile: Mobile,
    pub warning: Option<String>,
}

/// A map keyed by number, hashed with one multiply instead of SipHash: the duplicate check
/// and the per-number spacing look a number up once or twice per send, and the numbers come
/// from the user's own files, so SipHash's flooding resistance buys nothing.
pub(crate) type MobileMap<V> = HashMap<Mobile, V, BuildHasherDefault<MobileHasher>>;

#[derive(Default)]
pub(crate) struct MobileHasher(u64);

impl Hasher for MobileHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: an odd 64-bit multiplier spreads digits into the high bits,
        // which the table's tags use; the low bits stay as varied as the numbers.
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 32)
    }
}

impl Mobile {
    /// Reads a phone number as people write it, the one rule for every list of numbers
    /// (inline recipients, CSV rows, opt-out lists): `Err` is the message of an error, to be
    /// shown at the number's place (`FILE:LINE:COL`, `FILE.csv:ROW`).
    ///
    /// - Spaces (any Unicode space), dashes, dots, slashes, parentheses and one leading `+`
    ///   separate digits.
    /// - With `+`, or without `default_country`, the number starts with its country code:
    ///   `+91 97399 78284`, `919739978284`.
    /// - With `default_country`, a number without `+` is first read as a number of that
    ///   country (`09739978284`, `97399 78284`, with its trunk prefix or without); if that
    ///   is not valid, or a fixed-line number, but the digits are a mobile number written
    ///   with their country code (`447400123456` with `IN`, `919739978284` with `DE`), they
    ///   are read that way.
    /// - The number must be valid for its country (libphonenumber's metadata) and of a kind
    ///   that can have WhatsApp: toll-free, premium-rate, shared-cost, voicemail, pager and
    ///   UAN numbers are errors; a fixed-line number is read, with a warning.
    /// - Letters are keypad digits only in a vanity number (three letters or more, as
    ///   libphonenumber has it); an extension (`ext. 5`, `x5`) is an error.
    ///
    /// `default_country` is the campaign's, else the project's
    /// ([`Project::default_country`](super::project::Project::default_country)); a list that
    /// belongs to no campaign (an opt-out list) reads with the project's. A warning is shown
    /// at the number's place too; the number is read all the same.
    pub(crate) fn read(raw: &str, default_country: Option<Country>) -> Result<Reading, String> {
        let number = numbering::read(raw, default_country).map_err(|e| not_a_number(raw, &e))?;
        let warning = match number.kind {
            _ if number.reaches_whatsapp() => None,
            Type::FixedLine => Some(format!(
                "mobile number `{raw}` is a fixed-line number in {}; it may not be on WhatsApp",
                number.place
            )),
            kind => {
                let what = match kind {
                    Type::TollFree => "a toll-free",
                    Type::PremiumRate => "a premium-rate",
                    Type::SharedCost => "a shared-cost",
                    Type::Voicemail => "a voicemail",
                    Type::Pager => "a pager",
                    Type::Uan => "a UAN (universal access)",
                    _ => return Err(invalid(raw, &number)),
                };
                return Err(format!(
                    "mobile number `{raw}` is {what} number in {}, which cannot receive WhatsApp messages",
                    number.place
                ));
            }
        };
        let mobile = number
            .e164_value()
            .map(Mobile)
            .ok_or_else(|| format!("invalid mobile number `{raw}`"))?;
        Ok(Reading { mobile, warning })
    }

    /// The country of the number (see [`Country::of_e164`]).
    pub(crate) fn country(self) -> Option<Country> {
        Country::of_e164(self.0)
    }

    /// A number already normalised, such as the last part of a send key.
    pub(crate) fn from_digits(digits: &str) -> Option<Mobile> {
        if digits.is_empty()
            || digits.starts_with('0')
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        digits.parse().ok().map(Mobile)
    }

    /// Whether the number has the country code 1 (the North American Numbering Plan: the
    /// United States, Canada and some Caribbean countries). No other code starts with 1.
    pub(crate) fn is_plus_one(self) -> bool {
        let mut n = self.0;
        while n >= 10 {
            n /= 10;
        }
        n == 1
    }
}

fn invalid(raw: &str, number: &Number) -> String {
    let length = number.national().len();
    let detail = match number.mobile_lengths() {
        Some(lengths) if !lengths.contains(&(length as u16)) => format!(
            ": {length} digit{} after +{}, where mobile numbers have {}",
            if length == 1 { "" } else { "s" },
            number.code,
            alternatives(&lengths)
        ),
        _ => String::new(),
    };
    // Digits without `+` start with a country code, or are a number of the default
    // country: how they were read tells which.
    let read_as = if raw.trim_start().starts_with('+') {
        String::new()
    } else {
        format!(" (read as +{} {})", number.code, number.national())
    };
    format!(
        "mobile number `{raw}`{read_as} is not a valid number for {}{detail}",
        number.place
    )
}

/// `10`, `9 or 10`, `8, 9 or 10`.
fn alternatives(lengths: &[u16]) -> String {
    let texts: Vec<String> = lengths.iter().map(u16::to_string).collect();
    match texts.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn not_a_number(raw: &str, e: &NotANumber) -> String {
    match e {
        NotANumber::Empty => "the mobile number is empty".to_owned(),
        NotANumber::NoDigits => format!("invalid mobile number `{raw}`: no digits"),
        NotANumber::StartsWithDash => format!("invalid mobile number `{raw}`: starts with `-`"),
        NotANumber::Unexpected(c) => {
            format!("invalid mobile number `{raw}`: unexpected character `{c}`")
        }
        NotANumber::TooManyDigits(n) => {
            format!("invalid mobile number `{raw}`: {n} digits, more than a phone number has")
        }
        NotANumber::TrunkPrefix => format!(
            "invalid mobile number `{raw}`: starts with 0; write the country code instead of a trunk prefix (e.g. 91… not 0…), or set `default_country`"
        ),
        NotANumber::CodeStartsWithZero => {
            format!("invalid mobile number `{raw}`: no country code starts with 0")
        }
        NotANumber::UnknownCode => {
            format!("invalid mobile number `{raw}`: it starts with no known country code")
        }
        NotANumber::Extension(extension) => format!(
            "mobile number `{raw}` has an extension ({extension}); WhatsApp messages go to numbers, not extensions"
        ),
        NotANumber::Unreadable => format!("invalid mobile number `{raw}`: not a phone number"),
    }
}

impl fmt::Display for Mobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_knows_its_country_even_where_countries_share_a_code() {
        let country = |d: &str| Mobile::from_digits(d).unwrap().country().map(Country::code);
        assert_eq!(country("919739978284"), Some("IN"));
        assert_eq!(country("447400123456"), Some("GB"));
        assert_eq!(country("447911123456"), Some("GG"));
        // Ofcom's drama numbers are no region's by libphonenumber's patterns: the main one.
        assert_eq!(country("447700900123"), Some("GB"));
        assert_eq!(country("14155552671"), Some("US"));
        assert_eq!(country("14165550123"), Some("CA"));
        assert_eq!(country("4915123456789"), Some("DE"));
        assert_eq!(country("79123456789"), Some("RU"));
        // A non-geographic number (+800, international freephone) has no country.
        assert_eq!(country("80012345678"), None);
    }

    #[test]
    fn plus_one_numbers() {
        let digits = |d: &str| Mobile::from_digits(d).unwrap();
        assert!(digits("14155552671").is_plus_one());
        assert!(digits("16135550123").is_plus_one());
        assert!(!digits("919739978284").is_plus_one());
        assert!(!digits("447700900123").is_plus_one());
    }

    fn read(raw: &str, country: Option<&str>) -> Result<(String, Option<String>), String> {
        let country = country.map(|c| Country::from_code(c).unwrap());
        Mobile::read(raw, country).map(|r| (r.mobile.to_string(), r.warning))
    }

    #[test]
    fn numbers_are_read_as_people_write_them() {
        for (raw, country, e164) in [
            ("919739978284", None, "919739978284"),
            ("+91 97399-78284", None, "919739978284"),
            ("(91) 973.997.8284", None, "919739978284"),
            ("+91\u{a0}97399\u{a0}78284", None, "919739978284"),
            ("09739978284", Some("IN"), "919739978284"),
            ("97399 78284", Some("IN"), "919739978284"),
            ("+91 97399 78284", Some("IN"), "919739978284"),
            ("919739978284", Some("IN"), "919739978284"),
            ("919739978284", Some("DE"), "919739978284"),
            ("07700 900123", Some("GB"), "447700900123"),
            ("447700900123", Some("IN"), "447700900123"),
            ("(415) 555-2671", Some("US"), "14155552671"),
        ] {
            assert_eq!(
                read(raw, country),
                Ok((e164.to_owned(), None)),
                "{raw} {country:?}"
            );
        }
    }

    #[test]
    fn fixed_line_numbers_warn_and_the_unreachable_are_errors() {
        let (e164, warning) = read("080 2222 3333", Some("IN")).unwrap();
        assert_eq!(e164, "918022223333");
        // An Italian number keeps the 0 of its area code: it is dialled from abroad.
        assert_eq!(read("+39 06 1234 5678", None).unwrap().0, "390612345678");
        assert_eq!(
            warning.as_deref(),
            Some(
                "mobile number `080 2222 3333` is a fixed-line number in India; it may not be on WhatsApp"
            )
        );
        for (raw, country, message) in [
            ("", None, "the mobile number is empty"),
            ("-919739978284", None, "starts with `-`"),
            ("++919739978284", None, "unexpected character `+`"),
            ("91973997828x", None, "unexpected character `x`"),
            ("09739978284", None, "starts with 0"),
            ("+0 123", None, "no country code starts with 0"),
            ("123456789012345678901", None, "21 digits"),
            (
                "+91 12345",
                None,
                "not a valid number for India: 5 digits after +91",
            ),
            (
                "12345",
                Some("IN"),
                "`12345` (read as +91 12345) is not a valid number for India",
            ),
            ("1800 123 456", Some("IN"), "a toll-free number in India"),
            (
                "+800 1234 5678",
                None,
                "a toll-free number in the international service +800",
            ),
            ("+1 415 555 2671 x5", None, "has an extension (5)"),
        ] {
            let error = read(raw, country).unwrap_err();
            assert!(error.contains(message), "{raw}: {error}");
        }
    }

    #[test]
    fn digits_already_normalised() {
        assert_eq!(
            Mobile::from_digits("919739978284").map(|m| m.to_string()),
            Some("919739978284".to_owned())
        );
        for bad in [
            "",
            "0919739978284",
            "91 97399",
            "+919739978284",
            "99999999999999999999999",
        ] {
            assert_eq!(Mobile::from_digits(bad), None, "{bad}");
        }
    }

    /// Odd text is an error, never a panic, on the parser's path too.
    #[test]
    fn odd_text_is_an_error_never_a_panic() {
        let long = "A".repeat(300);
        let digits = "9".repeat(300);
        for raw in [
            "+",
            "+a",
            "a",
            "ab",
            "abc",
            "x1",
            "ext",
            "+1 ext 5",
            "+1x",
            "1-800-FLOWERS-AND-MORE",
            "\u{ff11}\u{ff12}\u{ff13}",
            "+\u{ff19}\u{ff11}9739978284",
            "\u{0660}\u{0661}\u{0662}\u{0663}",
            "+91 97399 78284 ;ext=5",
            "(",
            "()",
            "+()",
            "0",
            "00",
            "+0",
            "+00",
            "000000",
            long.as_str(),
            digits.as_str(),
            "+91 X",
            "9 1 9 7 3 9 9 7 8 2 8 4 x",
            "+91 97399 78284 ext",
            "1 x 2 x 3",
        ] {
            for country in [None, Some("IN"), Some("AR"), Some("US"), Some("GB")] {
                let _ = read(raw, country);
            }
        }
    }
}
