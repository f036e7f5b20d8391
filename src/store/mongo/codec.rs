//! MongoDB documents to and from [`InvitationRecord`]s and accounts.

use bson::spec::BinarySubtype;
use bson::{Binary, Bson, DateTime as BsonDateTime, Document, doc};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::store::record::{EventRecord, InvitationRecord, MessageRecord};
use crate::store::{Account, ApiTokenRecord, StoreError, StoreResult};

pub(super) fn time(t: DateTime<Utc>) -> Bson {
    Bson::DateTime(BsonDateTime::from_chrono(t))
}

fn opt_time(t: Option<DateTime<Utc>>) -> Bson {
    t.map_or(Bson::Null, time)
}

fn opt_str(s: Option<&str>) -> Bson {
    s.map_or(Bson::Null, |s| Bson::String(s.to_owned()))
}

pub(super) fn uuid(id: uuid::Uuid) -> Bson {
    Bson::from(id)
}

pub(super) fn digest(bytes: &[u8]) -> Bson {
    Bson::Binary(Binary {
        subtype: BinarySubtype::Generic,
        bytes: bytes.to_vec(),
    })
}

pub(super) fn metadata(map: &Map<String, Value>) -> Bson {
    bson::to_bson(map).unwrap_or_else(|_| Bson::Document(Document::new()))
}

pub(super) fn invitation_document(r: &InvitationRecord) -> Document {
    let events: Vec<Bson> = r
        .events
        .iter()
        .map(|e| {
            let mut event = doc! { "kind": &e.kind, "at": time(e.at), "by": &e.by };
            if let (Some(id), Some(name)) = (&e.actor_id, &e.actor_name) {
                event.insert("actorId", id);
                event.insert("actorName", name);
            }
            Bson::Document(event)
        })
        .collect();
    let outbox: Vec<Bson> = r
        .outbox
        .iter()
        .map(|message| bson::to_bson(message).unwrap_or(Bson::Null))
        .collect();
    let mut invited_by = doc! { "id": &r.invited_by_id, "name": &r.invited_by_name };
    if let Some(email) = &r.inviter_email {
        invited_by.insert("email", email);
    }
    let mut document = doc! {
        "_id": uuid(r.id),
        "email": &r.email,
        "emailNorm": &r.email_normalized,
        "name": opt_str(r.name.as_deref()),
        "role": &r.role,
        "groups": &r.groups,
        "metadata": metadata(&r.metadata),
        "locale": opt_str(r.locale.as_deref()),
        "scope": opt_str(r.scope.as_deref()),
        "redirectUrl": opt_str(r.redirect_url.as_deref()),
        "invitedBy": invited_by,
        "secretDigest": digest(&r.secret_digest),
        "state": &r.state,
        "createdAt": time(r.created_at),
        "updatedAt": time(r.updated_at),
        "expiresAt": time(r.expires_at),
        "acceptedAt": opt_time(r.accepted_at),
        "revokedAt": opt_time(r.revoked_at),
        "declinedAt": opt_time(r.declined_at),
        "finishedAt": opt_time(r.finished_at),
        "acceptedUserId": opt_str(r.accepted_user_id.as_deref()),
        "sendCount": r.send_count,
        "lastSentAt": opt_time(r.last_sent_at),
        "delivery": {
            "status": &r.delivery_status,
            "attempts": r.delivery_attempts,
            "lastError": opt_str(r.delivery_last_error.as_deref()),
            "lastAttemptAt": opt_time(r.delivery_last_attempt_at),
            "locale": opt_str(r.delivery_locale.as_deref()),
        },
        "outbox": outbox,
        "events": events,
        "revision": r.revision,
    };
    // Only records with queued messages carry the field, so its index holds only them.
    if let Some(at) = r.next_message_at {
        document.insert("nextMessageAt", time(at));
    }
    document
}

/// Typed access to a stored document; every failure is a `Corrupt` error naming the field.
struct Reader<'a> {
    doc: &'a Document,
    what: &'static str,
}

impl Reader<'_> {
    fn fail(&self, key: &str) -> StoreError {
        StoreError::Corrupt(format!("{} field {key:?}", self.what))
    }

    fn str(&self, key: &str) -> StoreResult<String> {
        self.doc
            .get_str(key)
            .map(str::to_owned)
            .map_err(|_| self.fail(key))
    }

    fn opt_str(&self, key: &str) -> StoreResult<Option<String>> {
        match self.doc.get(key) {
            None | Some(Bson::Null) => Ok(None),
            Some(Bson::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.fail(key)),
        }
    }

    fn time(&self, key: &str) -> StoreResult<DateTime<Utc>> {
        self.doc
            .get_datetime(key)
            .map(|t| t.to_chrono())
            .map_err(|_| self.fail(key))
    }

    fn opt_time(&self, key: &str) -> StoreResult<Option<DateTime<Utc>>> {
        match self.doc.get(key) {
            None | Some(Bson::Null) => Ok(None),
            Some(Bson::DateTime(t)) => Ok(Some(t.to_chrono())),
            Some(_) => Err(self.fail(key)),
        }
    }

    fn int(&self, key: &str) -> StoreResult<i64> {
        match self.doc.get(key) {
            Some(Bson::Int64(n)) => Ok(*n),
            Some(Bson::Int32(n)) => Ok(i64::from(*n)),
            _ => Err(self.fail(key)),
        }
    }

    fn strings(&self, key: &str) -> StoreResult<Vec<String>> {
        let items = self.doc.get_array(key).map_err(|_| self.fail(key))?;
        items
            .iter()
            .map(|b| b.as_str().map(str::to_owned).ok_or_else(|| self.fail(key)))
            .collect()
    }

    fn document(&self, key: &str) -> StoreResult<&Document> {
        self.doc.get_document(key).map_err(|_| self.fail(key))
    }

    fn metadata(&self, key: &str) -> StoreResult<Map<String, Value>> {
        let document = self.document(key)?.clone();
        bson::from_bson(Bson::Document(document)).map_err(|_| self.fail(key))
    }

    fn uuid(&self, key: &str) -> StoreResult<uuid::Uuid> {
        match self.doc.get(key) {
            Some(Bson::Binary(b)) if b.subtype == BinarySubtype::Uuid => {
                uuid::Uuid::from_slice(&b.bytes).map_err(|_| self.fail(key))
            }
            _ => Err(self.fail(key)),
        }
    }
}

