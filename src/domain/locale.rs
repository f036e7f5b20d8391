//! BCP 47 language tags, in canonical case.

use super::ValidationError;

/// A well-formed BCP 47 language tag such as `en`, `de-AT` or `zh-Hant-TW`, stored in canonical
/// case (language lowercase, script titlecase, region uppercase).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Locale(String);

impl Locale {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let invalid = || {
            Err(ValidationError::new(
                "locale",
                "the locale must be a BCP 47 language tag such as en, de or de-AT",
            ))
        };
        let input = input.trim();
        if input.is_empty() || input.len() > 35 {
            return invalid();
        }
        let mut subtags = input.split(['-', '_']);
        let Some(language) = subtags.next() else {
            return invalid();
        };
        if !(2..=3).contains(&language.len()) && !(5..=8).contains(&language.len())
            || !language.chars().all(|c| c.is_ascii_alphabetic())
        {
            return invalid();
        }
        let mut canonical = language.to_ascii_lowercase();
        for (position, subtag) in subtags.enumerate() {
            if subtag.is_empty()
                || subtag.len() > 8
                || !subtag.chars().all(|c| c.is_ascii_alphanumeric())
            {
                return invalid();
            }
            canonical.push('-');
            let is_alpha = subtag.chars().all(|c| c.is_ascii_alphabetic());
            match subtag.len() {
                4 if is_alpha && position == 0 => {
                    canonical.push_str(&subtag[..1].to_ascii_uppercase());
                    canonical.push_str(&subtag[1..].to_ascii_lowercase());
                }
                2 if is_alpha => canonical.push_str(&subtag.to_ascii_uppercase()),
                _ => canonical.push_str(&subtag.to_ascii_lowercase()),
            }
        }
        Ok(Self(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The primary language subtag: `de` for `de-AT`.
    pub fn language(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_stored_in_canonical_case() {
        assert_eq!(Locale::parse("de-at").unwrap().as_str(), "de-AT");
        assert_eq!(Locale::parse("EN").unwrap().as_str(), "en");
        assert_eq!(Locale::parse("zh-hant-tw").unwrap().as_str(), "zh-Hant-TW");
        assert_eq!(Locale::parse("pt_BR").unwrap().as_str(), "pt-BR");
    }

    #[test]
    fn the_language_is_the_first_subtag() {
        assert_eq!(Locale::parse("de-AT").unwrap().language(), "de");
    }

    #[test]
    fn malformed_tags_are_rejected() {
        for bad in [
            "",
            "e",
            "toolonglanguage",
            "de-",
            "de--AT",
            "12",
            "de-AT!",
            "de AT",
        ] {
            assert_eq!(Locale::parse(bad).unwrap_err().field(), "locale", "{bad:?}");
        }
    }
}
