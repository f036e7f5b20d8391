//! ISO 8601 durations (`P7D`, `PT12H`, `P1W`, `P1DT6H30M`).

use std::fmt;

use chrono::TimeDelta;

use super::ValidationError;

/// A fixed-length ISO 8601 duration. Years and months are refused because their length
/// depends on the calendar; use weeks or days instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IsoDuration {
    seconds: i64,
}

const MAX_SECONDS: i64 = 100 * 365 * 24 * 3600;

impl IsoDuration {
    pub fn from_seconds(seconds: i64) -> Self {
        Self { seconds }
    }

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let invalid = |why: &str| Err(ValidationError::new("validFor", why));
        let text = input.trim().to_ascii_uppercase();
        let Some(body) = text.strip_prefix('P') else {
            return invalid("a duration must look like P7D, PT12H or P1DT6H (ISO 8601)");
        };
        let (date_part, time_part) = match body.split_once('T') {
            Some((date, time)) => (date, Some(time)),
            None => (body, None),
        };
        if body.is_empty() || time_part == Some("") {
            return invalid("the duration has no amount");
        }
        let mut seconds: i64 = 0;
        let mut add = |number: &str, unit: char, in_time: bool| -> Result<(), &'static str> {
            let value: i64 = number
                .parse()
                .map_err(|_| "the duration has a malformed number")?;
            let factor = match (unit, in_time) {
                ('W', false) => 7 * 86_400,
                ('D', false) => 86_400,
                ('H', true) => 3_600,
                ('M', true) => 60,
                ('S', true) => 1,
                ('Y' | 'M', false) => {
                    return Err("years and months have no fixed length: use weeks (W) or days (D)");
                }
                _ => return Err("the duration has an unknown unit"),
            };
            seconds = value
                .checked_mul(factor)
                .and_then(|s| seconds.checked_add(s))
                .filter(|s| *s <= MAX_SECONDS)
                .ok_or("the duration is too long")?;
            Ok(())
        };
        for (part, in_time) in [(date_part, false), (time_part.unwrap_or(""), true)] {
            let mut number = String::new();
            for c in part.chars() {
                if c.is_ascii_digit() {
                    number.push(c);
                } else if number.is_empty() {
                    return invalid("a unit in the duration has no number before it");
                } else {
                    if let Err(why) = add(&number, c, in_time) {
                        return invalid(why);
                    }
                    number.clear();
                }
            }
            if !number.is_empty() {
                return invalid("the duration ends with a number without a unit");
            }
        }
        Ok(Self { seconds })
    }

    pub fn as_seconds(&self) -> i64 {
        self.seconds
    }

    pub fn as_time_delta(&self) -> TimeDelta {
        TimeDelta::seconds(self.seconds)
    }
}

impl fmt::Display for IsoDuration {
    /// The shortest canonical form: `P7D`, `PT12H`, `P1DT6H30M`, `PT0S`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (days, rest) = (self.seconds / 86_400, self.seconds % 86_400);
        let (hours, rest) = (rest / 3_600, rest % 3_600);
        let (minutes, seconds) = (rest / 60, rest % 60);
        f.write_str("P")?;
        if days > 0 {
            write!(f, "{days}D")?;
        }
        if rest_is_zero(hours, minutes, seconds) {
            if days == 0 {
                f.write_str("T0S")?;
            }
            return Ok(());
        }
        f.write_str("T")?;
        for (value, unit) in [(hours, 'H'), (minutes, 'M'), (seconds, 'S')] {
            if value > 0 {
                write!(f, "{value}{unit}")?;
            }
        }
        Ok(())
    }
}

fn rest_is_zero(hours: i64, minutes: i64, seconds: i64) -> bool {
    hours == 0 && minutes == 0 && seconds == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_validity_periods_parse_to_seconds() {
        assert_eq!(IsoDuration::parse("P7D").unwrap().as_seconds(), 7 * 86_400);
        assert_eq!(
            IsoDuration::parse("PT12H").unwrap().as_seconds(),
            12 * 3_600
        );
        assert_eq!(IsoDuration::parse("P1W").unwrap().as_seconds(), 7 * 86_400);
        assert_eq!(
            IsoDuration::parse("p1dt6h30m").unwrap().as_seconds(),
            109_800
        );
        assert_eq!(IsoDuration::parse("PT90S").unwrap().as_seconds(), 90);
    }

    #[test]
    fn durations_print_in_canonical_form_and_round_trip() {
        for (input, shown) in [
            ("P7D", "P7D"),
            ("PT12H", "PT12H"),
            ("P1W", "P7D"),
            ("PT0S", "PT0S"),
            ("P1DT6H30M", "P1DT6H30M"),
        ] {
            let parsed = IsoDuration::parse(input).unwrap();
            assert_eq!(parsed.to_string(), shown);
            assert_eq!(IsoDuration::parse(shown).unwrap(), parsed);
        }
    }

    #[test]
    fn malformed_or_calendar_durations_are_refused() {
        for bad in [
            "",
            "7D",
            "P",
            "PT",
            "P1M",
            "P1Y",
            "PD",
            "P7",
            "PT1D",
            "P1H",
            "P-1D",
            "P99999999999999D",
        ] {
            assert_eq!(
                IsoDuration::parse(bad).unwrap_err().field(),
                "validFor",
                "{bad:?}"
            );
        }
    }
}
