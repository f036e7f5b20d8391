//! Dates as each shipped language writes them. Times are shown in UTC, and say so.

use chrono::{DateTime, Datelike as _, Timelike as _, Utc};

const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DE_MONTHS: [&str; 12] = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
];
const FR_MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// `at` in the conventions of `language` (a primary language subtag); English for languages
/// without their own format.
pub fn format_date_time(at: DateTime<Utc>, language: &str) -> String {
    let month = usize::try_from(at.month0()).unwrap_or(0);
    let (day, year, hour, minute) = (at.day(), at.year(), at.hour(), at.minute());
    match language {
        "de" => format!(
            "{day}. {} {year}, {hour:02}:{minute:02} Uhr (UTC)",
            DE_MONTHS[month]
        ),
        "fr" => {
            let day = if day == 1 {
                "1er".to_owned()
            } else {
                day.to_string()
            };
            format!(
                "{day} {} {year} à {hour:02} h {minute:02} (UTC)",
                FR_MONTHS[month]
            )
        }
        _ => {
            let (hour12, meridiem) = match hour {
                0 => (12, "AM"),
                1..=11 => (hour, "AM"),
                12 => (12, "PM"),
                _ => (hour - 12, "PM"),
            };
            format!(
                "{} {day}, {year} at {hour12}:{minute:02} {meridiem} UTC",
                EN_MONTHS[month]
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn each_language_writes_the_date_its_own_way() {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 14, 5, 0).unwrap();
        assert_eq!(format_date_time(at, "en"), "March 1, 2026 at 2:05 PM UTC");
        assert_eq!(format_date_time(at, "de"), "1. März 2026, 14:05 Uhr (UTC)");
        assert_eq!(format_date_time(at, "fr"), "1er mars 2026 à 14 h 05 (UTC)");
        let midnight = Utc.with_ymd_and_hms(2026, 12, 24, 0, 30, 0).unwrap();
        assert_eq!(
            format_date_time(midnight, "en"),
            "December 24, 2026 at 12:30 AM UTC"
        );
        assert_eq!(
            format_date_time(midnight, "xx"),
            "December 24, 2026 at 12:30 AM UTC"
        );
    }
}
