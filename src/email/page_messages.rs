//! The words of the invitee's page (`/accept`), per locale: `email-templates/<locale>/accept.json`
//! beside the email templates, a flat object of message keys to texts with `{name}`
//! placeholders. Built in for en, de and fr; a file `<locale>/accept.json` in the template
//! override folder replaces a locale's messages or adds a locale, without a rebuild. The page
//! asks for the invitation's locale and gets the same chain as emails: the tag, its language,
//! the default.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::templates::TemplateProblem;

/// The file each locale's messages live in.
pub const FILE_NAME: &str = "accept.json";

/// The locale every other must match key for key.
const REFERENCE: &str = "en";

const BUILTIN: &[(&str, &str)] = &[
    (
        "en",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/email-templates/en/accept.json"
        )),
    ),
    (
        "de",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/email-templates/de/accept.json"
        )),
    ),
    (
        "fr",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/email-templates/fr/accept.json"
        )),
    ),
];

type Messages = BTreeMap<String, String>;

/// One locale's messages and the file they came from.
#[derive(Debug, Clone)]
struct Catalog {
    file: String,
    messages: Arc<Messages>,
}

#[derive(Debug, Clone, Default)]
struct Loaded {
    catalogs: BTreeMap<String, Catalog>,
    problems: Vec<TemplateProblem>,
}

/// The invitee page's messages, ready to serve. Cheap to share.
#[derive(Debug, Clone)]
pub struct PageMessages {
    override_dir: Option<PathBuf>,
    reload: bool,
    loaded: Arc<Loaded>,
}

impl PageMessages {
    /// The built-in messages, replaced per locale by `<locale>/accept.json` under
    /// `override_dir`. With `reload`, the folder is read again on every request (for
    /// template authors). A file that does not parse is a problem [`Self::check`] reports;
    /// meanwhile its locale keeps the built-in messages, if any.
    pub fn load(override_dir: Option<&Path>, reload: bool) -> Self {
        Self {
            override_dir: override_dir.map(Path::to_path_buf),
            reload,
            loaded: Arc::new(load(override_dir)),
        }
    }

    fn current(&self) -> Arc<Loaded> {
        if self.reload {
            Arc::new(load(self.override_dir.as_deref()))
        } else {
            Arc::clone(&self.loaded)
        }
    }

    /// The locales that have messages.
    pub fn locales(&self) -> Vec<String> {
        self.current().catalogs.keys().cloned().collect()
    }

    /// The messages for the first of `preferences` that has them, trying each tag and then
    /// its language; else `fallback`'s, else English. Returns the locale chosen with them.
    pub fn choose<'a>(
        &self,
        preferences: impl IntoIterator<Item = &'a str>,
        fallback: &str,
    ) -> (String, Arc<Messages>) {
        let loaded = self.current();
        let find = |tag: &str| {
            loaded
                .catalogs
                .iter()
                .find(|(locale, _)| locale.eq_ignore_ascii_case(tag))
                .map(|(locale, catalog)| (locale.clone(), Arc::clone(&catalog.messages)))
        };
        for tag in preferences {
            let tag = tag.trim();
            let language = tag.split('-').next().unwrap_or(tag);
            if let Some(found) = find(tag).or_else(|| find(language)) {
                return found;
            }
        }
        find(fallback)
            .or_else(|| find(REFERENCE))
            .unwrap_or_else(|| (REFERENCE.to_owned(), Arc::new(Messages::new())))
    }

    /// Every problem a translator should fix: a locale with email templates (`email_locales`)
    /// but no page messages, a file that does not parse, a key missing from a locale or
    /// unknown to English, a text whose `{placeholders}` differ from English's.
    pub fn check(&self, email_locales: &[String]) -> Vec<TemplateProblem> {
        let loaded = self.current();
        let mut problems = loaded.problems.clone();
        for locale in email_locales {
            if !loaded.catalogs.contains_key(locale) {
                problems.push(TemplateProblem {
                    file: format!("email-templates/{locale}/{FILE_NAME}"),
                    line: None,
                    message: format!(
                        "missing: locale {locale} has emails but no accept page messages"
                    ),
                });
            }
        }
        let Some(reference) = loaded.catalogs.get(REFERENCE) else {
            problems.push(TemplateProblem {
                file: format!("email-templates/{REFERENCE}/{FILE_NAME}"),
                line: None,
                message: "missing: the English page messages every locale is checked against"
                    .into(),
            });
            return problems;
        };
        for (locale, catalog) in &loaded.catalogs {
            let problem = |message: String| TemplateProblem {
                file: catalog.file.clone(),
                line: None,
                message,
            };
            for (key, text) in reference.messages.iter() {
                match catalog.messages.get(key) {
                    None => problems.push(problem(format!(
                        "missing: locale {locale} has no message {key:?}"
                    ))),
                    Some(translated) => {
                        let (want, have) = (placeholders(text), placeholders(translated));
                        if want != have {
                            problems.push(problem(format!(
                                "message {key:?} uses {} where English uses {}",
                                list(&have),
                                list(&want)
                            )));
                        }
                    }
                }
            }
            for key in catalog.messages.keys() {
                if !reference.messages.contains_key(key) {
                    problems.push(problem(format!(
                        "unknown message {key:?} (not in the English file)"
                    )));
                }
            }
        }
        problems
    }
}

