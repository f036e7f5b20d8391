//! Roles: which roles invitees may be given, and what each editor role may do.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

/// What a principal holding one role may do.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolePermissions {
    /// May list and read invitations.
    #[serde(default)]
    pub read: bool,
    /// The roles it may grant; a role that may grant any role may also create, resend and
    /// revoke invitations.
    #[serde(default)]
    pub grants: BTreeSet<String>,
    /// May manage webhook endpoints (which receive every invitation's data).
    #[serde(default)]
    pub webhooks: bool,
    /// The groups it may put invitees in; unset: any group.
    #[serde(default)]
    pub groups: Option<BTreeSet<String>>,
    /// May delete invitations and erase everything about an invitee (`deleteInvitation`,
    /// `eraseInvitee`).
    #[serde(default)]
    pub erase: bool,
    /// May edit, revert and delete the stored email templates (`saveEmailTemplate` and the
    /// rest). Everyone who may read may list and preview them.
    #[serde(default)]
    pub templates: bool,
}

/// The configured roles. The defaults: `admin` may grant every role, `editor` may grant
/// `author` and `viewer`, `author` and `viewer` invite nobody, and all four may read;
/// `designer` edits the email templates (as `admin` may), reads no invitation and invites
/// nobody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolePolicy {
    invitee_roles: Vec<String>,
    principals: BTreeMap<String, RolePermissions>,
    /// Display names by role, then locale (`de`, `pt-BR`).
    names: BTreeMap<String, BTreeMap<String, String>>,
}

/// The names people read for the default roles, in the shipped locales.
const DEFAULT_NAMES: &[(&str, [(&str, &str); 3])] = &[
    (
        "admin",
        [
            ("en", "Administrator"),
            ("de", "Administrator"),
            ("fr", "Administrateur"),
        ],
    ),
    (
        "editor",
        [("en", "Editor"), ("de", "Redakteur"), ("fr", "Éditeur")],
    ),
    (
        "author",
        [("en", "Author"), ("de", "Autor"), ("fr", "Auteur")],
    ),
    (
        "viewer",
        [("en", "Viewer"), ("de", "Leser"), ("fr", "Lecteur")],
    ),
    (
        "designer",
        [
            ("en", "Template designer"),
            ("de", "Vorlagengestalter"),
            ("fr", "Concepteur de modèles"),
        ],
    ),
];

/// Longest display name of a role.
const MAX_NAME_CHARS: usize = 64;

/// The shipped names of those of `invitee_roles` that are default roles.
fn default_names(invitee_roles: &[String]) -> BTreeMap<String, BTreeMap<String, String>> {
    DEFAULT_NAMES
        .iter()
        .filter(|(role, _)| invitee_roles.iter().any(|r| r == role))
        .map(|(role, names)| {
            let names = names
                .iter()
                .map(|(locale, name)| ((*locale).to_owned(), (*name).to_owned()))
                .collect();
            ((*role).to_owned(), names)
        })
        .collect()
}

