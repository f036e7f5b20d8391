//! Closed vocabularies written as strings (states, statuses, kinds): one macro gives each its
//! enum, its stable text, `ALL`, `Display` and `FromStr`, so the text lives in one place.

/// A value outside a closed vocabulary: what was expected, and what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {found:?}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub found: String,
}

/// `string_enum! { /// doc  pub enum Name ("what it is") { Variant = "TEXT", ... } }`
macro_rules! string_enum {
    (@unit $variant:ident) => { () };
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            pub const ALL: [Self; <[()]>::len(&[$(string_enum!(@unit $variant)),+])] =
                [$(Self::$variant),+];

            /// The stable text: what the API shows and the stores keep.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::domain::UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|value| value.as_str() == s)
                    .ok_or_else(|| $crate::domain::UnknownValue {
                        what: $what,
                        found: s.to_owned(),
                    })
            }
        }
    };
}

pub(crate) use string_enum;

#[cfg(test)]
mod tests {
    use super::super::{DeliveryStatus, EventKind, InvitationState, MessageKind};

    fn round_trips<T>(all: &[T])
    where
        T: Copy + PartialEq + std::fmt::Debug + std::fmt::Display + std::str::FromStr,
    {
        for value in all {
            assert_eq!(value.to_string().parse::<T>().ok(), Some(*value));
        }
    }

    #[test]
    fn every_value_round_trips_through_its_text_and_strangers_are_named() {
        round_trips(&InvitationState::ALL);
        round_trips(&DeliveryStatus::ALL);
        round_trips(&EventKind::ALL);
        round_trips(&MessageKind::ALL);
        let err = "pending".parse::<InvitationState>().unwrap_err();
        assert_eq!(err.to_string(), "unknown invitation state \"pending\"");
    }
}
