//! Redirect URLs an invitation may carry, checked against a configured allow-list.

use url::Url;

use super::ValidationError;

/// One allow-list entry: an origin (`https://app.example.org`) and a path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedRedirect {
    origin: url::Origin,
    path_prefix: String,
}

impl AllowedRedirect {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let url = Url::parse(input.trim()).map_err(|_| {
            ValidationError::new(
                "redirectAllowList",
                format!("{input:?} is not an absolute URL"),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(ValidationError::new(
                "redirectAllowList",
                format!("{input:?} must be an http or https URL with a host"),
            ));
        }
        Ok(Self {
            origin: url.origin(),
            path_prefix: url.path().to_owned(),
        })
    }

    fn admits(&self, url: &Url) -> bool {
        url.origin() == self.origin && path_has_prefix(url.path(), &self.path_prefix)
    }
}

/// `/app/accept` is under `/app` and `/app/`, but `/application` is not under `/app`.
fn path_has_prefix(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    path == prefix || path.starts_with(&format!("{prefix}/")) || prefix.is_empty()
}

/// A redirect URL that matched the allow-list. Holds no fragment (the secret goes there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUrl(Url);

impl RedirectUrl {
    pub fn parse(input: &str, allow_list: &[AllowedRedirect]) -> Result<Self, ValidationError> {
        let invalid = |why: &str| Err(ValidationError::new("redirectUrl", why));
        let Ok(url) = Url::parse(input.trim()) else {
            return invalid("the redirect URL is not an absolute URL");
        };
        if !url.username().is_empty() || url.password().is_some() {
            return invalid("the redirect URL must not contain credentials");
        }
        if url.fragment().is_some() {
            return invalid("the redirect URL must not have a #fragment");
        }
        if !allow_list.iter().any(|allowed| allowed.admits(&url)) {
            return invalid("the redirect URL is not on the allow-list");
        }
        Ok(Self(url))
    }

    /// Rebuilds a URL read back from a store, which checked it on the way in.
    pub fn from_stored(input: &str) -> Option<Self> {
        Url::parse(input).ok().map(Self)
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow() -> Vec<AllowedRedirect> {
        vec![AllowedRedirect::parse("https://app.example.org/join").unwrap()]
    }

    #[test]
    fn urls_under_an_allowed_origin_and_path_pass() {
        assert!(RedirectUrl::parse("https://app.example.org/join", &allow()).is_ok());
        assert!(RedirectUrl::parse("https://app.example.org/join/team?x=1", &allow()).is_ok());
    }

    #[test]
    fn look_alike_urls_are_refused() {
        for bad in [
            "https://app.example.org.evil.test/join",
            "http://app.example.org/join",
            "https://app.example.org:8443/join",
            "https://app.example.org/joinery",
            "https://user:pw@app.example.org/join",
            "https://app.example.org/join#x",
            "javascript:alert(1)",
            "/join",
        ] {
            assert_eq!(
                RedirectUrl::parse(bad, &allow()).unwrap_err().field(),
                "redirectUrl",
                "{bad}"
            );
        }
    }

    #[test]
    fn an_empty_allow_list_refuses_everything() {
        assert!(RedirectUrl::parse("https://app.example.org/join", &[]).is_err());
    }
}
