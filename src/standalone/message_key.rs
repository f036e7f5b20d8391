//! The key that seals queued email bodies, when the configuration names none. The embedded
//! store belongs to one process on one machine, so the server makes a key on first start and
//! keeps it beside the database (`data_dir/message.key`, readable by its owner only): a copy
//! of the database file, its write-ahead log or a backup of it holds no usable link. MongoDB is
//! shared by instances that must all open each other's messages, so there the key must be
//! configured, the same on every instance.

use std::borrow::Cow;
use std::io::{self, Write as _};
use std::path::Path;

use crate::config::Config;
use crate::domain::MessageKey;

use super::StartupError;

/// File in `data_dir` that keeps the message key the server made for the embedded store.
pub const MESSAGE_KEY_FILE: &str = "message.key";

/// `config` with a message key: the configured one, else (embedded store only) the one kept in
/// `data_dir`, made if there is none yet.
pub(super) fn with_message_key(config: &Config) -> Result<Cow<'_, Config>, StartupError> {
    if config.email.message_key.is_some() {
        return Ok(Cow::Borrowed(config));
    }
    if config.store.mongodb_uri.is_some() {
        return Err(StartupError::MessageKey(
            "the MongoDB store needs message_key (INVITATIONS_MESSAGE_KEY or \
             INVITATIONS_MESSAGE_KEY_FILE), the same on every instance; make one with \
             `head -c 32 /dev/urandom | base64`"
                .to_owned(),
        ));
    }
    let data_dir = &config.store.data_dir;
    let path = data_dir.join(MESSAGE_KEY_FILE);
    let key = crate::fs::private_dir(data_dir)
        .and_then(|()| kept_key(&path))
        .map_err(|err| StartupError::MessageKey(format!("{}: {err}", path.display())))?;
    let mut config = config.clone();
    config.email.message_key = Some(key);
    Ok(Cow::Owned(config))
}

/// The key in `path`, made there first if the file does not exist. Two processes starting at
/// once end up with the same key: the file appears whole, by a link that fails if it exists.
fn kept_key(path: &Path) -> io::Result<MessageKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => return parse(&text),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let text = MessageKey::generate_text().map_err(io::Error::other)?;
    let partial = path.with_extension(format!("partial-{}", std::process::id()));
    crate::fs::private_file(&partial)?.write_all(format!("{text}\n").as_bytes())?;
    let linked = std::fs::hard_link(&partial, path);
    std::fs::remove_file(&partial)?;
    match linked {
        Ok(()) => parse(&text),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            parse(&std::fs::read_to_string(path)?)
        }
        Err(err) => Err(err),
    }
}

fn parse(text: &str) -> io::Result<MessageKey> {
    MessageKey::parse(text).map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_private_and_read_back_the_same() {
        let dir = std::env::temp_dir().join(format!("message-key-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(MESSAGE_KEY_FILE);
        let made = kept_key(&path).unwrap();
        assert_eq!(kept_key(&path).unwrap().id(), made.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no partial file left"
        );
        std::fs::write(&path, "not a key").unwrap();
        assert_eq!(
            kept_key(&path).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
