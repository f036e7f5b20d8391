//! Short single-line texts: a person's name, a scope id, a role or group name.

use super::ValidationError;

/// Trims `input` and checks that it is 1..=`max_chars` characters with no control characters.
fn single_line(field: &str, input: &str, max_chars: usize) -> Result<String, ValidationError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if text.chars().count() > max_chars {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters or line breaks",
        ));
    }
    Ok(text.to_owned())
}

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident, field = $field:literal, max = $max:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(input: &str) -> Result<Self, ValidationError> {
                single_line($field, input, $max).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

text_newtype!(
    /// The invitee's (or an inviter's) display name.
    PersonName, field = "name", max = 200
);
text_newtype!(
    /// A B2B scope: the team, workspace or company the invitation is for.
    Scope, field = "scope", max = 200
);
text_newtype!(
    /// A role name. Whether the role exists and who may grant it is decided by the policy.
    Role, field = "role", max = 64
);
text_newtype!(
    /// One group name.
    GroupName, field = "groups", max = 100
);

/// The groups an invitee joins on acceptance: distinct names, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Groups(Vec<GroupName>);

impl Groups {
    pub const MAX: usize = 50;

    pub fn parse<S: AsRef<str>>(input: &[S]) -> Result<Self, ValidationError> {
        if input.len() > Self::MAX {
            return Err(ValidationError::new(
                "groups",
                format!("at most {} groups", Self::MAX),
            ));
        }
        let mut groups: Vec<GroupName> = Vec::with_capacity(input.len());
        for raw in input {
            let group = GroupName::parse(raw.as_ref())?;
            if !groups.contains(&group) {
                groups.push(group);
            }
        }
        Ok(Self(groups))
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(GroupName::as_str)
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(PersonName::parse("  Ada  ").unwrap().as_str(), "Ada");
        assert_eq!(PersonName::parse("").unwrap_err().field(), "name");
        assert!(PersonName::parse(&"x".repeat(201)).is_err());
        assert!(PersonName::parse("two\nlines").is_err());
    }

    #[test]
    fn groups_are_deduplicated_in_order() {
        let groups = Groups::parse(&["b", "a", "b"]).unwrap();
        assert_eq!(groups.to_strings(), ["b", "a"]);
        assert_eq!(Groups::parse(&[" "]).unwrap_err().field(), "groups");
        let too_many: Vec<String> = (0..51).map(|i| format!("g{i}")).collect();
        assert!(Groups::parse(&too_many).is_err());
    }
}

/// The name of a variant of the invitation message (`partner`): lowercase letters, digits,
/// `-` and `_`, starting with a letter or digit, at most 40 characters, so that it is a folder
/// name on every system (`email-templates/<locale>/<variant>/`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TemplateVariant(String);

impl TemplateVariant {
    pub const MAX_LEN: usize = 40;

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let name = input.trim();
        let valid = !name.is_empty()
            && name.len() <= Self::MAX_LEN
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            && name.starts_with(|c: char| c.is_ascii_alphanumeric());
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(ValidationError::new(
                "template",
                "a template variant is 1 to 40 lowercase letters, digits, '-' or '_', starting with a letter or digit",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod variant_tests {
    use super::*;

    #[test]
    fn a_variant_name_is_a_safe_folder_name() {
        for good in ["partner", "crm_invite", "q3-2026", "7"] {
            assert_eq!(TemplateVariant::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "Partner",
            "../etc",
            "a/b",
            "-x",
            "partner ",
            &"x".repeat(41),
            "é",
        ] {
            if bad == "partner " {
                // Surrounding space is trimmed, as in every name.
                assert!(TemplateVariant::parse(bad).is_ok());
                continue;
            }
            assert_eq!(
                TemplateVariant::parse(bad).unwrap_err().field(),
                "template",
                "{bad:?}"
            );
        }
    }
}
