//! Queued email bodies sealed at rest. The body of an invitation email holds the link, and a
//! queued message sits in its invitation's record until it is delivered: in the database, in
//! MongoDB's operation log (which keeps the insert after the body is dropped), in SQLite's
//! write-ahead log, in every backup of them. So the body is stored only as XChaCha20-Poly1305
//! ciphertext under a key that is never stored with it; a copy of the data holds no usable link.
//!
//! A sealed body is `version (1) | key id (8) | nonce (24) | ciphertext and tag`. The key id
//! picks the key that opens it, so keys can be rotated: seal with the new one, keep opening
//! with the old ones until no message sealed under them is left. The header and the message's
//! own identity (its id and recipient, given by the caller) are authenticated with it, so a
//! body cannot be moved to another message or recipient, nor its header changed, unnoticed.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::REDACTED;

const KEY_BYTES: usize = 32;
const VERSION: u8 = 1;
const KEY_ID_BYTES: usize = 8;
const NONCE_BYTES: usize = 24;
const HEADER_BYTES: usize = 1 + KEY_ID_BYTES + NONCE_BYTES;

/// The readable parts of an email. `Debug` shows none of them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageBody {
    pub subject: String,
    pub html: String,
    pub text: String,
    /// Where replies go (the inviter), when the configuration asks for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

impl MessageBody {
    /// A text message's body: the text, no subject or HTML.
    pub fn text_only(text: String) -> Self {
        Self {
            subject: String::new(),
            html: String::new(),
            text,
            reply_to: None,
        }
    }
}

impl fmt::Debug for MessageBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageBody({REDACTED})")
    }
}

/// A short public name of a key: the first bytes of a hash of it. Safe to log and store.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; KEY_ID_BYTES]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// One 256-bit message key. `Debug` shows its id only.
#[derive(Clone)]
pub struct MessageKey {
    id: KeyId,
    cipher: XChaCha20Poly1305,
}

/// Why a text is not a message key. Carries nothing of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be the base64 of 32 random bytes (make one with `head -c 32 /dev/urandom | base64`)")]
pub struct MalformedKey;

impl MessageKey {
    pub fn from_bytes(bytes: &[u8; KEY_BYTES]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"cms-invitations message key\0")
            .chain_update(bytes)
            .finalize();
        let mut id = [0u8; KEY_ID_BYTES];
        id.copy_from_slice(&digest[..KEY_ID_BYTES]);
        Self {
            id: KeyId(id),
            cipher: XChaCha20Poly1305::new(Key::from_slice(bytes)),
        }
    }

    /// A key written as base64 (padded or not) of exactly 32 bytes.
    pub fn parse(text: &str) -> Result<Self, MalformedKey> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| STANDARD_NO_PAD.decode(text))
            .map_err(|_| MalformedKey)?;
        let bytes: [u8; KEY_BYTES] = bytes.try_into().map_err(|_| MalformedKey)?;
        Ok(Self::from_bytes(&bytes))
    }

    /// A fresh key from the operating system's random generator, as the base64 text
    /// [`MessageKey::parse`] reads (what a key file holds).
    pub fn generate_text() -> Result<String, getrandom::Error> {
        let mut bytes = [0u8; KEY_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(STANDARD.encode(bytes))
    }

    pub fn id(&self) -> KeyId {
        self.id
    }
}

impl fmt::Debug for MessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageKey(id {})", self.id)
    }
}

/// The key that seals new bodies and every key that may still open older ones.
#[derive(Debug, Clone)]
pub struct MessageKeys {
    current: MessageKey,
    previous: Vec<MessageKey>,
}

/// A body as it is stored: ciphertext with the header that says how to open it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedBody(Vec<u8>);

impl SealedBody {
    /// Bytes read back from a store; whether they open is decided by [`MessageKeys::open`].
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn key_id(&self) -> Option<KeyId> {
        let id = self.0.get(1..1 + KEY_ID_BYTES)?;
        id.try_into().ok().map(KeyId)
    }
}

impl fmt::Debug for SealedBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.key_id() {
            Some(id) => write!(f, "SealedBody(key {id}, {} bytes)", self.0.len()),
            None => write!(f, "SealedBody({} bytes)", self.0.len()),
        }
    }
}

/// Why a body could not be sealed: the random generator failed.
#[derive(Debug, thiserror::Error)]
#[error("no random nonce for sealing: {0}")]
pub struct SealError(getrandom::Error);

/// Why a stored body does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Sealed under a key this process was not given (another instance already has a newer
    /// key, or an old key was dropped too soon).
    #[error("sealed with message key {0}, which this process does not have")]
    UnknownKey(KeyId),
    /// The ciphertext, its header or the message it belongs to was changed after sealing.
    #[error("the sealed body does not authenticate: changed, or moved from another message")]
    NotAuthentic,
    /// Not a sealed body of a version this code reads.
    #[error("the stored body is not a sealed body this version reads")]
    Malformed,
}

impl MessageKeys {
    /// Seals with `current`; opens with it and with each of `previous`.
    pub fn new(current: MessageKey, previous: Vec<MessageKey>) -> Self {
        Self { current, previous }
    }

    /// The key new bodies are sealed with.
    pub fn current(&self) -> &MessageKey {
        &self.current
    }

    /// Seals `body`, bound to `context` (which must be given again to open it).
    pub fn seal(&self, body: &MessageBody, context: &[u8]) -> Result<SealedBody, SealError> {
        // A body of strings always serializes.
        self.seal_bytes(&serde_json::to_vec(body).unwrap_or_default(), context)
    }

