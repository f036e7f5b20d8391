//! Wiring for the standalone server and CLI: the configured store, the built-in account
//! provisioner and the system clock. Hosts embedding the module wire their own.

use std::sync::Arc;

use crate::accounts::StoreProvisioner;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::error::Result;
use crate::service::{InvitationService, Settings};
use crate::store::mongo::MongoStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, StoreResult};

/// File name of the embedded store inside `data_dir`.
pub const SQLITE_FILE: &str = "invitations.sqlite3";

/// MongoDB when a URI is configured, else the embedded SQLite file under `data_dir`.
pub async fn open_store(config: &Config) -> StoreResult<Arc<dyn Store>> {
    Ok(match &config.mongodb {
        Some(mongo) => Arc::new(
            MongoStore::connect(mongo.uri.expose(), &mongo.database, config.retention).await?,
        ),
        None => Arc::new(SqliteStore::open(config.data_dir.join(SQLITE_FILE)).await?),
    })
}

/// The service as the standalone server runs it.
pub async fn service(config: &Config) -> Result<InvitationService> {
    let store = open_store(config).await?;
    let clock = Arc::new(SystemClock);
    let provisioner = Arc::new(StoreProvisioner::new(
        store.clone(),
        clock.clone(),
        config.existing_accounts,
    ));
    Ok(InvitationService::new(
        store,
        clock,
        provisioner,
        Settings::from_config(config)?,
    ))
}
