//! MongoDB documents to and from [`InvitationRecord`]s and accounts.

use bson::spec::BinarySubtype;
use bson::{Binary, Bson, DateTime as BsonDateTime, Document, RawBsonRef, RawDocument, doc};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::ports::{Account, ApiTokenRecord, StoreError, StoreResult};
use crate::store::record::{EventRecord, InvitationRecord, MessageRecord, PendingEventRecord};

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

/// The distinct three-character pieces of `text` (in characters, not bytes), sorted: what the
/// `emailGrams` index holds, and what a search of three characters or more looks up.
pub(super) fn trigrams(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut grams: Vec<String> = chars.windows(3).map(|w| w.iter().collect()).collect();
    grams.sort_unstable();
    grams.dedup();
    grams
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

fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

fn insert_some(document: &mut Document, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        document.insert(key, value);
    }
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
    let pending_events: Vec<Bson> = r
        .pending_events
        .iter()
        .map(|event| bson::to_bson(event).unwrap_or(Bson::Null))
        .collect();
    let mut invited_by = doc! { "id": &r.invited_by_id, "name": &r.invited_by_name };
    if let Some(email) = &r.inviter_email {
        invited_by.insert("email", email);
    }
    let mut document = doc! {
        "_id": uuid(r.id),
        "channel": &r.channel,
        "name": opt_str(r.name.as_deref()),
        "role": &r.role,
        "groups": &r.groups,
        "metadata": metadata(&r.metadata),
        "locale": opt_str(r.locale.as_deref()),
        "scope": opt_str(r.scope.as_deref()),
        "redirectUrl": opt_str(r.redirect_url.as_deref()),
        "template": opt_str(r.template.as_deref()),
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
        "pendingEvents": pending_events,
        "revision": r.revision,
    };
    // An invitation without an email (an SMS one) keeps "" in the email fields: listings sort
    // and page by `emailNorm`, which needs the field in every document; the one-pending index
    // takes only non-empty ones. The phone is there only when there is one.
    document.insert("email", r.email.as_deref().unwrap_or_default());
    document.insert(
        "emailNorm",
        r.email_normalized.as_deref().unwrap_or_default(),
    );
    // The email's trigrams, for `emailContains` through an index (see `listing`).
    document.insert(
        "emailGrams",
        trigrams(r.email_normalized.as_deref().unwrap_or_default()),
    );
    insert_some(&mut document, "phone", r.phone.as_deref());
    // As with messages: only records with events to publish carry the field.
    if let Some(at) = r.next_event_at {
        document.insert("nextEventAt", time(at));
    }
    // Only records with queued messages carry the field, so its index holds only them.
    if let Some(at) = r.next_message_at {
        document.insert("nextMessageAt", time(at));
    }
    document
}

