use phonenumber::{Mode, PhoneNumber};

use super::*;

/// Every example number of libphonenumber's metadata: its region, type, the number and the
/// forms it is read in, each `(text, default country, the same for the crate)`. The
/// non-geographic codes are included: `DATABASE.iter()` has one of them (its map is keyed by
/// region, and all nine are `001`), `DATABASE.by_code` all nine.
fn examples() -> Vec<(&'static Metadata, Type, &'static str, Vec<Form>)> {
    let mut out = Vec::new();
    for code in 1..1000u16 {
        for meta in DATABASE.by_code(&code).unwrap_or_default() {
            for kind in TYPES {
                let Some(example) = meta.descriptors().get(kind).and_then(Descriptor::example)
                else {
                    continue;
                };
                // The crate reads digits without `+` only with a default country.
                let mut forms = vec![
                    Form::new(format!("+{code}{example}"), None),
                    Form {
                        crate_text: format!("+{code}{example}"),
                        ..Form::new(format!("{code}{example}"), None)
                    },
                ];
                if let Some(country) = Country::from_code(meta.id()) {
                    forms.push(Form::new(example.to_owned(), Some(country)));
                }
                out.push((meta, kind, example, forms));
            }
        }
    }
    out
}

struct Form {
    text: String,
    default: Option<Country>,
    crate_text: String,
}

impl Form {
    fn new(text: String, default: Option<Country>) -> Form {
        Form {
            crate_text: text.clone(),
            text,
            default,
        }
    }
}

/// The crate's `number_type`, applied to the national number with its leading zeros (as its
/// `is_valid` does; its `number_type` drops them, so an Italian fixed-line number, whose
/// national number starts with 0, comes out `Unknown` while valid).
fn crate_type_with_zeros(meta: &Metadata, national: &str) -> Type {
    let d = meta.descriptors();
    let is = |desc: Option<&Descriptor>| desc.is_some_and(|desc| desc.is_match(national));
    if !d.general().is_match(national) {
        return Type::Unknown;
    }
    for kind in &TYPES[..8] {
        if is(d.get(*kind)) {
            return *kind;
        }
    }
    match (is(d.fixed_line()), is(d.mobile())) {
        (true, true) => Type::FixedLineOrMobile,
        (true, false)
            if d.fixed_line().map(|f| f.national_number().as_str())
                == d.mobile().map(|m| m.national_number().as_str()) =>
        {
            Type::FixedLineOrMobile
        }
        (true, false) => Type::FixedLine,
        (false, true) => Type::Mobile,
        (false, false) => Type::Unknown,
    }
}

fn of_type(ours: Type, example: Type) -> bool {
    ours == example
        || (ours == Type::FixedLineOrMobile && matches!(example, Type::FixedLine | Type::Mobile))
}

