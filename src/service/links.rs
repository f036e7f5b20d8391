//! Invitation links: the secret travels in the URL fragment, so it never reaches access logs
//! or Referer headers.

use url::Url;

use crate::domain::{Invitation, Secret};

/// The link for `invitation`: [`link_base`] with `#secret=<secret>`.
pub fn invite_url(invitation: &Invitation, secret: &Secret, accept_url: &Url) -> Url {
    let mut url = link_base(invitation, accept_url);
    url.set_fragment(Some(&format!("secret={}", secret.expose())));
    url
}

/// Where `invitation`'s link points: its allow-listed `redirectUrl`, else `accept_url`.
pub(super) fn link_base(invitation: &Invitation, accept_url: &Url) -> Url {
    invitation
        .details
        .redirect_url
        .as_ref()
        .map_or_else(|| accept_url.clone(), |r| r.as_url().clone())
}
