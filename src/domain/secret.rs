//! Invitation secrets: 256 random bits handed out once, stored only as a SHA-256 digest.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

const SECRET_BYTES: usize = 32;

/// What every redacting `Debug` shows in place of a secret, a link or a message body.
pub const REDACTED: &str = "<redacted>";
/// Length of 32 bytes in unpadded base64url.
const ENCODED_LEN: usize = 43;

/// The raw secret that goes into an invitation link.
///
/// It has no `Display` and no `Serialize`, and its `Debug` is redacted, so it cannot end up in a
/// log line or an error by accident; the one way out is [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// The SHA-256 digest of a secret's 32 bytes: what the stores keep and look up.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretDigest([u8; 32]);

/// Why a string is not an invitation secret. Deliberately carries nothing of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the invitation secret is malformed")]
pub struct MalformedSecret;

impl Secret {
    /// A fresh secret from the operating system's random generator.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Parses a secret presented by a client. Anything that is not 43 base64url characters
    /// decoding to 32 bytes is refused without looking at the store.
    pub fn parse(input: &str) -> Result<Self, MalformedSecret> {
        let input = input.trim();
        if input.len() != ENCODED_LEN {
            return Err(MalformedSecret);
        }
        match URL_SAFE_NO_PAD.decode(input) {
            Ok(bytes) if bytes.len() == SECRET_BYTES => Ok(Self(input.to_owned())),
            _ => Err(MalformedSecret),
        }
    }

    pub fn digest(&self) -> SecretDigest {
        // `parse` and `generate` guarantee valid base64url of 32 bytes.
        let bytes = URL_SAFE_NO_PAD.decode(&self.0).unwrap_or_default();
        SecretDigest(Sha256::digest(bytes).into())
    }

    /// The raw value, for the one response that mints it and for the outgoing email.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl SecretDigest {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Rebuilds a digest read back from a store; `None` when the stored value is not 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A digest is not usable as a link, but a prefix is enough to correlate in debugging.
        write!(
            f,
            "SecretDigest({:02x}{:02x}{:02x}{:02x}..)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_43_base64url_characters_and_differ() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_eq!(a.expose().len(), 43);
        assert!(
            a.expose()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, b);
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn a_parsed_secret_has_the_same_digest_as_the_minted_one() {
        let minted = Secret::generate().unwrap();
        let parsed = Secret::parse(minted.expose()).unwrap();
        assert_eq!(parsed.digest(), minted.digest());
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let secret = Secret::generate().unwrap();
        let shown = format!("{secret:?} {:?}", secret.digest());
        assert!(!shown.contains(secret.expose()));
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn malformed_secrets_are_refused() {
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &"*".repeat(43),
            &"a".repeat(43),
        ] {
            // 43 'a's decode to 32 bytes with non-zero trailing bits, which strict decoding refuses.
            assert_eq!(Secret::parse(bad), Err(MalformedSecret), "{bad:?}");
        }
    }
}