/// libphonenumber's example numbers of every type of every region, each read in national
/// form with its region as the default country, and in international form with and without
/// `+`:
///
/// - ours is valid, of the example's type, and its national number is the example (an
///   example is a national significant number);
/// - where the crate (`phonenumber::parse`, `is_valid`, `number_type`) reads it as valid,
///   validity, type and E.164 digits are the crate's;
/// - where the crate reads it as invalid, it dropped leading digits that libphonenumber
///   keeps: it strips the national prefix a second time without libphonenumber's check that
///   the rest is still viable (`+7 800 123 45 67`: `8` is Russia's trunk prefix), and takes
///   the leading digits of a national number for the default country's code when the whole
///   number is valid (`250 123 456` in Rwanda, whose code is 250). These differences are
///   the crate's, not libphonenumber's: every form is valid in libphonenumber.
#[test]
fn every_example_number_reads_as_libphonenumber_and_the_crate_read_it() {
    let mut checked = 0;
    let mut crate_invalid = 0;
    let mut problems = Vec::new();
    for (meta, kind, example, forms) in examples() {
        let code = meta.country_code();
        for form in forms {
            checked += 1;
            let at = format!(
                "{} {kind:?} {:?} (default {:?})",
                meta.id(),
                form.text,
                form.default
            );
            let ours = match read(&form.text, form.default) {
                Ok(ours) => ours,
                Err(e) => {
                    problems.push(format!("{at}: ours {e:?}"));
                    continue;
                }
            };
            if !of_type(ours.kind, kind) || ours.national() != example || ours.code != code {
                problems.push(format!("{at}: ours {ours:?}"));
                continue;
            }
            let crate_country = form.default.and_then(|c| c.slot().country);
            let parsed: Option<PhoneNumber> =
                phonenumber::parse(crate_country, &form.crate_text).ok();
            match parsed.filter(phonenumber::is_valid) {
                Some(parsed) => {
                    let e164 = parsed.format().mode(Mode::E164).to_string();
                    let national = parsed.national().to_string();
                    let crate_kind = match parsed.number_type(&DATABASE) {
                        Type::Unknown if national.starts_with('0') => {
                            let region = region_slot(code, national.as_bytes()).expect("a region");
                            crate_type_with_zeros(region.meta, &national)
                        }
                        kind => kind,
                    };
                    if e164 != format!("+{}", ours.e164()) || crate_kind != ours.kind {
                        problems.push(format!("{at}: crate {e164} {crate_kind:?}, ours {ours:?}"));
                    }
                }
                None => {
                    crate_invalid += 1;
                    let crate_digits = phonenumber::parse(crate_country, &form.crate_text)
                        .map(|p| p.national().to_string())
                        .unwrap_or_default();
                    if !(example.ends_with(&crate_digits) && crate_digits.len() < example.len()) {
                        problems.push(format!(
                            "{at}: crate invalid ({crate_digits}), ours {ours:?}"
                        ));
                    }
                }
            }
        }
    }
    assert!(checked > 3000, "{checked} forms checked");
    assert!(
        crate_invalid < checked / 50,
        "{crate_invalid} of {checked} invalid for the crate"
    );
    assert!(
        problems.is_empty(),
        "{} of {checked}:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The fast path and the crate's parser followed by the same classification (the path of
/// numbers with letters, extensions or other digits) agree on every example number the
/// crate reads as libphonenumber does (see above for those it does not).
#[test]
fn the_fast_path_reads_digits_as_the_parser_path_does() {
    let mut problems = Vec::new();
    let mut compared = 0;
    for (meta, kind, _, forms) in examples() {
        for form in forms {
            let parser = read_with_parser(&form.text, form.default, None);
            if parser.as_ref().is_ok_and(|n| n.kind == Type::Unknown) {
                continue;
            }
            compared += 1;
            let fast = read(&form.text, form.default);
            if fast != parser {
                problems.push(format!(
                    "{} {kind:?} {:?} (default {:?}): fast {fast:?}, parser {parser:?}",
                    meta.id(),
                    form.text,
                    form.default
                ));
            }
        }
    }
    assert!(compared > 3000, "{compared} compared");
    assert!(
        problems.is_empty(),
        "{}:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_region_has_a_name_and_the_table_is_sorted() {
    assert!(names::NAMES.windows(2).all(|w| w[0].0 < w[1].0));
    for slot in &TABLE.slots {
        if slot.id != "001" {
            assert!(names::name(slot.id).is_some(), "{} has no name", slot.id);
        }
    }
}

#[test]
fn default_countries_are_iso_codes_with_hints_for_near_misses() {
    assert_eq!(Country::from_code("IN").map(Country::name), Some("India"));
    assert_eq!(
        Country::from_code("GB").map(Country::name),
        Some("the United Kingdom")
    );
    assert_eq!(Country::from_code("001"), None);
    assert_eq!(Country::from_code("in"), None);
    assert_eq!(Country::from_code("XX"), None);
    assert_eq!(
        Country::hint("UK"),
        "did you mean `GB` (the United Kingdom)?"
    );
    assert_eq!(Country::hint("in"), "did you mean `IN` (India)?");
    assert_eq!(
        Country::hint("XX"),
        "use an ISO 3166 alpha-2 country code such as IN, GB or US"
    );
}
