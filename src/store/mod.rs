//! Persistence adapters for the [store port](crate::ports::InvitationStore): MongoDB for
//! production and embedded SQLite as the default. Both map the domain's invitation onto one
//! stored record ([`record`]) and share the listing vocabulary of the port.

pub mod mongo;
mod record;
pub mod sqlite;
mod template_record;
mod webhook_record;
