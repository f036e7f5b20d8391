//! The SMS port: where the sender hands each queued text message, opened. Adapters: an HTTP
//! gateway speaking the Twilio Messages API and the `.sms` outbox folder (`crate::sms`), or
//! whatever a host wants.

use std::fmt::Debug;

use async_trait::async_trait;

use crate::domain::{DeliveryFailure, OutgoingSms};

/// Hands text messages to a gateway (or anywhere else a host wants them).
#[async_trait]
pub trait SmsSender: Send + Sync + Debug {
    /// Delivers one message. A [`DeliveryFailure`] says whether trying again may help; its
    /// reason is what editors read (the gateway's own words where it gave some).
    async fn send(&self, sms: &OutgoingSms) -> Result<(), DeliveryFailure>;

    /// How many messages the sender hands over at once.
    fn concurrency(&self) -> usize {
        1
    }
}
