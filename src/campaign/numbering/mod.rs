//! Phone numbers as libphonenumber reads them, at CSV speed.
//!
//! The rules are libphonenumber's, from its metadata as the `phonenumber` crate ships it:
//! the number patterns of each region and type, their possible lengths, the national and
//! international prefixes (with their carrier codes and transform rules), the leading
//! digits that tell regions sharing a country code apart. What differs is how they are run.
//! The crate matches every pattern through a mutex-guarded cache keyed by the pattern's text
//! (too slow for a million rows); here each region's patterns are compiled once, on first use, into
//! one anchored `RegexSet`, and a number written with digits only (with or without `+`, with
//! spaces, dashes, dots, slashes or parentheses between them) is read without the crate's
//! parser. Anything else (letters, an extension, digits other than ASCII ones) goes through
//! `phonenumber::parse`, and is then classified by the same compiled rules.
//!
//! [`read`] follows libphonenumber's `parse` (`PhoneNumberUtil.parseHelper`) on digits: an
//! international prefix of the default country (`00`, `011`), the default country's code
//! written without `+`, the national prefix (`0`, carrier codes, transform rules), then
//! `getNumberType`, whose matches are full matches of the patterns after a check of the
//! possible lengths. Where the crate's parser differs from libphonenumber (it strips a
//! national prefix a second time, unchecked: `+7 800 123 45 67` becomes `+7 001 234 567`),
//! [`read`] reads digits as libphonenumber does; see `tests.rs`.

mod names;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;
use std::sync::{LazyLock, OnceLock};

use chrono_tz::Tz;
use phonenumber::Type;
use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use crate::schedule::zones;

pub(crate) use names::Place;

/// Digits a national number has at most (libphonenumber's `MAX_LENGTH_FOR_NSN`).
const MAX_NATIONAL_DIGITS: usize = 17;
/// Digits a number has at most as written: a national number and a 3-digit code.
const MAX_DIGITS: usize = MAX_NATIONAL_DIGITS + 3;

/// A country (a region of libphonenumber's metadata with an ISO 3166 alpha-2 code), as a
/// `default_country` names it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Country(u16);

impl Country {
    /// The country of an ISO 3166 alpha-2 code such as `IN` (upper case), if
    /// libphonenumber knows its numbers.
    pub(crate) fn from_code(code: &str) -> Option<Country> {
        let table = &*TABLE;
        table
            .slots
            .iter()
            .position(|slot| slot.country.is_some() && slot.id == code)
            .map(|i| Country(i as u16))
    }

    /// A hint for a code that is not a country's: `UK` is `GB`, `in` is `IN`.
    pub(crate) fn hint(code: &str) -> String {
        let upper = code.to_ascii_uppercase();
        let suggestion = match upper.as_str() {
            "UK" | "EN" => Country::from_code("GB"),
            _ => Country::from_code(&upper),
        };
        match suggestion {
            Some(country) => format!("did you mean `{}` ({})?", country.code(), country.name()),
            None => "use an ISO 3166 alpha-2 country code such as IN, GB or US".to_owned(),
        }
    }

