//! Password rules and Argon2id hashing (off the async runtime: hashing takes tens of ms).

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString};

use crate::error::{Error, Result};

const MIN_CHARS: usize = 8;
const MAX_CHARS: usize = 256;

pub(super) fn check(password: &str) -> Result<()> {
    let chars = password.chars().count();
    if !(MIN_CHARS..=MAX_CHARS).contains(&chars) {
        return Err(Error::validation(
            "password",
            format!("must be {MIN_CHARS} to {MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

/// An Argon2id PHC string (default parameters: m=19 MiB, t=2, p=1).
pub(super) async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let mut salt_bytes = [0u8; 16];
        getrandom::fill(&mut salt_bytes)
            .map_err(|err| Error::internal(format!("no randomness for a salt: {err}")))?;
        let salt = SaltString::encode_b64(&salt_bytes)
            .map_err(|err| Error::internal(format!("salt encoding failed: {err}")))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| Error::internal(format!("password hashing failed: {err}")))
    })
    .await
    .map_err(|err| Error::Internal(Box::new(err)))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_salted() {
        let a = hash("correct horse".into()).await.unwrap();
        let b = hash("correct horse".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert!(!a.contains("correct horse"));
    }

    #[test]
    fn short_passwords_are_refused_on_the_password_field() {
        assert_eq!(check("short").unwrap_err().field(), Some("password"));
        assert!(check("long enough").is_ok());
    }
}
