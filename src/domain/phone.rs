//! Mobile numbers as editors type them, kept in E.164 (`+4915112345678`): the one form that
//! decides whether two invitations are for the same phone, and the form gateways take.

use std::fmt;

use super::ValidationError;

const FIELD: &str = "phone";
/// Longer input is refused before it is parsed (E.164 has at most 15 digits; typed numbers
/// carry spaces, dashes and brackets too).
const MAX_TYPED_LEN: usize = 40;

/// A phone number valid for its country's numbering plan, in E.164.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    e164: String,
}

impl PhoneNumber {
    /// Parses an international number: a `+`, the country code and the national number, with
    /// spaces, dots, dashes or brackets between digits if typed so (`+49 151 1234-5678`).
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let typed = input.trim();
        let invalid = |why: &str| Err(ValidationError::new(FIELD, why));
        if typed.is_empty() {
            return invalid("the phone number is empty");
        }
        if typed.len() > MAX_TYPED_LEN {
            return invalid("the phone number is longer than 40 characters");
        }
        if !typed.starts_with('+') {
            return invalid(
                "give the phone number in international form, starting with + and the country code (+49 151 ...)",
            );
        }
        if !typed[1..]
            .chars()
            .all(|c| c.is_ascii_digit() || " .-()/".contains(c))
        {
            return invalid(
                "the phone number may contain only digits after the +, and spaces, dots, dashes or brackets between them",
            );
        }
        let Ok(number) = phonenumber::parse(None, typed) else {
            return invalid("the phone number cannot be read as an international number");
        };
        if !phonenumber::is_valid(&number) {
            return invalid("the phone number does not exist in its country's numbering plan");
        }
        Ok(Self {
            e164: number.format().mode(phonenumber::Mode::E164).to_string(),
        })
    }

    /// The number from a store, checked against the numbering plan when it was written: here
    /// only its E.164 shape is checked (`+`, then 2 to 15 digits, the first not 0), so that
    /// reading invitations does not run the numbering-plan parser on each one. `None` for
    /// anything else.
    pub fn from_stored(e164: &str) -> Option<Self> {
        let digits = e164.strip_prefix('+')?;
        let shaped = (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        shaped.then(|| Self {
            e164: e164.to_owned(),
        })
    }

    /// `+4915112345678`.
    pub fn as_str(&self) -> &str {
        &self.e164
    }

    /// The number as an invitee page may show it to whoever holds the link: the country code
    /// and the last two digits (`+49 ••••••••••78`).
    pub fn masked(&self) -> String {
        let digits = &self.e164[1..];
        // The country code's length, from the numbering plan (1 to 3 digits); worked out only
        // here, where a number is shown.
        let country_code_len = phonenumber::parse(None, &self.e164)
            .map(|number| number.code().value().to_string().len())
            .unwrap_or(1)
            .min(digits.len());
        let (country, national) = digits.split_at(country_code_len);
        let shown = national.len().min(2);
        let hidden = national.len() - shown;
        format!("+{country} {}{}", "•".repeat(hidden), &national[hidden..])
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Personal data: logs and panics show the masked form.
        write!(f, "PhoneNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_forms_of_one_number_normalize_to_one_e164() {
        for typed in [
            "+4915112345678",
            " +49 151 12345678 ",
            "+49 (151) 1234-5678",
            "+49.151.123.456.78",
        ] {
            assert_eq!(
                PhoneNumber::parse(typed).unwrap().as_str(),
                "+4915112345678",
                "{typed:?}"
            );
        }
        assert_eq!(
            PhoneNumber::parse("+1 650-253-0000").unwrap().as_str(),
            "+16502530000"
        );
    }

    #[test]
    fn bad_numbers_are_refused_with_a_reason() {
        let reason = |input: &str| PhoneNumber::parse(input).unwrap_err().message().to_owned();
        assert!(reason("").contains("empty"));
        assert!(reason("015112345678").contains("international form"));
        assert!(reason("+49 151 1234 5678 ext. 9").contains("only digits"));
        assert!(
            reason("+49 1").contains("numbering plan")
                || reason("+49 1").contains("cannot be read")
        );
        assert!(reason("+999 123456789").len() > 10);
        assert!(reason(&format!("+49{}", "1".repeat(40))).contains("longer than 40"));
        assert!(reason("+49\u{0}151").contains("only digits"));
        assert_eq!(
            PhoneNumber::parse("+49 151 1234").unwrap_err().field(),
            "phone"
        );
    }

    #[test]
    fn the_masked_form_shows_the_country_and_two_digits() {
        let number = PhoneNumber::parse("+4915112345678").unwrap();
        assert_eq!(number.masked(), "+49 •••••••••78");
        assert_eq!(format!("{number:?}"), "PhoneNumber(+49 •••••••••78)");
        assert_eq!(
            PhoneNumber::parse("+16502530000").unwrap().masked(),
            "+1 ••••••••00"
        );
    }

    #[test]
    fn a_stored_number_must_still_be_e164() {
        assert!(PhoneNumber::from_stored("+4915112345678").is_some());
        assert!(PhoneNumber::from_stored("+49 151 12345678").is_none());
        assert!(PhoneNumber::from_stored("nonsense").is_none());
        assert!(PhoneNumber::from_stored("+049151").is_none());
        // Read back, it shows as it did when written.
        let stored = PhoneNumber::from_stored("+4915112345678").unwrap();
        assert_eq!(stored, PhoneNumber::parse("+49 151 12345678").unwrap());
        assert_eq!(stored.masked(), "+49 •••••••••78");
    }
}