    /// The ISO 3166 alpha-2 code.
    pub(crate) fn code(self) -> &'static str {
        TABLE.slots[self.0 as usize].id
    }

    /// The English name, as it reads after "for": `India`, `the United Kingdom`.
    pub(crate) fn name(self) -> &'static str {
        let id = self.code();
        names::name(id).unwrap_or(id)
    }

    fn slot(self) -> &'static Slot {
        &TABLE.slots[self.0 as usize]
    }

    /// The country a normalised number (E.164 digits) belongs to, as libphonenumber tells
    /// the regions of a shared country code apart (`+1 416` is Canada), else the main
    /// region of its code; `None` for a non-geographic number.
    pub(crate) fn of_e164(e164: u64) -> Option<Country> {
        // The digits, without an allocation: this runs once per recipient.
        let mut buffer = [0u8; 20];
        let mut start = buffer.len();
        let mut n = e164;
        loop {
            start -= 1;
            buffer[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let (code, national) = split_code(&buffer[start..])?;
        let slot = region_slot(code, national).or_else(|| main_slot(code))?;
        slot.country?;
        Some(Country(slot.index))
    }

    /// The country's time zone when the whole country keeps one time (India, the United
    /// Kingdom), computed once per country.
    pub(crate) fn zone(self) -> Option<Tz> {
        let slot = self.slot();
        *slot.zone.get_or_init(|| zones::country_zone(slot.id))
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Digits a national number has at most here: libphonenumber's 17, and what a transform
/// rule adds to them. A longer one is no number of any region.
const NATIONAL_BUFFER: usize = 24;

/// A number read: its country calling code, its national (significant) number, its type
/// and where it is from. `Copy`, with no allocation: a CSV file reads a million.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Number {
    pub code: u16,
    /// ASCII digits; may start with zeros that are dialled internationally (Italy).
    national: [u8; NATIONAL_BUFFER],
    length: u8,
    /// `Type::Unknown` for a number that is not valid.
    pub kind: Type,
    /// Where the number is from, as messages name it: `India`, `the United Kingdom`.
    pub place: Place,
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Number")
            .field("code", &self.code)
            .field("national", &self.national())
            .field("kind", &self.kind)
            .field("place", &self.place.to_string())
            .finish()
    }
}

impl Number {
    /// The national (significant) number.
    pub(crate) fn national(&self) -> &str {
        ascii(&self.national[..self.length as usize])
    }

    /// The E.164 digits (no `+`): the country code, then the national number.
    #[cfg(test)]
    pub(crate) fn e164(&self) -> String {
        format!("{}{}", self.code, self.national())
    }

    /// The E.164 digits as a number, if they fit a `u64` (every valid number's do).
    pub(crate) fn e164_value(&self) -> Option<u64> {
        self.national[..self.length as usize]
            .iter()
            .try_fold(u64::from(self.code), |n, d| {
                n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            })
    }

    /// Whether WhatsApp can reach it: a mobile number, or one that may be (libphonenumber
    /// cannot tell fixed-line and mobile numbers apart in some regions), a VoIP or a
    /// personal number.
    pub(crate) fn reaches_whatsapp(&self) -> bool {
        matches!(
            self.kind,
            Type::Mobile | Type::FixedLineOrMobile | Type::Voip | Type::PersonalNumber
        )
    }

    /// Possible lengths of a mobile number of this number's region, for an error message.
    pub(crate) fn mobile_lengths(&self) -> Option<Vec<u16>> {
        let national = &self.national[..self.length as usize];
        let slot = region_slot(self.code, national).or_else(|| main_slot(self.code))?;
        let desc = slot.meta.descriptors();
        let lengths = desc
            .mobile()
            .map(Descriptor::possible_length)
            .filter(|l| !l.is_empty())
            .unwrap_or(desc.general().possible_length());
        (!lengths.is_empty()).then(|| lengths.to_vec())
    }
}

/// Why a text is not a number at all (before any region's rules apply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotANumber {
    Empty,
    NoDigits,
    StartsWithDash,
    Unexpected(char),
    TooManyDigits(usize),
    /// Digits starting with 0 and nothing saying which country they are of.
    TrunkPrefix,
    /// `+0…`: no country code starts with 0.
    CodeStartsWithZero,
    UnknownCode,
    Extension(String),
    /// The crate's parser found no number in it.
    Unreadable,
}

