//! Why the standalone server could not start: one variant per step, each naming what failed.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::error::Error;
use crate::ports::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The configured store cannot be opened (unreachable, or a file that is not ours).
    #[error("cannot open the store: {0}")]
    Store(#[source] StoreError),
    /// The service cannot be built from the configuration (templates that do not compile).
    #[error("cannot build the service: {0}")]
    Service(#[source] Error),
    /// No key to seal queued emails with: none configured for MongoDB, or the embedded
    /// store's key file cannot be read, made or parsed.
    #[error("no usable message key: {0}")]
    MessageKey(String),
    /// The mailer cannot be built: an unusable sender address or SMTP URL.
    #[error("cannot set up email delivery: {0}")]
    Mailer(String),
    /// The webhook HTTP client cannot be built.
    #[error("cannot set up webhook delivery: {0}")]
    Webhooks(String),
    /// The SMS gateway's client cannot be built.
    #[error("cannot set up SMS delivery: {0}")]
    Sms(String),
    /// The bootstrap admin token cannot be made or stored.
    #[error("cannot make the bootstrap admin token: {0}")]
    Bootstrap(#[source] Error),
    /// The data folder cannot be made, or made private to this user.
    #[error("cannot use the data folder {}: {source}", path.display())]
    DataDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The bootstrap token's file cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    BootstrapFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The listen address cannot be bound (in use, or not ours).
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: io::Error,
    },
}

impl From<StoreError> for StartupError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}