pub(super) fn invitation_record(doc: &Document) -> StoreResult<InvitationRecord> {
    let r = Reader {
        doc,
        what: "invitation",
    };
    let invited_by = Reader {
        doc: r.document("invitedBy")?,
        what: "invitation.invitedBy",
    };
    let delivery = Reader {
        doc: r.document("delivery")?,
        what: "invitation.delivery",
    };
    let events = doc
        .get_array("events")
        .map_err(|_| r.fail("events"))?
        .iter()
        .map(|event| {
            let event = event.as_document().ok_or_else(|| r.fail("events"))?;
            let e = Reader {
                doc: event,
                what: "invitation.events",
            };
            Ok(EventRecord {
                kind: e.str("kind")?,
                at: e.time("at")?,
                by: e.str("by")?,
                actor_id: e.opt_str("actorId")?,
                actor_name: e.opt_str("actorName")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let outbox = match doc.get("outbox") {
        None => Vec::new(),
        Some(Bson::Array(items)) => items
            .iter()
            .map(|item| {
                bson::from_bson::<MessageRecord>(item.clone()).map_err(|_| r.fail("outbox"))
            })
            .collect::<StoreResult<Vec<_>>>()?,
        Some(_) => return Err(r.fail("outbox")),
    };
    Ok(InvitationRecord {
        id: r.uuid("_id")?,
        email: r.str("email")?,
        email_normalized: r.str("emailNorm")?,
        name: r.opt_str("name")?,
        role: r.str("role")?,
        groups: r.strings("groups")?,
        metadata: r.metadata("metadata")?,
        locale: r.opt_str("locale")?,
        scope: r.opt_str("scope")?,
        redirect_url: r.opt_str("redirectUrl")?,
        invited_by_id: invited_by.str("id")?,
        invited_by_name: invited_by.str("name")?,
        inviter_email: invited_by.opt_str("email")?,
        secret_digest: doc
            .get_binary_generic("secretDigest")
            .map_err(|_| r.fail("secretDigest"))?
            .clone(),
        state: r.str("state")?,
        created_at: r.time("createdAt")?,
        updated_at: r.time("updatedAt")?,
        expires_at: r.time("expiresAt")?,
        accepted_at: r.opt_time("acceptedAt")?,
        revoked_at: r.opt_time("revokedAt")?,
        declined_at: r.opt_time("declinedAt")?,
        finished_at: r.opt_time("finishedAt")?,
        accepted_user_id: r.opt_str("acceptedUserId")?,
        send_count: r.int("sendCount")?,
        last_sent_at: r.opt_time("lastSentAt")?,
        delivery_status: delivery.str("status")?,
        delivery_attempts: delivery.int("attempts")?,
        delivery_last_error: delivery.opt_str("lastError")?,
        delivery_last_attempt_at: delivery.opt_time("lastAttemptAt")?,
        delivery_locale: delivery.opt_str("locale")?,
        next_message_at: r.opt_time("nextMessageAt")?,
        outbox,
        events,
        revision: r.int("revision")?,
    })
}

pub(super) fn account_document(a: &Account) -> Document {
    doc! {
        "_id": &a.id,
        "email": &a.email,
        "emailNorm": &a.email_normalized,
        "name": opt_str(a.name.as_deref()),
        "roles": &a.roles,
        "groups": &a.groups,
        "metadata": metadata(&a.metadata),
        "passwordHash": opt_str(a.password_hash.as_deref()),
        "createdAt": time(a.created_at),
        "updatedAt": time(a.updated_at),
    }
}

pub(super) fn account(doc: &Document) -> StoreResult<Account> {
    let r = Reader {
        doc,
        what: "account",
    };
    Ok(Account {
        id: r.str("_id")?,
        email: r.str("email")?,
        email_normalized: r.str("emailNorm")?,
        name: r.opt_str("name")?,
        roles: r.strings("roles")?,
        groups: r.strings("groups")?,
        metadata: r.metadata("metadata")?,
        password_hash: r.opt_str("passwordHash")?,
        created_at: r.time("createdAt")?,
        updated_at: r.time("updatedAt")?,
    })
}

pub(super) fn token_document(t: &ApiTokenRecord) -> Document {
    doc! {
        "_id": &t.id,
        "name": &t.name,
        "role": &t.role,
        "digest": digest(&t.digest),
        "createdAt": time(t.created_at),
        "email": opt_str(t.email.as_deref()),
    }
}

pub(super) fn token(doc: &Document) -> StoreResult<ApiTokenRecord> {
    let r = Reader {
        doc,
        what: "API token",
    };
    let digest = doc
        .get_binary_generic("digest")
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
        .ok_or_else(|| r.fail("digest"))?;
    Ok(ApiTokenRecord {
        id: r.str("_id")?,
        name: r.str("name")?,
        role: r.str("role")?,
        digest,
        created_at: r.time("createdAt")?,
        email: r.opt_str("email")?,
    })
}
