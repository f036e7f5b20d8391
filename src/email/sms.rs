//! How long a text message is: in which encoding it goes (GSM-7 or UCS-2) and how many
//! segments it costs, and the folding that keeps a message in GSM-7 when all it has outside
//! that alphabet are accents and typography (`ê`, `’`, `«»`) a reader does not miss.

use std::borrow::Cow;

/// GSM 03.38's basic alphabet: one septet each.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Its extension table: an escape and the character, two septets each.
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// Septets in one message, and in each part of a concatenated one (the rest is the header).
const GSM7_SINGLE: usize = 160;
const GSM7_PART: usize = 153;
/// UTF-16 units likewise.
const UCS2_SINGLE: usize = 70;
const UCS2_PART: usize = 67;

/// The encoding a message goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsEncoding {
    /// Seven bits a character: up to 160 in one segment.
    Gsm7,
    /// Sixteen bits a character: up to 70 in one segment.
    Ucs2,
}

impl SmsEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gsm7 => "GSM-7",
            Self::Ucs2 => "UCS-2",
        }
    }
}

/// The size of one text message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsLength {
    pub encoding: SmsEncoding,
    /// Septets (GSM-7) or UTF-16 units (UCS-2).
    pub units: usize,
    /// What a carrier bills: 1 up to 160 septets (70 units), then one per 153 (67).
    pub segments: usize,
}

impl SmsLength {
    pub fn of(text: &str) -> Self {
        let septets: Option<usize> = text.chars().map(gsm7_septets).sum();
        let (encoding, units, single, part) = match septets {
            Some(septets) => (SmsEncoding::Gsm7, septets, GSM7_SINGLE, GSM7_PART),
            None => (
                SmsEncoding::Ucs2,
                text.encode_utf16().count(),
                UCS2_SINGLE,
                UCS2_PART,
            ),
        };
        let segments = match units {
            0 => 0,
            n if n <= single => 1,
            n => n.div_ceil(part),
        };
        Self {
            encoding,
            units,
            segments,
        }
    }
}

impl std::fmt::Display for SmsLength {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} segment{} ({} {})",
            self.segments,
            self.encoding.as_str(),
            if self.segments == 1 { "" } else { "s" },
            self.units,
            match self.encoding {
                SmsEncoding::Gsm7 => "septets",
                SmsEncoding::Ucs2 => "UTF-16 units",
            }
        )
    }
}

fn gsm7_septets(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENDED.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The GSM-7 stand-in for a character outside the alphabet that readers take for the same
/// letter or mark; `None` when there is none (the message then goes as UCS-2, unchanged).
fn gsm7_fold(c: char) -> Option<&'static str> {
    Some(match c {
        'á' | 'â' | 'ã' | 'ā' => "a",
        'Á' | 'Â' | 'Ã' | 'À' | 'Ā' => "A",
        'ê' | 'ë' | 'ē' | 'ė' | 'ę' => "e",
        'Ê' | 'Ë' | 'È' | 'Ē' => "E",
        'í' | 'î' | 'ï' | 'ī' => "i",
        'Í' | 'Î' | 'Ï' | 'Ì' | 'Ī' => "I",
        'ó' | 'ô' | 'õ' | 'ō' => "o",
        'Ó' | 'Ô' | 'Õ' | 'Ò' | 'Ō' => "O",
        'ú' | 'û' | 'ū' => "u",
        'Ú' | 'Û' | 'Ù' | 'Ū' => "U",
        'ç' => "c",
        'ÿ' | 'ý' => "y",
        'Ÿ' | 'Ý' => "Y",
        'œ' => "oe",
        'Œ' => "OE",
        '‘' | '’' | '‚' | '′' => "'",
        '“' | '”' | '„' | '«' | '»' | '″' => "\"",
        '‹' => "<",
        '›' => ">",
        '–' | '—' | '‑' | '−' => "-",
        '…' => "...",
        '\u{a0}' | '\u{202f}' | '\u{2009}' | '\u{2002}' | '\u{2003}' => " ",
        _ => return None,
    })
}

/// `text` in GSM-7 when every character outside that alphabet folds to one inside it (see
/// [`gsm7_fold`]); otherwise `text` unchanged, to go as UCS-2 (a name in Greek or Cyrillic
/// script, an emoji: folding would lose them).
pub fn fold_to_gsm7(text: &str) -> Cow<'_, str> {
    if text.chars().all(|c| gsm7_septets(c).is_some()) {
        return Cow::Borrowed(text);
    }
    let mut folded = String::with_capacity(text.len());
    for c in text.chars() {
        if gsm7_septets(c).is_some() {
            folded.push(c);
        } else if let Some(stand_in) = gsm7_fold(c) {
            folded.push_str(stand_in);
        } else {
            return Cow::Borrowed(text);
        }
    }
    Cow::Owned(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_follow_the_gsm7_and_ucs2_limits() {
        let gsm = |n: usize| SmsLength::of(&"a".repeat(n));
        assert_eq!(gsm(0).segments, 0);
        assert_eq!((gsm(160).segments, gsm(161).segments), (1, 2));
        assert_eq!((gsm(306).segments, gsm(307).segments), (2, 3));
        // The extension table costs two septets.
        let euros = SmsLength::of(&"€".repeat(80));
        assert_eq!(
            (euros.encoding, euros.units, euros.segments),
            (SmsEncoding::Gsm7, 160, 1)
        );
        let ucs = |n: usize| SmsLength::of(&"ж".repeat(n));
        assert_eq!(ucs(70).encoding, SmsEncoding::Ucs2);
        assert_eq!(
            (
                ucs(70).segments,
                ucs(71).segments,
                ucs(134).segments,
                ucs(135).segments
            ),
            (1, 2, 2, 3)
        );
        // An emoji is two UTF-16 units.
        assert_eq!(SmsLength::of("👋").units, 2);
        assert_eq!(
            SmsLength::of("Grüße, Müller & Söhne: é è à ù ñ Ç ß").encoding,
            SmsEncoding::Gsm7
        );
    }

    #[test]
    fn accents_and_typography_fold_into_gsm7_but_other_scripts_stay() {
        let french = "Grace vous invite « Acme » jusqu’au 8 août – à bientôt…";
        let folded = fold_to_gsm7(french);
        assert_eq!(
            folded,
            "Grace vous invite \" Acme \" jusqu'au 8 aout - à bientot..."
        );
        assert_eq!(SmsLength::of(&folded).encoding, SmsEncoding::Gsm7);
        assert_eq!(SmsLength::of(french).encoding, SmsEncoding::Ucs2);
        // Already GSM-7: the same text, not a copy.
        assert!(matches!(fold_to_gsm7("Grüße"), Cow::Borrowed("Grüße")));
        // A name folding cannot keep: the whole message stays as written.
        let greek = "Γεια σου, Ζωή";
        assert_eq!(fold_to_gsm7(greek), greek);
        assert_eq!(fold_to_gsm7("Hi 👋 ê"), "Hi 👋 ê");
    }
}