/// Reads `raw` as libphonenumber does with `default` as the default region, and checks it
/// against its region's rules. Without a default country, digits without `+` are read as
/// written with their country code (`919739978284`). With one, they are first read as a
/// number of that country (`09739978284`, `9739978284`, `919739978284`); if that is not
/// valid, or a fixed-line number, but the digits are a number WhatsApp reaches written with
/// their own country code, they are read that way (`447400123456` with `IN`, `919739978284`
/// with `DE`).
pub(crate) fn read(raw: &str, default: Option<Country>) -> Result<Number, NotANumber> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(NotANumber::Empty);
    }
    if text.starts_with('-') {
        // A dash separates digit groups; a leading one is a negative number.
        return Err(NotANumber::StartsWithDash);
    }
    let mut digits = [0u8; MAX_DIGITS];
    let mut count = 0;
    let mut plus = false;
    let mut letters = None;
    let mut other_digits = false;
    for (i, c) in text.char_indices() {
        match c {
            '0'..='9' => {
                if count < MAX_DIGITS {
                    digits[count] = c as u8;
                }
                count += 1;
            }
            '+' if i == 0 => plus = true,
            ' ' | '-' | '.' | '(' | ')' | '/' => {}
            c if c.is_whitespace() => {}
            c if c.is_ascii_alphabetic() => {
                let (first, n) = letters.unwrap_or((c, 0));
                letters = Some((first, n + 1));
            }
            c if c.is_numeric() => other_digits = true,
            c => return Err(NotANumber::Unexpected(c)),
        }
    }
    if let Some((first, n)) = letters {
        return read_with_parser(text, default, Some((first, n)));
    }
    if other_digits {
        return read_with_parser(text, default, None);
    }
    if count == 0 {
        return Err(NotANumber::NoDigits);
    }
    if count > MAX_DIGITS {
        return Err(NotANumber::TooManyDigits(count));
    }
    let digits = &digits[..count];
    match (plus, default) {
        (true, _) => international(digits),
        (false, None) if digits[0] == b'0' => Err(NotANumber::TrunkPrefix),
        (false, None) => international(digits),
        (false, Some(country)) => {
            let national = national(digits, country)?;
            if matches!(national.kind, Type::Unknown | Type::FixedLine) && digits[0] != b'0' {
                // No number, or a fixed-line one, of the default country: maybe a mobile
                // number written with its country code, as campaign files have always had
                // them (German fixed-line numbers take almost any digits: `919739978284` is
                // one). A toll-free or premium-rate number stays one of the default country.
                if let Ok(number) = international(digits)
                    && number.reaches_whatsapp()
                {
                    return Ok(number);
                }
            }
            Ok(national)
        }
    }
}

/// Digits after a `+` (or an international prefix): the country code, then the national
/// number, read by the rules of the code's main region (as libphonenumber does).
fn international(digits: &[u8]) -> Result<Number, NotANumber> {
    match digits.first() {
        None => return Err(NotANumber::UnknownCode),
        Some(b'0') => return Err(NotANumber::CodeStartsWithZero),
        Some(_) => {}
    }
    let (code, national) = split_code(digits).ok_or(NotANumber::UnknownCode)?;
    let main = main_slot(code).ok_or(NotANumber::UnknownCode)?.rules();
    let national = main.strip_national_prefix_checked(national);
    Ok(classify(code, &national, None))
}

/// Digits with no `+`, read with `country` as the default region.
fn national(digits: &[u8], country: Country) -> Result<Number, NotANumber> {
    let rules = country.slot().rules();
    if let Some(idd) = &rules.international_prefix
        && let Some(m) = idd.find(digits)
        && !digits[m.end()..].starts_with(b"0")
    {
        // `00 44 7700 900123`, dialled from the default country.
        return international(&digits[m.end()..]);
    }
    if let Some(rest) = digits.strip_prefix(rules.code_digits.as_bytes()) {
        // libphonenumber's maybeExtractCountryCode: the default country's code, written
        // without `+` (`919739978284` in India), when the whole is no number of the country
        // but the rest is, or the whole is too long to be one.
        let potential = rules.strip_national_prefix(rest);
        if (!rules.general_pattern(digits) && rules.general_pattern(&potential))
            || rules.test_length(digits) == Length::TooLong
        {
            let main = main_slot(rules.code).map_or(rules, Slot::rules);
            let national = main.strip_national_prefix_checked(&potential);
            return Ok(classify(rules.code, &national, Some(country)));
        }
    }
    let national = rules.strip_national_prefix_checked(digits);
    Ok(classify(rules.code, &national, Some(country)))
}

/// The slow path: `phonenumber::parse`, then the same classification. `letters`: the first
/// letter of the text and how many it has.
fn read_with_parser(
    text: &str,
    default: Option<Country>,
    letters: Option<(char, usize)>,
) -> Result<Number, NotANumber> {
    let id = default.and_then(|c| c.slot().country);
    let text: Cow<'_, str> = if default.is_none() && !text.starts_with('+') {
        if text.starts_with('0') {
            return Err(NotANumber::TrunkPrefix);
        }
        Cow::Owned(format!("+{text}"))
    } else {
        Cow::Borrowed(text)
    };
    let parsed = phonenumber::parse(id, &*text).map_err(|e| match e {
        phonenumber::ParseError::InvalidCountryCode => NotANumber::UnknownCode,
        _ => match letters {
            Some((first, _)) => NotANumber::Unexpected(first),
            None => NotANumber::Unreadable,
        },
    })?;
    if let Some(extension) = parsed.extension().filter(|e| !e.is_empty()) {
        return Err(NotANumber::Extension(extension.to_string()));
    }
    if let Some((first, n)) = letters
        && n < 3
    {
        // Letters stand for keypad digits in a vanity number (libphonenumber wants at least
        // three); one or two are a typo, never silently a digit.
        return Err(NotANumber::Unexpected(first));
    }
    let code = parsed.code().value();
    let national = parsed.national().to_string();
    Ok(classify(code, national.as_bytes(), default))
}

