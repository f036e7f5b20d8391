//! The mailer port: where the sender hands each queued message, its body opened. Adapters: SMTP and the `.eml`
//! outbox folder (`crate::email`), or whatever a host wants.

use std::fmt::Debug;

use async_trait::async_trait;

use crate::domain::{DeliveryFailure, OutgoingEmail};

/// Hands messages to a mail server (or anywhere else a host wants them).
#[async_trait]
pub trait Mailer: Send + Sync + Debug {
    /// Delivers one email. A [`DeliveryFailure`] says whether trying again may help.
    async fn send(&self, email: &OutgoingEmail) -> Result<(), DeliveryFailure>;

    /// How many messages the sender hands over at once.
    fn concurrency(&self) -> usize {
        1
    }
}
