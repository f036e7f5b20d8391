//! How long an invitation stays valid: a default, bounds, and a per-invitation override.

use super::{IsoDuration, ValidationError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidityPolicy {
    default: IsoDuration,
    min: IsoDuration,
    max: IsoDuration,
}

impl ValidityPolicy {
    /// Fails when the bounds are inverted or the default lies outside them.
    pub fn new(
        default: IsoDuration,
        min: IsoDuration,
        max: IsoDuration,
    ) -> Result<Self, ValidationError> {
        if min.as_seconds() <= 0 {
            return Err(ValidationError::new(
                "minValidity",
                "must be longer than zero",
            ));
        }
        if min > max {
            return Err(ValidationError::new(
                "maxValidity",
                format!("must not be shorter than the minimum validity ({min})"),
            ));
        }
        if default < min || default > max {
            return Err(ValidationError::new(
                "defaultValidity",
                format!("must lie between the minimum ({min}) and maximum ({max}) validity"),
            ));
        }
        Ok(Self { default, min, max })
    }

    pub fn default_validity(&self) -> IsoDuration {
        self.default
    }

    pub fn min(&self) -> IsoDuration {
        self.min
    }

    pub fn max(&self) -> IsoDuration {
        self.max
    }

    /// The validity to use: the override when given (it must lie inside the bounds), else the
    /// default.
    pub fn resolve(&self, requested: Option<IsoDuration>) -> Result<IsoDuration, ValidationError> {
        match requested {
            None => Ok(self.default),
            Some(d) if d < self.min || d > self.max => Err(ValidationError::new(
                "validFor",
                format!(
                    "the validity must lie between {} and {}",
                    self.min, self.max
                ),
            )),
            Some(d) => Ok(d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> IsoDuration {
        IsoDuration::parse(s).unwrap()
    }

    #[test]
    fn the_default_applies_when_nothing_is_requested() {
        let policy = ValidityPolicy::new(d("P7D"), d("PT1H"), d("P30D")).unwrap();
        assert_eq!(policy.resolve(None).unwrap(), d("P7D"));
        assert_eq!(policy.resolve(Some(d("PT12H"))).unwrap(), d("PT12H"));
    }

    #[test]
    fn overrides_outside_the_bounds_are_refused_as_valid_for() {
        let policy = ValidityPolicy::new(d("P7D"), d("PT1H"), d("P30D")).unwrap();
        assert_eq!(
            policy.resolve(Some(d("PT59M"))).unwrap_err().field(),
            "validFor"
        );
        assert_eq!(
            policy.resolve(Some(d("P31D"))).unwrap_err().field(),
            "validFor"
        );
        assert!(policy.resolve(Some(d("PT1H"))).is_ok());
        assert!(policy.resolve(Some(d("P30D"))).is_ok());
    }

    #[test]
    fn inconsistent_bounds_are_refused() {
        assert!(ValidityPolicy::new(d("P7D"), d("P8D"), d("P30D")).is_err());
        assert!(ValidityPolicy::new(d("P7D"), d("P3D"), d("P1D")).is_err());
        assert!(ValidityPolicy::new(d("PT0S"), d("PT0S"), d("P1D")).is_err());
    }
}
