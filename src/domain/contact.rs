//! Whom an invitation is for and how it reaches them: by email or by text message.

use super::vocabulary::string_enum;
use super::{EmailAddress, PhoneNumber, ValidationError};

string_enum! {
    /// How an invitation reaches its invitee.
    pub enum Channel ("channel") {
        /// An email with the link (the default).
        Email = "EMAIL",
        /// A text message with the link.
        Sms = "SMS",
    }
}

/// The invitee's addresses, one of them the channel the invitation goes through. The other,
/// if given, is kept for the account the invitee gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    Email {
        email: EmailAddress,
        phone: Option<PhoneNumber>,
    },
    Sms {
        phone: PhoneNumber,
        email: Option<EmailAddress>,
    },
}

/// Where one message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    Email(EmailAddress),
    Phone(PhoneNumber),
}

impl Contact {
    /// The contact for `channel`, which needs its address: an email invitation an email, an
    /// SMS invitation a phone.
    pub fn new(
        channel: Channel,
        email: Option<EmailAddress>,
        phone: Option<PhoneNumber>,
    ) -> Result<Self, ValidationError> {
        match (channel, email, phone) {
            (Channel::Email, Some(email), phone) => Ok(Self::Email { email, phone }),
            (Channel::Sms, email, Some(phone)) => Ok(Self::Sms { phone, email }),
            (Channel::Email, None, _) => Err(ValidationError::new(
                "email",
                "an email invitation needs the invitee's email address",
            )),
            (Channel::Sms, _, None) => Err(ValidationError::new(
                "phone",
                "an SMS invitation needs the invitee's mobile number",
            )),
        }
    }

    /// An email invitation to `email`, with no phone.
    pub fn email_only(email: EmailAddress) -> Self {
        Self::Email { email, phone: None }
    }

    pub fn channel(&self) -> Channel {
        match self {
            Self::Email { .. } => Channel::Email,
            Self::Sms { .. } => Channel::Sms,
        }
    }

    pub fn email(&self) -> Option<&EmailAddress> {
        match self {
            Self::Email { email, .. } => Some(email),
            Self::Sms { email, .. } => email.as_ref(),
        }
    }

    pub fn phone(&self) -> Option<&PhoneNumber> {
        match self {
            Self::Email { phone, .. } => phone.as_ref(),
            Self::Sms { phone, .. } => Some(phone),
        }
    }

    /// Where the invitation message goes: the channel's address.
    pub fn recipient(&self) -> Recipient {
        match self {
            Self::Email { email, .. } => Recipient::Email(email.clone()),
            Self::Sms { phone, .. } => Recipient::Phone(phone.clone()),
        }
    }

    /// The address people recognize the invitee by, for lists and logs: the email if there is
    /// one, else the phone.
    pub fn display(&self) -> &str {
        self.email()
            .map(EmailAddress::as_str)
            .or_else(|| self.phone().map(PhoneNumber::as_str))
            .unwrap_or_default()
    }
}

impl Recipient {
    /// The address as stored and as a gateway takes it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Email(email) => email.as_str(),
            Self::Phone(phone) => phone.as_str(),
        }
    }

    pub fn channel(&self) -> Channel {
        match self {
            Self::Email(_) => Channel::Email,
            Self::Phone(_) => Channel::Sms,
        }
    }

    /// The recipient of `channel` at `address` as stored.
    pub fn from_stored(channel: Channel, address: &str) -> Option<Self> {
        match channel {
            Channel::Email => EmailAddress::parse(address).ok().map(Self::Email),
            Channel::Sms => PhoneNumber::from_stored(address).map(Self::Phone),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> EmailAddress {
        EmailAddress::parse("ana@example.org").unwrap()
    }

    fn phone() -> PhoneNumber {
        PhoneNumber::parse("+4915112345678").unwrap()
    }

    #[test]
    fn each_channel_needs_its_own_address() {
        let refused = Contact::new(Channel::Sms, Some(email()), None).unwrap_err();
        assert_eq!(refused.field(), "phone");
        let refused = Contact::new(Channel::Email, None, Some(phone())).unwrap_err();
        assert_eq!(refused.field(), "email");
        let sms = Contact::new(Channel::Sms, None, Some(phone())).unwrap();
        assert_eq!(sms.channel(), Channel::Sms);
        assert_eq!(sms.email(), None);
        assert_eq!(sms.recipient(), Recipient::Phone(phone()));
        assert_eq!(sms.display(), "+4915112345678");
        let both = Contact::new(Channel::Email, Some(email()), Some(phone())).unwrap();
        assert_eq!(both.recipient(), Recipient::Email(email()));
        assert_eq!(both.phone(), Some(&phone()));
        assert_eq!(both.display(), "ana@example.org");
    }

    #[test]
    fn a_stored_recipient_reads_back_by_its_channel() {
        for recipient in [Recipient::Email(email()), Recipient::Phone(phone())] {
            let read = Recipient::from_stored(recipient.channel(), recipient.as_str());
            assert_eq!(read, Some(recipient));
        }
        assert_eq!(
            Recipient::from_stored(Channel::Sms, "ana@example.org"),
            None
        );
    }
}