impl RolePolicy {
    /// Checks that every granted role is an invitee role and that nobody grants a role whose
    /// own grants exceed theirs ("nobody grants above their own level").
    pub fn new(
        invitee_roles: Vec<String>,
        principals: BTreeMap<String, RolePermissions>,
    ) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        if invitee_roles.is_empty() {
            problems.push("roles.invitee: at least one invitee role is needed".to_owned());
        }
        for (role, permissions) in &principals {
            for group in permissions.groups.iter().flatten() {
                if let Err(err) = crate::domain::GroupName::parse(group) {
                    problems.push(format!(
                        "roles.principals.{role}.groups: {group:?} {}",
                        err.message()
                    ));
                }
            }
            for granted in &permissions.grants {
                if !invitee_roles.contains(granted) {
                    problems.push(format!(
                        "roles.principals.{role}.grants: {granted:?} is not in roles.invitee"
                    ));
                }
                if let Some(granted_permissions) = principals.get(granted)
                    && !granted_permissions.grants.is_subset(&permissions.grants)
                {
                    problems.push(format!(
                        "roles.principals.{role}.grants: {granted:?} may grant roles that {role:?} may not"
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(Self {
                names: default_names(&invitee_roles),
                invitee_roles,
                principals,
            })
        } else {
            Err(problems)
        }
    }

    /// The display names of `[roles.names.ROLE]` (locale = name) over the defaults.
    pub fn with_names(
        mut self,
        names: BTreeMap<String, BTreeMap<String, String>>,
    ) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        for (role, by_locale) in names {
            if !self.invitee_roles.contains(&role) {
                problems.push(format!(
                    "roles.names.{role}: {role:?} is not in roles.invitee"
                ));
                continue;
            }
            for (locale, name) in by_locale {
                let name = name.trim().to_owned();
                if crate::domain::Locale::parse(&locale).is_err() {
                    problems.push(format!(
                        "roles.names.{role}: {locale:?} is not a BCP 47 locale"
                    ));
                } else if name.is_empty()
                    || name.chars().count() > MAX_NAME_CHARS
                    || name.chars().any(char::is_control)
                {
                    problems.push(format!(
                        "roles.names.{role}.{locale}: use 1 to {MAX_NAME_CHARS} printable characters"
                    ));
                } else {
                    self.names
                        .entry(role.clone())
                        .or_default()
                        .insert(locale, name);
                }
            }
        }
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(problems)
        }
    }

    /// What people read for `role` in `locale`: its name in that locale, else in its
    /// language, else in English, else the identifier itself.
    pub fn display_name<'a>(&'a self, role: &'a str, locale: &str) -> &'a str {
        let Some(names) = self.names.get(role) else {
            return role;
        };
        let language = locale.split('-').next().unwrap_or(locale);
        [locale, language, "en"]
            .into_iter()
            .find_map(|tag| {
                names
                    .iter()
                    .find(|(l, _)| l.eq_ignore_ascii_case(tag))
                    .map(|(_, name)| name.as_str())
            })
            .unwrap_or(role)
    }

    pub fn invitee_roles(&self) -> &[String] {
        &self.invitee_roles
    }

    pub fn permissions(&self, role: &str) -> Option<&RolePermissions> {
        self.principals.get(role)
    }

    pub fn principal_roles(&self) -> impl Iterator<Item = &str> {
        self.principals.keys().map(String::as_str)
    }
}

impl Default for RolePolicy {
    fn default() -> Self {
        let all: BTreeSet<String> = ["admin", "editor", "author", "viewer", "designer"]
            .map(String::from)
            .into();
        let grants = |roles: &[&str]| roles.iter().map(|r| (*r).to_owned()).collect();
        let principals = BTreeMap::from([
            (
                "admin".to_owned(),
                RolePermissions {
                    read: true,
                    grants: all.clone(),
                    webhooks: true,
                    groups: None,
                    erase: true,
                    templates: true,
                },
            ),
            (
                "editor".to_owned(),
                RolePermissions {
                    read: true,
                    grants: grants(&["author", "viewer"]),
                    webhooks: false,
                    groups: None,
                    erase: false,
                    templates: false,
                },
            ),
            (
                "author".to_owned(),
                RolePermissions {
                    read: true,
                    grants: BTreeSet::new(),
                    webhooks: false,
                    groups: None,
                    erase: false,
                    templates: false,
                },
            ),
            (
                "viewer".to_owned(),
                RolePermissions {
                    read: true,
                    grants: BTreeSet::new(),
                    webhooks: false,
                    groups: None,
                    erase: false,
                    templates: false,
                },
            ),
            (
                "designer".to_owned(),
                RolePermissions {
                    read: false,
                    grants: BTreeSet::new(),
                    webhooks: false,
                    groups: None,
                    erase: false,
                    templates: true,
                },
            ),
        ]);
        let invitee_roles: Vec<String> = all.into_iter().collect();
        Self {
            names: default_names(&invitee_roles),
            invitee_roles,
            principals,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_is_valid_and_ranked() {
        let policy = RolePolicy::default();
        let valid = RolePolicy::new(policy.invitee_roles.clone(), policy.principals.clone());
        assert_eq!(valid, Ok(policy.clone()));
        assert!(
            policy
                .permissions("editor")
                .unwrap()
                .grants
                .contains("author")
        );
        assert!(
            !policy
                .permissions("editor")
                .unwrap()
                .grants
                .contains("admin")
        );
        assert!(policy.permissions("viewer").unwrap().read);
        let designer = policy.permissions("designer").unwrap();
        assert!(designer.templates && !designer.read && designer.grants.is_empty());
        assert!(policy.permissions("admin").unwrap().templates);
        assert!(!policy.permissions("editor").unwrap().templates);
    }

    #[test]
    fn roles_have_names_people_can_read_in_each_locale() {
        let policy = RolePolicy::default();
        assert_eq!(policy.display_name("author", "de-AT"), "Autor");
        assert_eq!(policy.display_name("viewer", "fr"), "Lecteur");
        assert_eq!(
            policy.display_name("editor", "pt-BR"),
            "Editor",
            "English next"
        );
        let named = policy
            .clone()
            .with_names(BTreeMap::from([(
                "author".to_owned(),
                BTreeMap::from([("pt-BR".to_owned(), " Autor(a) ".to_owned())]),
            )]))
            .unwrap();
        assert_eq!(named.display_name("author", "pt-BR"), "Autor(a)");
        assert_eq!(named.display_name("author", "de"), "Autor", "defaults stay");
        let wrong = policy.with_names(BTreeMap::from([(
            "boss".to_owned(),
            BTreeMap::from([("en".to_owned(), "Boss".to_owned())]),
        )]));
        assert!(wrong.unwrap_err()[0].contains("roles.names.boss"));
    }

    #[test]
    fn granting_a_role_that_outranks_the_granter_is_a_configuration_error() {
        let principals = BTreeMap::from([
            (
                "lead".to_owned(),
                RolePermissions {
                    read: true,
                    grants: ["boss".to_owned()].into(),
                    webhooks: false,
                    groups: None,
                    erase: false,
                    templates: false,
                },
            ),
            (
                "boss".to_owned(),
                RolePermissions {
                    read: true,
                    grants: ["boss".to_owned(), "lead".to_owned()].into(),
                    webhooks: false,
                    groups: None,
                    erase: false,
                    templates: false,
                },
            ),
        ]);
        let problems = RolePolicy::new(vec!["boss".into(), "lead".into()], principals).unwrap_err();
        assert!(
            problems.iter().any(|p| p.contains("roles.principals.lead")),
            "{problems:?}"
        );
    }
}