/// The `{name}` placeholders of `text`.
fn placeholders(text: &str) -> BTreeSet<&str> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        found.insert(&after[..close]);
        rest = &after[close + 1..];
    }
    found
}

fn list(names: &BTreeSet<&str>) -> String {
    if names.is_empty() {
        "no placeholder".to_owned()
    } else {
        names
            .iter()
            .map(|n| format!("{{{n}}}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn parse(text: &str, file: &str) -> Result<Messages, TemplateProblem> {
    serde_json::from_str::<Messages>(text).map_err(|err| TemplateProblem {
        file: file.to_owned(),
        line: Some(err.line()),
        message: format!("not a JSON object of message texts: {err}"),
    })
}

fn load(override_dir: Option<&Path>) -> Loaded {
    let mut loaded = Loaded::default();
    for (locale, text) in BUILTIN {
        let file = format!("email-templates/{locale}/{FILE_NAME}");
        match parse(text, &file) {
            Ok(messages) => {
                loaded.catalogs.insert(
                    (*locale).to_owned(),
                    Catalog {
                        file,
                        messages: Arc::new(messages),
                    },
                );
            }
            Err(problem) => loaded.problems.push(problem),
        }
    }
    let Some(dir) = override_dir else {
        return loaded;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return loaded;
    };
    for entry in entries.flatten() {
        let path = entry.path().join(FILE_NAME);
        let Some(locale) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if locale == "partials" || !path.is_file() {
            continue;
        }
        let file = path.display().to_string();
        match std::fs::read_to_string(&path)
            .map_err(|err| TemplateProblem {
                file: file.clone(),
                line: None,
                message: format!("cannot read: {err}"),
            })
            .and_then(|text| parse(&text, &file))
        {
            Ok(messages) => {
                loaded.catalogs.insert(
                    locale,
                    Catalog {
                        file,
                        messages: Arc::new(messages),
                    },
                );
            }
            Err(problem) => loaded.problems.push(problem),
        }
    }
    loaded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_messages_are_complete_and_consistent() {
        let messages = PageMessages::load(None, false);
        assert_eq!(messages.check(&messages.locales()), Vec::new());
        assert_eq!(messages.locales(), ["de", "en", "fr"]);
        // Every file on disk is compiled in.
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/email-templates");
        let mut on_disk: Vec<String> = std::fs::read_dir(root)
            .unwrap()
            .flatten()
            .filter(|dir| dir.path().join(FILE_NAME).is_file())
            .map(|dir| dir.file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        assert_eq!(on_disk, messages.locales());
    }

    #[test]
    fn a_locale_is_chosen_by_tag_then_language_then_the_default() {
        let messages = PageMessages::load(None, false);
        assert_eq!(messages.choose(["de-AT"], "en").0, "de");
        assert_eq!(messages.choose(["pt-BR", "fr-CA"], "en").0, "fr");
        assert_eq!(messages.choose(["pt"], "de").0, "de");
        assert_eq!(messages.choose([], "xx").0, "en");
        let (_, german) = messages.choose(["de"], "en");
        assert_eq!(german["button.accept"], "Einladung annehmen");
    }

    #[test]
    fn with_reload_a_changed_file_is_read_on_the_next_request() {
        let dir = std::env::temp_dir().join(format!("cmsi-pages-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(dir.join("de")).unwrap();
        let write = |text: &str| {
            let body = format!(r#"{{ "button.accept": "{text}" }}"#);
            std::fs::write(dir.join("de").join(FILE_NAME), body).unwrap();
        };
        write("Annehmen");
        let reloading = PageMessages::load(Some(&dir), true);
        let fixed = PageMessages::load(Some(&dir), false);
        write("Jetzt annehmen");
        assert_eq!(
            reloading.choose(["de"], "en").1["button.accept"],
            "Jetzt annehmen"
        );
        assert_eq!(fixed.choose(["de"], "en").1["button.accept"], "Annehmen");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_translation_with_a_missing_key_or_other_placeholders_is_reported() {
        let dir = std::env::temp_dir().join(format!("cmsi-pages-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(dir.join("nl")).unwrap();
        std::fs::write(
            dir.join("nl").join(FILE_NAME),
            r#"{ "invited": "{inviteur} heeft u uitgenodigd", "extra": "x" }"#,
        )
        .unwrap();
        std::fs::create_dir_all(dir.join("it")).unwrap();
        std::fs::write(dir.join("it").join(FILE_NAME), "{ not json").unwrap();
        let messages = PageMessages::load(Some(&dir), false);
        let problems: Vec<String> = messages
            .check(&["sv".to_owned()])
            .iter()
            .map(ToString::to_string)
            .collect();
        let has = |part: &str| problems.iter().any(|p| p.contains(part));
        assert!(
            has("locale nl has no message \"button.accept\""),
            "{problems:#?}"
        );
        assert!(
            has("\"invited\" uses {inviteur} where English uses {inviter}"),
            "{problems:#?}"
        );
        assert!(has("unknown message \"extra\""), "{problems:#?}");
        assert!(has("it/accept.json:1: not a JSON object"), "{problems:#?}");
        assert!(
            has("sv/accept.json: missing: locale sv has emails"),
            "{problems:#?}"
        );
        assert_eq!(messages.choose(["nl"], "en").0, "nl");
        let _ = std::fs::remove_dir_all(dir);
    }
}
