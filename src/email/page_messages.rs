//! The words of the pages people read in a browser, per locale, beside the email templates:
//! `email-templates/<locale>/accept.json` for the invitee's page (`/accept`) and
//! `<locale>/admin.json` for the editors' UI (`/admin`). Each is a flat object of message keys
//! to texts with `{name}` placeholders. Built in for en, de and fr; a file of the same name in
//! the template override folder replaces a locale's messages or adds a locale, without a
//! rebuild. A page asks with the languages it wants and gets the same chain as emails: each
//! tag, its language, the default.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::templates::TemplateProblem;

/// A page whose words live in message files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Page {
    /// The invitee's page: every locale with emails must translate it, since its link comes
    /// from an email in that language.
    Accept,
    /// The editors' UI: a locale may have it or not; the editor's browser picks among those
    /// that do.
    Admin,
}

impl Page {
    pub const ALL: [Page; 2] = [Page::Accept, Page::Admin];

    /// The file each locale's messages for this page live in.
    pub const fn file_name(self) -> &'static str {
        match self {
            Page::Accept => "accept.json",
            Page::Admin => "admin.json",
        }
    }

    /// What the page is, for a translator reading a problem.
    const fn described(self) -> &'static str {
        match self {
            Page::Accept => "accept page messages",
            Page::Admin => "admin UI messages",
        }
    }

    fn builtin(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Page::Accept => ACCEPT_BUILTIN,
            Page::Admin => ADMIN_BUILTIN,
        }
    }
}

/// The locale every other must match key for key.
const REFERENCE: &str = "en";

macro_rules! shipped {
    ($file:literal: $($locale:literal),+) => {
        &[$((
            $locale,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/email-templates/", $locale, "/", $file)),
        )),+]
    };
}

const ACCEPT_BUILTIN: &[(&str, &str)] = shipped!("accept.json": "en", "de", "fr");
const ADMIN_BUILTIN: &[(&str, &str)] = shipped!("admin.json": "en", "de", "fr");

type Messages = BTreeMap<String, String>;

/// One locale's messages and the file they came from.
#[derive(Debug, Clone)]
struct Catalog {
    file: String,
    messages: Arc<Messages>,
}

#[derive(Debug, Clone, Default)]
struct Loaded {
    /// Per page, per locale.
    catalogs: BTreeMap<Page, BTreeMap<String, Catalog>>,
    problems: Vec<TemplateProblem>,
}

impl Loaded {
    fn catalogs(&self, page: Page) -> impl Iterator<Item = (&String, &Catalog)> {
        self.catalogs.get(&page).into_iter().flatten()
    }
}

/// The pages' messages, ready to serve. Cheap to share.
#[derive(Debug, Clone)]
pub struct PageMessages {
    override_dir: Option<PathBuf>,
    reload: bool,
    loaded: Arc<Loaded>,
}

impl PageMessages {
    /// The built-in messages, replaced per page and locale by the files under
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

    /// The locales that have messages for `page`.
    pub fn locales(&self, page: Page) -> Vec<String> {
        self.current()
            .catalogs(page)
            .map(|(locale, _)| locale.clone())
            .collect()
    }

