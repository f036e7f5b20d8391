//! Password rules and Argon2id hashing (off the async runtime: hashing takes tens of ms).

use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

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

/// Argon2id hashing with a fixed amount of memory.
///
/// Parameters from OWASP's Password Storage Cheat Sheet, which lists m=19 MiB, t=2 and
/// m=12 MiB, t=3 (p=1 both) among configurations of equal strength: this uses the second,
/// which trades a third pass for 7 MiB less memory per hash in flight. Stored hashes carry
/// their parameters, so hashes made with the first still verify.
///
/// Each hash needs its working memory (12 MiB). Allocating it per hash, with many accepts at once, let the allocator keep gigabytes of
/// freed blocks (peak RSS 2.7 GiB for 16 concurrent accepts). Hashing is CPU-bound, so more
/// hashes at once than cores only adds memory: the hasher keeps one buffer per core, lends
/// one to each hash and makes others wait for a free one.
#[derive(Debug, Clone)]
pub(crate) struct Hasher {
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    permits: Arc<Semaphore>,
}

impl Hasher {
    pub(crate) fn new() -> Self {
        let slots = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            buffers: Arc::new(Mutex::new(Vec::with_capacity(slots))),
            permits: Arc::new(Semaphore::new(slots)),
        }
    }

    /// An Argon2id PHC string of `password` with a fresh random salt.
    pub(crate) async fn hash(&self, password: String) -> Result<String> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|err| Error::Internal(Box::new(err)))?;
        let buffers = self.buffers.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let params = params();
            // A permit guarantees a buffer is free or may be made.
            let mut memory = lock(&buffers)
                .pop()
                .unwrap_or_else(|| vec![Block::default(); params.block_count()]);
            let hashed = hash_with(&password, &params, &mut memory);
            lock(&buffers).push(memory);
            hashed
        })
        .await
        .map_err(|err| Error::Internal(Box::new(err)))?
    }
}

/// m = 12 MiB, t = 3, p = 1 (see [`Hasher`]).
fn params() -> Params {
    const MEMORY_KIB: u32 = 12 * 1024;
    const PASSES: u32 = 3;
    Params::new(MEMORY_KIB, PASSES, 1, None).unwrap_or_default()
}

fn lock(buffers: &Mutex<Vec<Vec<Block>>>) -> std::sync::MutexGuard<'_, Vec<Vec<Block>>> {
    buffers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn hash_with(password: &str, params: &Params, memory: &mut [Block]) -> Result<String> {
    let fail = |what: &str, err: &dyn std::fmt::Display| Error::internal(format!("{what}: {err}"));
    let mut salt_bytes = [0u8; 16];
    getrandom::fill(&mut salt_bytes).map_err(|err| fail("no randomness for a salt", &err))?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|err| fail("salt encoding", &err))?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2
        .hash_password_into_with_memory(password.as_bytes(), &salt_bytes, &mut output, memory)
        .map_err(|err| fail("password hashing", &err))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|err| fail("hash parameters", &err))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&output).map_err(|err| fail("hash output", &err))?),
    };
    Ok(phc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_salted_argon2id_strings_that_verify() {
        use argon2::PasswordVerifier as _;
        let hasher = Hasher::new();
        let a = hasher.hash("correct horse".into()).await.unwrap();
        let b = hasher.hash("correct horse".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"), "{a}");
        assert_ne!(a, b);
        assert!(!a.contains("correct horse"));
        let parsed = PasswordHash::new(&a).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"wrong horse", &parsed)
                .is_err()
        );
    }

    #[tokio::test]
    async fn concurrent_hashes_share_one_buffer_per_core() {
        let hasher = Hasher::new();
        let hashes =
            futures_util::future::join_all((0..12).map(|i| hasher.hash(format!("password {i}"))))
                .await;
        assert!(hashes.iter().all(Result::is_ok));
        let slots = std::thread::available_parallelism().map_or(1, usize::from);
        assert!(lock(&hasher.buffers).len() <= slots);
    }

    #[test]
    fn short_passwords_are_refused_on_the_password_field() {
        assert_eq!(check("short").unwrap_err().field(), Some("password"));
        assert!(check("long enough").is_ok());
    }
}