/// Typed access to a stored document, read in place from the bytes the server sent (no
/// intermediate `Document`); every failure is a `Corrupt` error naming the field.
struct Reader<'a> {
    /// The document's fields, walked once: looking each key up in the raw bytes would walk
    /// them again for every field.
    fields: Vec<(&'a str, RawBsonRef<'a>)>,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(doc: &'a RawDocument, what: &'static str) -> StoreResult<Self> {
        let fields = doc
            .iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| StoreError::Corrupt(format!("{what} document")))?;
        Ok(Self { fields, what })
    }

    fn fail(&self, key: &str) -> StoreError {
        StoreError::Corrupt(format!("{} field {key:?}", self.what))
    }

    /// The value under `key`; `None` when absent or null.
    fn value(&self, key: &str) -> StoreResult<Option<RawBsonRef<'a>>> {
        Ok(self
            .fields
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| *value)
            .filter(|value| !matches!(value, RawBsonRef::Null)))
    }

    fn required(&self, key: &str) -> StoreResult<RawBsonRef<'a>> {
        self.value(key)?.ok_or_else(|| self.fail(key))
    }

    fn str(&self, key: &str) -> StoreResult<String> {
        self.opt_str(key)?.ok_or_else(|| self.fail(key))
    }

    fn opt_str(&self, key: &str) -> StoreResult<Option<String>> {
        match self.value(key)? {
            None => Ok(None),
            Some(RawBsonRef::String(s)) => Ok(Some(s.to_owned())),
            Some(_) => Err(self.fail(key)),
        }
    }

    fn time(&self, key: &str) -> StoreResult<DateTime<Utc>> {
        self.opt_time(key)?.ok_or_else(|| self.fail(key))
    }

    fn opt_time(&self, key: &str) -> StoreResult<Option<DateTime<Utc>>> {
        match self.value(key)? {
            None => Ok(None),
            Some(RawBsonRef::DateTime(t)) => Ok(Some(t.to_chrono())),
            Some(_) => Err(self.fail(key)),
        }
    }

    fn int(&self, key: &str) -> StoreResult<i64> {
        match self.required(key)? {
            RawBsonRef::Int64(n) => Ok(n),
            RawBsonRef::Int32(n) => Ok(i64::from(n)),
            _ => Err(self.fail(key)),
        }
    }

    /// The items of the array under `key`, each read by `item` (`None` fails the field).
    fn array<T>(
        &self,
        key: &str,
        item: impl Fn(RawBsonRef<'a>) -> Option<T>,
    ) -> StoreResult<Vec<T>> {
        let RawBsonRef::Array(items) = self.required(key)? else {
            return Err(self.fail(key));
        };
        items
            .into_iter()
            .map(|value| value.ok().and_then(&item).ok_or_else(|| self.fail(key)))
            .collect()
    }

    fn strings(&self, key: &str) -> StoreResult<Vec<String>> {
        self.array(key, |value| match value {
            RawBsonRef::String(s) => Some(s.to_owned()),
            _ => None,
        })
    }

    /// The documents of the array under `key` (an absent array is empty).
    fn documents(&self, key: &str) -> StoreResult<Vec<&'a RawDocument>> {
        if self.value(key)?.is_none() {
            return Ok(Vec::new());
        }
        self.array(key, |value| match value {
            RawBsonRef::Document(d) => Some(d),
            _ => None,
        })
    }

    fn raw_document(&self, key: &str) -> StoreResult<&'a RawDocument> {
        match self.required(key)? {
            RawBsonRef::Document(doc) => Ok(doc),
            _ => Err(self.fail(key)),
        }
    }

    /// A reader for the sub-document under `key`; its failures name `what`.
    fn document(&self, key: &str, what: &'static str) -> StoreResult<Reader<'a>> {
        Reader::new(self.raw_document(key)?, what)
    }

    /// A sub-document deserialized with serde (metadata, queued messages), through a `Bson`
    /// value as it was written: the raw deserializer reads UUIDs and times in another form.
    fn deserialize<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
        doc: &RawDocument,
    ) -> StoreResult<T> {
        let document = Document::try_from(doc).map_err(|_| self.fail(key))?;
        bson::from_bson(Bson::Document(document)).map_err(|_| self.fail(key))
    }

    fn metadata(&self, key: &str) -> StoreResult<Map<String, Value>> {
        self.deserialize(key, self.raw_document(key)?)
    }

    fn binary(&self, key: &str, subtype: BinarySubtype) -> StoreResult<&'a [u8]> {
        match self.required(key)? {
            RawBsonRef::Binary(b) if b.subtype == subtype => Ok(b.bytes),
            _ => Err(self.fail(key)),
        }
    }

    fn uuid(&self, key: &str) -> StoreResult<uuid::Uuid> {
        uuid::Uuid::from_slice(self.binary(key, BinarySubtype::Uuid)?).map_err(|_| self.fail(key))
    }
}