    /// `page`'s messages for the first of `preferences` that has them, trying each tag and
    /// then its language; else `fallback`'s, else English. Returns the locale chosen with them.
    pub fn choose<'a>(
        &self,
        page: Page,
        preferences: impl IntoIterator<Item = &'a str>,
        fallback: &str,
    ) -> (String, Arc<Messages>) {
        let loaded = self.current();
        let find = |tag: &str| {
            loaded
                .catalogs(page)
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
    /// but no invitee page messages, a file that does not parse, a key missing from a locale
    /// or unknown to English, a text whose `{placeholders}` differ from English's.
    pub fn check(&self, email_locales: &[String]) -> Vec<TemplateProblem> {
        let loaded = self.current();
        let mut problems = loaded.problems.clone();
        for locale in email_locales {
            if !loaded
                .catalogs(Page::Accept)
                .any(|(have, _)| have == locale)
            {
                problems.push(TemplateProblem {
                    file: format!("email-templates/{locale}/{}", Page::Accept.file_name()),
                    line: None,
                    column: None,
                    message: format!(
                        "missing: locale {locale} has emails but no {}",
                        Page::Accept.described()
                    ),
                });
            }
        }
        for page in Page::ALL {
            problems.extend(check_page(&loaded, page));
        }
        problems
    }
}

/// `page`'s problems: each locale's keys and placeholders against English's.
fn check_page(loaded: &Loaded, page: Page) -> Vec<TemplateProblem> {
    let mut problems = Vec::new();
    let Some((_, reference)) = loaded
        .catalogs(page)
        .find(|(locale, _)| *locale == REFERENCE)
    else {
        problems.push(TemplateProblem {
            file: format!("email-templates/{REFERENCE}/{}", page.file_name()),
            line: None,
            column: None,
            message: format!(
                "missing: the English {} every locale is checked against",
                page.described()
            ),
        });
        return problems;
    };
    for (locale, catalog) in loaded.catalogs(page) {
        let problem = |message: String| TemplateProblem {
            file: catalog.file.clone(),
            line: None,
            column: None,
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
        column: None,
        message: format!("not a JSON object of message texts: {err}"),
    })
}

fn load(override_dir: Option<&Path>) -> Loaded {
    let mut loaded = Loaded::default();
    for page in Page::ALL {
        for (locale, text) in page.builtin() {
            let file = format!("email-templates/{locale}/{}", page.file_name());
            loaded.add(page, locale, file, Ok(text.to_string()));
        }
    }
    let Some(entries) = override_dir.and_then(|dir| std::fs::read_dir(dir).ok()) else {
        return loaded;
    };
    for entry in entries.flatten() {
        let Some(locale) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if locale == "partials" {
            continue;
        }
        for page in Page::ALL {
            let path = entry.path().join(page.file_name());
            if path.is_file() {
                let text = std::fs::read_to_string(&path);
                loaded.add(page, &locale, path.display().to_string(), text);
            }
        }
    }
    loaded
}

impl Loaded {
    /// Adds `locale`'s messages for `page` from `file` (replacing any before), or the problem
    /// with them.
    fn add(&mut self, page: Page, locale: &str, file: String, text: std::io::Result<String>) {
        let parsed = text
            .map_err(|err| TemplateProblem {
                file: file.clone(),
                line: None,
                column: None,
                message: format!("cannot read: {err}"),
            })
            .and_then(|text| parse(&text, &file));
        match parsed {
            Ok(messages) => {
                self.catalogs.entry(page).or_default().insert(
                    locale.to_owned(),
                    Catalog {
                        file,
                        messages: Arc::new(messages),
                    },
                );
            }
            Err(problem) => self.problems.push(problem),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_messages_are_complete_and_consistent() {
        let messages = PageMessages::load(None, false);
        assert_eq!(messages.check(&messages.locales(Page::Accept)), Vec::new());
        for page in Page::ALL {
            assert_eq!(messages.locales(page), ["de", "en", "fr"]);
        }
        // Every file on disk is compiled in.
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/email-templates");
        for page in Page::ALL {
            let mut on_disk: Vec<String> = std::fs::read_dir(root)
                .unwrap()
                .flatten()
                .filter(|dir| dir.path().join(page.file_name()).is_file())
                .map(|dir| dir.file_name().to_string_lossy().into_owned())
                .collect();
            on_disk.sort();
            assert_eq!(on_disk, messages.locales(page));
        }
    }

    #[test]
    fn a_locale_is_chosen_by_tag_then_language_then_the_default() {
        let messages = PageMessages::load(None, false);
        assert_eq!(messages.choose(Page::Accept, ["de-AT"], "en").0, "de");
        assert_eq!(
            messages.choose(Page::Accept, ["pt-BR", "fr-CA"], "en").0,
            "fr"
        );
        assert_eq!(messages.choose(Page::Accept, ["pt"], "de").0, "de");
        assert_eq!(messages.choose(Page::Accept, [], "xx").0, "en");
        let (_, german) = messages.choose(Page::Accept, ["de"], "en");
        assert_eq!(german["button.accept"], "Einladung annehmen");
    }

    #[test]
    fn with_reload_a_changed_file_is_read_on_the_next_request() {
        let dir = std::env::temp_dir().join(format!("cmsi-pages-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(dir.join("de")).unwrap();
        let write = |text: &str| {
            let body = format!(r#"{{ "button.accept": "{text}" }}"#);
            std::fs::write(dir.join("de").join(Page::Accept.file_name()), body).unwrap();
        };
        write("Annehmen");
        let reloading = PageMessages::load(Some(&dir), true);
        let fixed = PageMessages::load(Some(&dir), false);
        write("Jetzt annehmen");
        assert_eq!(
            reloading.choose(Page::Accept, ["de"], "en").1["button.accept"],
            "Jetzt annehmen"
        );
        assert_eq!(
            fixed.choose(Page::Accept, ["de"], "en").1["button.accept"],
            "Annehmen"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_translation_with_a_missing_key_or_other_placeholders_is_reported() {
        let dir = std::env::temp_dir().join(format!("cmsi-pages-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(dir.join("nl")).unwrap();
        std::fs::write(
            dir.join("nl").join(Page::Accept.file_name()),
            r#"{ "invited": "{inviteur} heeft u uitgenodigd", "extra": "x" }"#,
        )
        .unwrap();
        std::fs::create_dir_all(dir.join("it")).unwrap();
        std::fs::write(dir.join("it").join(Page::Accept.file_name()), "{ not json").unwrap();
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
        assert_eq!(messages.choose(Page::Accept, ["nl"], "en").0, "nl");
        // The admin UI is checked the same way, but a locale need not translate it.
        assert!(
            !has("sv/admin.json"),
            "a locale with emails needs no admin UI messages: {problems:#?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_admin_ui_is_checked_and_chosen_on_its_own() {
        let dir = std::env::temp_dir().join(format!("cmsi-pages-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(dir.join("nl")).unwrap();
        std::fs::write(
            dir.join("nl").join(Page::Admin.file_name()),
            r#"{ "list.count.other": "{n} uitnodigingen" }"#,
        )
        .unwrap();
        let messages = PageMessages::load(Some(&dir), false);
        let problems: Vec<String> = messages
            .check(&[])
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("nl/admin.json") && p.contains("has no message \"tab.list\"")),
            "{problems:#?}"
        );
        assert!(
            problems.iter().all(|p| p.contains("nl/admin.json")),
            "{problems:#?}"
        );
        // nl has admin messages but no invitee page: each page chooses among its own.
        assert_eq!(messages.choose(Page::Admin, ["nl-BE"], "en").0, "nl");
        assert_eq!(messages.choose(Page::Accept, ["nl-BE"], "de").0, "de");
        let _ = std::fs::remove_dir_all(dir);
    }
}