/// The region and type of `code` and `national`; `default`: the number was read as one of
/// this country (messages then name it).
fn classify(code: u16, national: &[u8], default: Option<Country>) -> Number {
    let region = region_slot(code, national).or_else(|| fictional(code, national));
    let kind = match region.map_or(Type::Unknown, |slot| slot.rules().number_type(national)) {
        Type::Unknown if fictional(code, national).is_some() => Type::Mobile,
        kind => kind,
    };
    let place = match (default, region) {
        (Some(country), _) if country.slot().rules().code == code => Place::Region(country.code()),
        (_, Some(slot)) => Place::of(slot.id, code),
        (_, None) => main_slot(code).map_or(Place::Unknown, |slot| Place::of(slot.id, code)),
    };
    let mut number = Number {
        code,
        national: [b'0'; NATIONAL_BUFFER],
        length: national.len().min(NATIONAL_BUFFER) as u8,
        kind: if national.len() > MAX_NATIONAL_DIGITS {
            Type::Unknown
        } else {
            kind
        },
        place,
    };
    number.national[..number.length as usize].copy_from_slice(&national[..number.length as usize]);
    number
}

fn ascii(digits: &[u8]) -> &str {
    std::str::from_utf8(digits).expect("ASCII digits")
}

/// The country code at the start of `digits` (codes are prefix-free: 1 to 3 digits) and
/// the rest.
fn split_code(digits: &[u8]) -> Option<(u16, &[u8])> {
    let mut code = 0u16;
    for (len, digit) in digits.iter().take(3).enumerate() {
        code = code * 10 + u16::from(digit - b'0');
        if !TABLE.by_code[code as usize].is_empty() {
            return Some((code, &digits[len + 1..]));
        }
    }
    None
}

/// The region of `code` whose rules `national` is read by (libphonenumber's
/// `getRegionCodeForNumberFromRegionList`): the only one, or the first whose leading
/// digits start it, or else whose patterns it matches.
fn region_slot(code: u16, national: &[u8]) -> Option<&'static Slot> {
    let regions = TABLE.by_code.get(code as usize)?;
    if let [only] = regions.as_slice() {
        return Some(&TABLE.slots[*only as usize]);
    }
    regions
        .iter()
        .map(|i| &TABLE.slots[*i as usize])
        .find(|slot| {
            let rules = slot.rules();
            match &rules.leading_digits {
                Some(leading) => leading.is_match(national),
                None => rules.number_type(national) != Type::Unknown,
            }
        })
}

/// Ofcom's mobile numbers for drama and examples, +44 7700 900000 to 900999: no one has
/// them, which is why campaign files, documentation and tests use them. libphonenumber's
/// metadata leaves them out of the United Kingdom's mobile numbers; they are read as
/// mobile numbers of the United Kingdom, so that examples validate without messaging
/// anyone real.
fn fictional(code: u16, national: &[u8]) -> Option<&'static Slot> {
    let drama = code == 44 && national.len() == 10 && national.starts_with(b"7700900");
    drama.then(|| main_slot(44)).flatten()
}

/// The main region of a country code (the United States for +1).
fn main_slot(code: u16) -> Option<&'static Slot> {
    let first = *TABLE.by_code.get(code as usize)?.first()?;
    Some(&TABLE.slots[first as usize])
}

/// Every region of the metadata, and the regions of each country code.
struct Table {
    slots: Vec<Slot>,
    /// By country code: indices into `slots`, the main region first (libphonenumber's order).
    by_code: Vec<Vec<u16>>,
}

struct Slot {
    /// Its index in the table: a [`Country`] names it so.
    index: u16,
    id: &'static str,
    /// The crate's name of a region with a 2-letter code (not the non-geographic `001`).
    country: Option<phonenumber::country::Id>,
    meta: &'static Metadata,
    rules: OnceLock<Rules>,
    /// The country's one time zone, if it has one (see [`zones::country_zone`]).
    zone: OnceLock<Option<Tz>>,
}

impl Slot {
    fn rules(&self) -> &Rules {
        self.rules.get_or_init(|| Rules::compile(self.meta))
    }
}

