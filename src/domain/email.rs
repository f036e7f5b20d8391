//! Email addresses as typed by editors, plus the normalized form used for uniqueness.

use super::ValidationError;

const FIELD: &str = "email";
const MAX_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;
const MAX_LABEL_LEN: usize = 63;

/// A syntactically valid email address.
///
/// `as_str` keeps the address as it was typed (trimmed); `normalized` is the lowercase form
/// that decides whether two invitations are for the same person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress {
    typed: String,
    normalized: String,
}

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let typed = input.trim();
        let invalid = |why: &str| Err(ValidationError::new(FIELD, why));
        if typed.is_empty() {
            return invalid("the email address is empty");
        }
        if typed.len() > MAX_LEN {
            return invalid("the email address is longer than 254 characters");
        }
        if typed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return invalid("the email address contains spaces or control characters");
        }
        let Some((local, domain)) = typed.rsplit_once('@') else {
            return invalid("the email address has no @");
        };
        if local.is_empty() || local.len() > MAX_LOCAL_LEN {
            return invalid("the part before @ must be 1 to 64 characters");
        }
        if local.contains('@') || local.starts_with('.') || local.ends_with('.') {
            return invalid("the part before @ is not valid");
        }
        if local.contains("..") || local.chars().any(|c| "()<>[]\\,;:\"".contains(c)) {
            return invalid("the part before @ contains characters that need quoting");
        }
        if !is_valid_domain(domain) {
            return invalid("the domain after @ is not valid");
        }
        // One form per domain however it was typed: `Bücher.example`, `bücher.example` and
        // its ASCII form `xn--bcher-kva.example` are one domain (IDNA, UTS #46).
        let (domain, idna) = idna::domain_to_unicode(domain);
        if idna.is_err() {
            return invalid("the domain after @ is not a valid international domain name");
        }
        Ok(Self {
            typed: typed.to_owned(),
            normalized: format!("{}@{domain}", local.to_lowercase()),
        })
    }

    /// The address as typed (without surrounding whitespace).
    pub fn as_str(&self) -> &str {
        &self.typed
    }

    /// The lowercase form used for uniqueness and lookups.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

fn is_valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= MAX_LABEL_LEN
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_address_keeps_its_case_and_normalizes_to_lowercase() {
        let email = EmailAddress::parse("  Ada.Lovelace@Example.ORG ").unwrap();
        assert_eq!(email.as_str(), "Ada.Lovelace@Example.ORG");
        assert_eq!(email.normalized(), "ada.lovelace@example.org");
    }

    #[test]
    fn international_domains_and_plus_tags_are_accepted() {
        assert!(EmailAddress::parse("jürgen+cms@bücher.de").is_ok());
    }

    #[test]
    fn an_international_domain_has_one_normal_form_however_it_is_typed() {
        let forms = [
            "Jürgen@Bücher.example",
            "jürgen@bücher.example",
            "JÜRGEN@xn--bcher-kva.example",
            "jürgen@XN--BCHER-KVA.EXAMPLE",
        ];
        for form in forms {
            let email = EmailAddress::parse(form).unwrap();
            assert_eq!(email.normalized(), "jürgen@bücher.example", "{form}");
            assert_eq!(email.as_str(), form, "kept as typed");
        }
        assert!(EmailAddress::parse("a@xn--zz-.example").is_err());
    }

    #[test]
    fn malformed_addresses_are_rejected_with_the_email_field() {
        for bad in [
            "",
            "plain",
            "@example.org",
            "a@",
            "a@localhost",
            "a b@example.org",
            "a@@example.org",
            "a..b@example.org",
            ".a@example.org",
            "a@-example.org",
            "a@example..org",
            "a\u{0}@example.org",
            "\"quoted\"@example.org",
        ] {
            let err = EmailAddress::parse(bad).unwrap_err();
            assert_eq!(err.field(), "email", "{bad:?}");
        }
        let too_long = format!("{}@example.org", "a".repeat(65));
        assert!(EmailAddress::parse(&too_long).is_err());
    }
}