pub(super) fn invitation_record(doc: &RawDocument) -> StoreResult<InvitationRecord> {
    let r = Reader::new(doc, "invitation")?;
    let invited_by = r.document("invitedBy", "invitation.invitedBy")?;
    let delivery = r.document("delivery", "invitation.delivery")?;
    let events = r
        .documents("events")?
        .into_iter()
        .map(|event| {
            let e = Reader::new(event, "invitation.events")?;
            Ok(EventRecord {
                kind: e.str("kind")?,
                at: e.time("at")?,
                by: e.str("by")?,
                actor_id: e.opt_str("actorId")?,
                actor_name: e.opt_str("actorName")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let outbox = r
        .documents("outbox")?
        .into_iter()
        .map(|item| r.deserialize::<MessageRecord>("outbox", item))
        .collect::<StoreResult<Vec<_>>>()?;
    // Records written before events existed have no such field.
    let pending_events = match r.value("pendingEvents")? {
        None => Vec::new(),
        Some(_) => r
            .documents("pendingEvents")?
            .into_iter()
            .map(|item| r.deserialize::<PendingEventRecord>("pendingEvents", item))
            .collect::<StoreResult<Vec<_>>>()?,
    };
    Ok(InvitationRecord {
        id: r.uuid("_id")?,
        // Written before SMS invitations: email ones.
        channel: r.opt_str("channel")?.unwrap_or_else(|| "EMAIL".to_owned()),
        email: non_empty(r.str("email")?),
        email_normalized: non_empty(r.str("emailNorm")?),
        phone: r.opt_str("phone")?,
        name: r.opt_str("name")?,
        role: r.str("role")?,
        groups: r.strings("groups")?,
        metadata: r.metadata("metadata")?,
        locale: r.opt_str("locale")?,
        scope: r.opt_str("scope")?,
        redirect_url: r.opt_str("redirectUrl")?,
        template: r.opt_str("template")?,
        invited_by_id: invited_by.str("id")?,
        invited_by_name: invited_by.str("name")?,
        inviter_email: invited_by.opt_str("email")?,
        secret_digest: r.binary("secretDigest", BinarySubtype::Generic)?.to_vec(),
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
        pending_events,
        next_event_at: r.opt_time("nextEventAt")?,
        revision: r.int("revision")?,
    })
}

pub(super) fn account_document(a: &Account) -> Document {
    let mut document = doc! {
        "_id": &a.id,
        "name": opt_str(a.name.as_deref()),
        "roles": &a.roles,
        "groups": &a.groups,
        "metadata": metadata(&a.metadata),
        "passwordHash": opt_str(a.password_hash.as_deref()),
        "createdAt": time(a.created_at),
        "updatedAt": time(a.updated_at),
    };
    insert_some(&mut document, "email", a.email.as_deref());
    insert_some(&mut document, "emailNorm", a.email_normalized.as_deref());
    insert_some(&mut document, "phone", a.phone.as_deref());
    document
}

pub(super) fn account(doc: &RawDocument) -> StoreResult<Account> {
    let r = Reader::new(doc, "account")?;
    Ok(Account {
        id: r.str("_id")?,
        email: r.opt_str("email")?,
        email_normalized: r.opt_str("emailNorm")?,
        phone: r.opt_str("phone")?,
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
        "expiresAt": t.expires_at.map(time),
        "revokedAt": t.revoked_at.map(time),
        "lastUsedAt": t.last_used_at.map(time),
        "scopes": &t.scopes,
    }
}

pub(super) fn token(doc: &RawDocument) -> StoreResult<ApiTokenRecord> {
    let r = Reader::new(doc, "API token")?;
    let digest = <[u8; 32]>::try_from(r.binary("digest", BinarySubtype::Generic)?)
        .map_err(|_| r.fail("digest"))?;
    Ok(ApiTokenRecord {
        id: r.str("_id")?,
        name: r.str("name")?,
        role: r.str("role")?,
        digest,
        created_at: r.time("createdAt")?,
        email: r.opt_str("email")?,
        expires_at: r.opt_time("expiresAt")?,
        revoked_at: r.opt_time("revokedAt")?,
        last_used_at: r.opt_time("lastUsedAt")?,
        // Tokens made before scopes existed have none.
        scopes: match r.value("scopes")? {
            None => Vec::new(),
            Some(_) => r.strings("scopes")?,
        },
    })
}
