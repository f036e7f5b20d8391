//! Invitation links: the secret travels in the URL fragment, so it never reaches access logs
//! or Referer headers.

use url::Url;

use crate::domain::{Invitation, Secret};

/// The link for `invitation`: its allow-listed `redirectUrl`, else `accept_url`, with
/// `#secret=<secret>`.
pub fn invite_url(invitation: &Invitation, secret: &Secret, accept_url: &Url) -> Url {
    let mut url = invitation
        .details
        .redirect_url
        .as_ref()
        .map_or_else(|| accept_url.clone(), |r| r.as_url().clone());
    url.set_fragment(Some(&format!("secret={}", secret.expose())));
    url
}