    /// Opens `sealed` with the key its header names, checking it against `context`.
    pub fn open(&self, sealed: &SealedBody, context: &[u8]) -> Result<MessageBody, OpenError> {
        serde_json::from_slice(&self.open_bytes(sealed, context)?).map_err(|_| OpenError::Malformed)
    }

    /// Seals any bytes (a webhook endpoint's secret, say), bound to `context`.
    pub fn seal_bytes(&self, plaintext: &[u8], context: &[u8]) -> Result<SealedBody, SealError> {
        let mut header = Vec::with_capacity(HEADER_BYTES);
        header.push(VERSION);
        header.extend_from_slice(&self.current.id.0);
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(SealError)?;
        header.extend_from_slice(&nonce);
        let aad = [header.as_slice(), context].concat();
        let ciphertext = self
            .current
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            // Encryption fails only for inputs beyond 256 GiB.
            .unwrap_or_default();
        header.extend_from_slice(&ciphertext);
        Ok(SealedBody(header))
    }

    /// Opens what [`Self::seal_bytes`] sealed.
    pub fn open_bytes(&self, sealed: &SealedBody, context: &[u8]) -> Result<Vec<u8>, OpenError> {
        let bytes = sealed.as_bytes();
        if bytes.len() < HEADER_BYTES || bytes[0] != VERSION {
            return Err(OpenError::Malformed);
        }
        let id = sealed.key_id().ok_or(OpenError::Malformed)?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == id)
            .ok_or(OpenError::UnknownKey(id))?;
        let (header, ciphertext) = bytes.split_at(HEADER_BYTES);
        let aad = [header, context].concat();
        key.cipher
            .decrypt(
                XNonce::from_slice(&header[1 + KEY_ID_BYTES..]),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| OpenError::NotAuthentic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MessageKey {
        MessageKey::from_bytes(&[byte; KEY_BYTES])
    }

    fn body() -> MessageBody {
        MessageBody {
            reply_to: None,
            subject: "Join us".into(),
            html: "<a href=\"https://cms.example/accept#secret=abc\">Accept</a>".into(),
            text: "https://cms.example/accept#secret=abc".into(),
        }
    }

    #[test]
    fn a_sealed_body_opens_to_itself_and_shows_none_of_its_text() {
        let keys = MessageKeys::new(key(1), Vec::new());
        let sealed = keys.seal(&body(), b"message 1").unwrap();
        let stored = String::from_utf8_lossy(sealed.as_bytes()).into_owned();
        assert!(!stored.contains("secret=abc") && !stored.contains("Join us"));
        assert_eq!(keys.open(&sealed, b"message 1").unwrap(), body());
        let again = keys.seal(&body(), b"message 1").unwrap();
        assert_ne!(sealed, again, "each seal takes a fresh nonce");
    }

    #[test]
    fn a_body_opens_only_for_the_message_it_was_sealed_for() {
        let keys = MessageKeys::new(key(1), Vec::new());
        let sealed = keys.seal(&body(), b"message 1").unwrap();
        assert_eq!(
            keys.open(&sealed, b"message 2"),
            Err(OpenError::NotAuthentic)
        );
    }

    #[test]
    fn any_changed_byte_is_noticed() {
        let keys = MessageKeys::new(key(1), Vec::new());
        let sealed = keys.seal(&body(), b"m").unwrap();
        for index in [HEADER_BYTES - 1, HEADER_BYTES, sealed.as_bytes().len() - 1] {
            let mut bytes = sealed.as_bytes().to_vec();
            bytes[index] ^= 1;
            assert_eq!(
                keys.open(&SealedBody::from_bytes(bytes), b"m"),
                Err(OpenError::NotAuthentic),
                "byte {index}"
            );
        }
        let mut bytes = sealed.as_bytes().to_vec();
        bytes[0] = 2;
        assert_eq!(
            keys.open(&SealedBody::from_bytes(bytes), b"m"),
            Err(OpenError::Malformed)
        );
        assert_eq!(
            keys.open(&SealedBody::from_bytes(vec![1; 10]), b"m"),
            Err(OpenError::Malformed)
        );
    }

    #[test]
    fn after_a_rotation_old_bodies_open_with_the_previous_key_and_new_ones_use_the_new_key() {
        let before = MessageKeys::new(key(1), Vec::new());
        let old = before.seal(&body(), b"m").unwrap();
        let after = MessageKeys::new(key(2), vec![key(1)]);
        assert_eq!(after.open(&old, b"m").unwrap(), body());
        let new = after.seal(&body(), b"m").unwrap();
        assert_eq!(
            before.open(&new, b"m"),
            Err(OpenError::UnknownKey(key(2).id()))
        );
        let dropped = MessageKeys::new(key(2), Vec::new());
        assert_eq!(
            dropped.open(&old, b"m"),
            Err(OpenError::UnknownKey(key(1).id()))
        );
    }

    #[test]
    fn keys_are_read_from_base64_of_exactly_32_bytes_and_never_shown() {
        let text = MessageKey::generate_text().unwrap();
        let parsed = MessageKey::parse(&format!(" {text}\n")).unwrap();
        assert_eq!(
            parsed.id(),
            MessageKey::parse(text.trim_end_matches('=')).unwrap().id()
        );
        assert!(!format!("{parsed:?}").contains(&text));
        for bad in ["c2hvcnQ=", "not base64 at all", ""] {
            assert!(MessageKey::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(format!("{:?}", body()), "MessageBody(<redacted>)");
    }
}