static TABLE: LazyLock<Table> = LazyLock::new(|| {
    let mut slots = Vec::new();
    let mut by_code = vec![Vec::new(); 1000];
    for (code, regions) in by_code.iter_mut().enumerate() {
        for meta in DATABASE.by_code(&(code as u16)).unwrap_or_default() {
            regions.push(slots.len() as u16);
            slots.push(Slot {
                index: slots.len() as u16,
                id: meta.id(),
                country: meta.id().parse().ok(),
                meta,
                rules: OnceLock::new(),
                zone: OnceLock::new(),
            });
        }
    }
    Table { slots, by_code }
});

/// The number types libphonenumber's `getNumberType` tries, in its order.
const TYPES: [Type; 10] = [
    Type::PremiumRate,
    Type::TollFree,
    Type::SharedCost,
    Type::Voip,
    Type::PersonalNumber,
    Type::Pager,
    Type::Uan,
    Type::Voicemail,
    Type::FixedLine,
    Type::Mobile,
];

/// libphonenumber's `ValidationResult` of a length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Length {
    Possible,
    PossibleLocalOnly,
    TooShort,
    TooLong,
    Invalid,
}

/// A region's rules, compiled.
struct Rules {
    code: u16,
    code_digits: String,
    /// Pattern 0 is the general description; then one per type the region has.
    set: RegexSet,
    /// Per pattern of `set`: its type and its possible lengths as a bit mask (0: any).
    kinds: Vec<(Type, u32)>,
    general: Regex,
    general_lengths: Vec<u16>,
    general_local_lengths: Vec<u16>,
    same_mobile_and_fixed_line: bool,
    leading_digits: Option<Regex>,
    international_prefix: Option<Regex>,
    /// `^(?:national prefix for parsing)`: the national prefix, or a pattern of it and of
    /// carrier codes.
    national_prefix: Option<Regex>,
    /// The national prefix when it is plain digits (`0`, `1`, `8`): a comparison of bytes
    /// instead of a regex search, for the most common case.
    literal_prefix: Option<String>,
    /// What replaces a national prefix that captured its last group (Argentina's `15`
    /// becomes `9`; a Caribbean number dialled without its area code gets it: `268$1`).
    transform: Option<String>,
}

impl Rules {
    fn compile(meta: &Metadata) -> Rules {
        let descriptors = meta.descriptors();
        let mut patterns = vec![descriptors.general().national_number().as_str().to_owned()];
        let mut kinds = vec![(Type::Unknown, mask(descriptors.general()))];
        for kind in TYPES {
            if let Some(desc) = descriptors.get(kind) {
                patterns.push(desc.national_number().as_str().to_owned());
                kinds.push((kind, mask(desc)));
            }
        }
        let anchored: Vec<String> = patterns.iter().map(|p| format!("^(?:{p})$")).collect();
        let set = RegexSetBuilder::new(&anchored)
            .unicode(false)
            .ignore_whitespace(true)
            .build()
            .or_else(|_| {
                RegexSetBuilder::new(&anchored)
                    .ignore_whitespace(true)
                    .build()
            })
            .expect("libphonenumber's number patterns compile");
        let fixed = descriptors
            .fixed_line()
            .map(|d| d.national_number().as_str());
        let mobile = descriptors.mobile().map(|d| d.national_number().as_str());
        let npp = meta
            .national_prefix_for_parsing()
            .map(|r| r.as_str().to_owned())
            .or_else(|| meta.national_prefix().map(regex::escape));
        let transform = meta
            .national_prefix_transform_rule()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        Rules {
            code: meta.country_code(),
            code_digits: meta.country_code().to_string(),
            set,
            kinds,
            general: regex(&anchored[0]),
            general_lengths: descriptors.general().possible_length().to_vec(),
            general_local_lengths: descriptors.general().possible_local_length().to_vec(),
            same_mobile_and_fixed_line: fixed.is_some() && fixed == mobile,
            leading_digits: meta
                .leading_digits()
                .map(|r| regex(&format!("^(?:{})", r.as_str()))),
            international_prefix: meta
                .international_prefix()
                .map(|r| regex(&format!("^(?:{})", r.as_str()))),
            literal_prefix: npp
                .clone()
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
            national_prefix: npp
                .filter(|p| !p.is_empty())
                .map(|p| regex(&format!("^(?:{p})"))),
            transform,
        }
    }

