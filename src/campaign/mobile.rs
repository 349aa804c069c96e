//! Mobile numbers as the API takes them: digits with the country code, no `+`.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// A normalised phone number: 8-15 digits, no leading zero, so it fits a `u64` exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Mobile(u64);

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
    /// Drops spaces, dashes, dots, parentheses and one leading `+`, then checks the digits.
    pub(crate) fn parse(raw: &str) -> Result<Mobile, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("the mobile number is empty".to_owned());
        }
        if trimmed.starts_with('-') {
            // A dash separates digit groups; a leading one is a negative number.
            return Err(format!("invalid mobile number `{raw}`: starts with `-`"));
        }
        let without_plus = trimmed.strip_prefix('+').unwrap_or(trimmed);
        let mut digits = String::with_capacity(without_plus.len());
        for c in without_plus.chars() {
            match c {
                ' ' | '-' | '.' | '(' | ')' => {}
                '0'..='9' => digits.push(c),
                _ => {
                    return Err(format!(
                        "invalid mobile number `{raw}`: unexpected character `{c}`"
                    ));
                }
            }
        }
        if !(8..=15).contains(&digits.len()) {
            return Err(format!(
                "invalid mobile number `{raw}`: {} digits, expected 8-15 digits including the country code",
                digits.len()
            ));
        }
        if digits.starts_with('0') {
            return Err(format!(
                "invalid mobile number `{raw}`: starts with 0; write the country code instead of a trunk prefix (e.g. 91… not 0…)"
            ));
        }
        digits
            .parse()
            .map(Mobile)
            .map_err(|_| format!("invalid mobile number `{raw}`"))
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
    fn mobile_normalisation() {
        assert_eq!(
            Mobile::parse("919739978284").unwrap().to_string(),
            "919739978284"
        );
        assert_eq!(
            Mobile::parse("+91 97399-78284").unwrap().to_string(),
            "919739978284"
        );
        assert_eq!(
            Mobile::parse("(91) 973.997.8284").unwrap().to_string(),
            "919739978284"
        );
        assert!(Mobile::parse("++919739978284").unwrap_err().contains("`+`"));
        assert!(Mobile::parse("1234567").unwrap_err().contains("7 digits"));
        assert!(
            Mobile::parse("1234567890123456")
                .unwrap_err()
                .contains("16 digits")
        );
        assert!(
            Mobile::parse("09739978284")
                .unwrap_err()
                .contains("starts with 0")
        );
        assert!(Mobile::parse("91973x978284").unwrap_err().contains("`x`"));
        assert!(Mobile::parse("").is_err());
    }
}