    /// libphonenumber's `getNumberType` (after `isNumberMatchingDesc` of the general
    /// description): `Unknown` when the number is not valid here.
    fn number_type(&self, national: &[u8]) -> Type {
        let length = national.len();
        if !fits(self.kinds[0].1, length) {
            return Type::Unknown;
        }
        let matches = self.set.matches(national);
        let hit = |i: usize| matches.matched(i) && fits(self.kinds[i].1, length);
        if !hit(0) {
            return Type::Unknown;
        }
        let mobile = self.kinds.iter().position(|(t, _)| *t == Type::Mobile);
        for (i, (kind, _)) in self.kinds.iter().enumerate().skip(1) {
            if !hit(i) {
                continue;
            }
            return match kind {
                Type::FixedLine if self.same_mobile_and_fixed_line || mobile.is_some_and(hit) => {
                    Type::FixedLineOrMobile
                }
                kind => *kind,
            };
        }
        Type::Unknown
    }

    /// The general pattern alone, as libphonenumber's `matchNationalNumber` checks whether
    /// a number is viable.
    fn general_pattern(&self, number: &[u8]) -> bool {
        self.general.is_match(number)
    }

    /// libphonenumber's `maybeStripNationalPrefixAndCarrierCode`: the national prefix (and
    /// a carrier code) is stripped, or rewritten by the transform rule, unless that turns a
    /// viable number into one that is not.
    fn strip_national_prefix<'a>(&self, number: &'a [u8]) -> Cow<'a, [u8]> {
        let Some(prefix) = &self.national_prefix else {
            return Cow::Borrowed(number);
        };
        let viable = |n: &[u8]| !self.general_pattern(number) || self.general_pattern(n);
        if let Some(rule) = &self.transform
            && let Some(captures) = prefix.captures(number)
            && captures.get(captures.len() - 1).is_some()
        {
            let end = captures.get(0).map_or(0, |m| m.end());
            let mut transformed = Vec::with_capacity(number.len() + rule.len());
            captures.expand(rule.as_bytes(), &mut transformed);
            transformed.extend_from_slice(&number[end..]);
            return if viable(&transformed) {
                Cow::Owned(transformed)
            } else {
                Cow::Borrowed(number)
            };
        }
        let end = match &self.literal_prefix {
            Some(literal) => number
                .starts_with(literal.as_bytes())
                .then_some(literal.len()),
            None => prefix.find(number).map(|m| m.end()),
        };
        match end {
            Some(end) if viable(&number[end..]) => Cow::Borrowed(&number[end..]),
            _ => Cow::Borrowed(number),
        }
    }

    /// [`Rules::strip_national_prefix`] as `parseHelper` applies it: only when what remains
    /// is long enough to be a number of the region.
    fn strip_national_prefix_checked<'a>(&self, number: &'a [u8]) -> Cow<'a, [u8]> {
        let stripped = self.strip_national_prefix(number);
        match self.test_length(&stripped) {
            Length::TooShort | Length::PossibleLocalOnly => Cow::Borrowed(number),
            _ => stripped,
        }
    }

    /// libphonenumber's `testNumberLength` for any type.
    fn test_length(&self, number: &[u8]) -> Length {
        let length = number.len() as u16;
        let (Some(min), Some(max)) = (
            self.general_lengths.iter().min(),
            self.general_lengths.iter().max(),
        ) else {
            return Length::Invalid;
        };
        if self.general_local_lengths.contains(&length) {
            Length::PossibleLocalOnly
        } else if length < *min {
            Length::TooShort
        } else if length > *max {
            Length::TooLong
        } else if self.general_lengths.contains(&length) {
            Length::Possible
        } else {
            Length::Invalid
        }
    }
}

fn mask(desc: &Descriptor) -> u32 {
    desc.possible_length()
        .iter()
        .filter(|l| **l < 32)
        .fold(0, |mask, l| mask | 1 << l)
}

fn fits(mask: u32, length: usize) -> bool {
    mask == 0 || (length < 32 && mask & (1 << length) != 0)
}

fn regex(pattern: &str) -> Regex {
    RegexBuilder::new(pattern)
        .unicode(false)
        .ignore_whitespace(true)
        .build()
        .or_else(|_| RegexBuilder::new(pattern).ignore_whitespace(true).build())
        .expect("libphonenumber's patterns compile")
}
