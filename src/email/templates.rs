//! The template set: built-in files compiled into the binary, replaced by name by files in an
//! optional override folder, and those replaced by the versions template authors saved in the
//! store; compiled into two strict Handlebars registries: one that escapes HTML (for the html
//! part) and one that does not (subject and text parts). The set is compiled once per change
//! of its sources and shared by every render until the next change.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use handlebars::Handlebars;

use super::context::{EmailContext, EmailPart};
use super::sms::{SmsLength, fold_to_gsm7};
use crate::domain::{MessageKind, TemplateKey};

macro_rules! builtin {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/email-templates/", $path)))),*]
    };
}

/// Every shipped template file, by its path under `email-templates/`.
pub(crate) const BUILTIN: &[(&str, &str)] = builtin!(
    "partials/layout_html.hbs",
    "partials/button.hbs",
    "partials/layout_partner.hbs",
    "en/invitation.subject.hbs",
    "en/invitation.html.hbs",
    "en/invitation.txt.hbs",
    "en/invitation.sms.hbs",
    "en/invitation_accepted.subject.hbs",
    "en/invitation_accepted.html.hbs",
    "en/invitation_accepted.txt.hbs",
    "en/invitation_extended.subject.hbs",
    "en/invitation_extended.html.hbs",
    "en/invitation_extended.txt.hbs",
    "en/invitation_extended.sms.hbs",
    "en/partner/invitation.subject.hbs",
    "en/partner/invitation.html.hbs",
    "en/partner/invitation.txt.hbs",
    "en/partner/invitation.sms.hbs",
    "de/invitation.subject.hbs",
    "de/invitation.html.hbs",
    "de/invitation.txt.hbs",
    "de/invitation.sms.hbs",
    "de/invitation_accepted.subject.hbs",
    "de/invitation_accepted.html.hbs",
    "de/invitation_accepted.txt.hbs",
    "de/invitation_extended.subject.hbs",
    "de/invitation_extended.html.hbs",
    "de/invitation_extended.txt.hbs",
    "de/invitation_extended.sms.hbs",
    "de/partner/invitation.subject.hbs",
    "de/partner/invitation.html.hbs",
    "de/partner/invitation.txt.hbs",
    "de/partner/invitation.sms.hbs",
    "fr/invitation.subject.hbs",
    "fr/invitation.html.hbs",
    "fr/invitation.txt.hbs",
    "fr/invitation.sms.hbs",
    "fr/invitation_accepted.subject.hbs",
    "fr/invitation_accepted.html.hbs",
    "fr/invitation_accepted.txt.hbs",
    "fr/invitation_extended.subject.hbs",
    "fr/invitation_extended.html.hbs",
    "fr/invitation_extended.txt.hbs",
    "fr/invitation_extended.sms.hbs",
    "fr/partner/invitation.subject.hbs",
    "fr/partner/invitation.html.hbs",
    "fr/partner/invitation.txt.hbs",
    "fr/partner/invitation.sms.hbs",
);

/// A problem in a template file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateProblem {
    /// `email-templates/de/invitation.html.hbs`, or the override file's path.
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl TemplateProblem {
    /// Whether it is in a template author's unsaved text (rather than in a file it uses).
    pub fn in_draft(&self) -> bool {
        self.file
            .strip_prefix(DRAFT)
            .is_some_and(|rest| rest.starts_with(' '))
    }
}

impl std::fmt::Display for TemplateProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(f, "{}:{line}:{column}: {}", self.file, self.message)
            }
            (Some(line), None) => write!(f, "{}:{line}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Template problems, one per line.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct TemplateProblems(pub Vec<TemplateProblem>);

/// One rendered message. An invitation's body holds its link, so `Debug` shows no part of it.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// The locale whose templates were used.
    pub locale: String,
    pub subject: String,
    pub html: String,
    pub text: String,
}

impl std::fmt::Debug for RenderedEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderedEmail")
            .field("locale", &self.locale)
            .finish_non_exhaustive()
    }
}

/// One rendered text message, folded into GSM-7 where that loses nothing a reader needs (see
/// [`fold_to_gsm7`]). It holds the link, so `Debug` shows no part of it.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedSms {
    pub locale: String,
    pub text: String,
}

impl std::fmt::Debug for RenderedSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderedSms")
            .field("locale", &self.locale)
            .finish_non_exhaustive()
    }
}

/// The shipped SMS's promise, which `templates check` measures every locale against: with an
/// accept URL of 40 characters and an inviter's name of 20, the message fits this many
/// segments.
pub const SMS_SEGMENT_BUDGET: usize = 2;

/// The length of one locale's invitation SMS, measured as [`EmailTemplates::sms_lengths`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsMeasure {
    pub locale: String,
    pub file: String,
    pub length: SmsLength,
}

/// Which layer a template's text comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateOrigin {
    /// The file shipped in the binary.
    BuiltIn,
    /// A file in the override folder.
    Folder,
    /// A version saved in the store.
    Stored { version: u32 },
}

/// The stored versions in force: the current text and version of each stored template, by
/// name (`de/invitation.subject`), as read at one store revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredTemplates {
    pub revision: u64,
    pub bodies: BTreeMap<String, (u32, String)>,
}

/// One template of the set as a template author sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateInfo {
    pub kind: MessageKind,
    pub locale: String,
    pub variant: Option<String>,
    pub part: EmailPart,
    pub origin: TemplateOrigin,
    /// The Handlebars source in force.
    pub body: String,
}

/// A message rendered from a set with one template replaced, for a template author's preview.
/// `problems` holds what would refuse the save; `warnings` what would not (a text message
/// longer than its budget).
#[derive(Clone, PartialEq, Eq)]
pub struct DraftPreview {
    pub subject: Option<String>,
    pub html: Option<String>,
    pub text: Option<String>,
    pub sms: Option<String>,
    pub problems: Vec<TemplateProblem>,
    pub warnings: Vec<TemplateProblem>,
}

impl std::fmt::Debug for DraftPreview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DraftPreview")
            .field("problems", &self.problems)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

/// Where each template came from, to name files in problems.
#[derive(Debug, Clone)]
struct Source {
    text: String,
    file: String,
    origin: TemplateOrigin,
}

#[derive(Debug)]
struct Compiled {
    html: Handlebars<'static>,
    text: Handlebars<'static>,
    files: BTreeMap<String, String>,
    locales: BTreeSet<String>,
    /// Each variant of the invitation message and the locales that have it.
    variants: BTreeMap<String, BTreeSet<String>>,
    /// Every message template (partials left out) by name, as a template author sees it.
    templates: BTreeMap<String, TemplateInfo>,
    /// The override folder's files as they were when compiled.
    fingerprint: Fingerprint,
}

/// Path, size and modification time of each template file in the override folder.
type Fingerprint = Vec<(PathBuf, u64, Option<std::time::SystemTime>)>;

fn fingerprint(override_dir: Option<&Path>) -> Fingerprint {
    let mut files = Vec::new();
    if let Some(dir) = override_dir {
        let _ = hbs_files(dir, &mut files);
    }
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let meta = std::fs::metadata(&path).ok();
            let size = meta.as_ref().map_or(0, std::fs::Metadata::len);
            let modified = meta.and_then(|m| m.modified().ok());
            (path, size, modified)
        })
        .collect()
}

/// Every `*.hbs` file under `dir`, at any depth.
fn hbs_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            hbs_files(&path, out)?;
        } else if path.extension().and_then(|e| e.to_str()) == Some("hbs") {
            out.push(path);
        }
    }
    Ok(())
}

/// What `lock` holds (a panic while it was held poisons it, but every writer swaps in a whole
/// value, so what it holds is still whole).
fn read_lock<T>(lock: &RwLock<Arc<T>>) -> Arc<T> {
    lock.read()
        .map(|c| c.clone())
        .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
}

/// The email templates, ready to render. Cheap to share.
#[derive(Debug, Clone)]
pub struct EmailTemplates {
    override_dir: Option<PathBuf>,
    reload: bool,
    compiled: Arc<RwLock<Arc<Compiled>>>,
    /// The stored layer the set was last compiled with.
    stored: Arc<RwLock<Arc<StoredTemplates>>>,
}

impl EmailTemplates {
    /// The built-in templates, replaced by name by the `*.hbs` files under `override_dir`.
    /// With `reload`, the folder is read again before every render (for template authors).
    pub fn load(override_dir: Option<&Path>, reload: bool) -> Result<Self, TemplateProblems> {
        let stored = Arc::new(StoredTemplates::default());
        let compiled = compile(override_dir, &stored)?;
        Ok(Self {
            override_dir: override_dir.map(Path::to_path_buf),
            reload,
            compiled: Arc::new(RwLock::new(Arc::new(compiled))),
            stored: Arc::new(RwLock::new(stored)),
        })
    }

    /// The store revision of the stored layer in force.
    pub fn stored_revision(&self) -> u64 {
        read_lock(&self.stored).revision
    }

    /// Compiles the set again with `stored` above the folder and built-in files, and renders
    /// from it from now on. A stored template whose name the files do not have (a locale or
    /// variant since removed from the folder) is left out. When the set does not compile the
    /// set in force stays, and the problems are returned; `stored` is remembered either way,
    /// so the same revision is not compiled twice. Callers apply one revision at a time.
    pub fn apply_stored(&self, stored: StoredTemplates) -> Result<(), TemplateProblems> {
        let stored = Arc::new(stored);
        if let Ok(mut slot) = self.stored.write() {
            *slot = stored.clone();
        }
        let fresh = Arc::new(compile(self.override_dir.as_deref(), &stored)?);
        if let Ok(mut slot) = self.compiled.write() {
            *slot = fresh;
        }
        Ok(())
    }

    /// The built-in templates alone.
    pub fn builtin() -> Result<Self, TemplateProblems> {
        Self::load(None, false)
    }

    /// The compiled set; with `reload`, compiled again first if a file in the override folder
    /// was added, removed or changed since (checked by size and modification time).
    fn current(&self) -> Result<Arc<Compiled>, TemplateProblems> {
        let cached = read_lock(&self.compiled);
        if !self.reload || cached.fingerprint == fingerprint(self.override_dir.as_deref()) {
            return Ok(cached);
        }
        let stored = read_lock(&self.stored);
        let fresh = Arc::new(compile(self.override_dir.as_deref(), &stored)?);
        if let Ok(mut slot) = self.compiled.write() {
            *slot = fresh.clone();
        }
        Ok(fresh)
    }

    /// The locales that have templates.
    pub fn locales(&self) -> Vec<String> {
        self.current()
            .map(|c| c.locales.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The first locale of `preferences` that has templates, trying each tag and then its
    /// language (`de-AT`, then `de`); `fallback` when none has.
    pub fn choose_locale<'a>(
        &self,
        preferences: impl IntoIterator<Item = &'a str>,
        fallback: &str,
    ) -> String {
        let Ok(compiled) = self.current() else {
            return fallback.to_owned();
        };
        for tag in preferences {
            let candidates = [Some(tag), tag.split('-').next()];
            for candidate in candidates.into_iter().flatten() {
                if let Some(found) = compiled
                    .locales
                    .iter()
                    .find(|l| l.eq_ignore_ascii_case(candidate))
                {
                    return found.clone();
                }
            }
        }
        fallback.to_owned()
    }

    /// Renders the three parts of `context`'s kind in `locale`.
    pub fn render(
        &self,
        locale: &str,
        context: &EmailContext,
    ) -> Result<RenderedEmail, TemplateProblems> {
        self.render_with(locale, None, context)
    }

    /// Renders the three parts of `context`'s kind in `locale`, from `variant`'s templates
    /// when given (`<locale>/<variant>/<kind>.<part>.hbs`).
    pub fn render_with(
        &self,
        locale: &str,
        variant: Option<&str>,
        context: &EmailContext,
    ) -> Result<RenderedEmail, TemplateProblems> {
        let compiled = self.current()?;
        let kind = context.kind();
        let prefix = prefix(locale, variant);
        let part = |part: EmailPart| render_part(&compiled, &prefix, kind, part, context);
        Ok(RenderedEmail {
            locale: locale.to_owned(),
            subject: subject_line(&part(EmailPart::Subject)?),
            html: part(EmailPart::Html)?,
            text: part(EmailPart::Text)?,
        })
    }

    /// Renders the text message of `context`'s kind in `locale`: one paragraph (line breaks
    /// and runs of spaces become one space), folded into GSM-7 when only accents and
    /// typography stand in the way. A kind without a text message is a problem.
    pub fn render_sms(
        &self,
        locale: &str,
        context: &EmailContext,
    ) -> Result<RenderedSms, TemplateProblems> {
        self.render_sms_with(locale, None, context)
    }

    /// [`Self::render_sms`] from `variant`'s templates when given.
    pub fn render_sms_with(
        &self,
        locale: &str,
        variant: Option<&str>,
        context: &EmailContext,
    ) -> Result<RenderedSms, TemplateProblems> {
        let compiled = self.current()?;
        let kind = context.kind();
        if !EmailPart::of(kind).contains(&EmailPart::Sms) {
            return Err(TemplateProblems(vec![TemplateProblem {
                file: format!("email-templates/{locale}/{}.sms.hbs", kind.as_str()),
                line: None,
                column: None,
                message: format!("the {} message has no sms part", kind.as_str()),
            }]));
        }
        let raw = render_part(
            &compiled,
            &prefix(locale, variant),
            kind,
            EmailPart::Sms,
            context,
        )?;
        Ok(RenderedSms {
            locale: locale.to_owned(),
            text: one_paragraph(&raw),
        })
    }

    /// Each locale's invitation SMS rendered with the full sample, an accept URL of 40
    /// characters (plus the secret) and an inviter's name of 20: its encoding and segments.
    pub fn sms_lengths(&self) -> Vec<SmsMeasure> {
        let Ok(compiled) = self.current() else {
            return Vec::new();
        };
        compiled
            .locales
            .iter()
            .filter_map(|locale| {
                let sample = sms_measure_sample(MessageKind::Invitation, locale)?;
                let name = template_name(locale, MessageKind::Invitation, EmailPart::Sms);
                let file = compiled.files.get(&name)?.clone();
                let sms = self.render_sms(locale, &sample).ok()?;
                Some(SmsMeasure {
                    locale: locale.clone(),
                    file,
                    length: SmsLength::of(&sms.text),
                })
            })
            .collect()
    }

    /// The variants of the invitation message, by name.
    pub fn variants(&self) -> Vec<String> {
        self.current()
            .map(|c| c.variants.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether some locale has the variant `name`.
    pub fn has_variant(&self, name: &str) -> bool {
        self.current().is_ok_and(|c| c.variants.contains_key(name))
    }

    /// The locale `variant` is rendered in for `preferences`: the first that has it, trying
    /// each tag and then its language; else English, else any that has it. `None` when no
    /// locale has the variant.
    pub fn variant_locale<'a>(
        &self,
        variant: &str,
        preferences: impl IntoIterator<Item = &'a str>,
    ) -> Option<String> {
        variant_locale(&*self.current().ok()?, variant, preferences)
    }

    /// For each variant, each locale with email templates but not the variant, and the locale
    /// it falls back to there: `(variant, locale, fallback)`. Not a problem (the variant still
    /// renders), but a template author may want to translate it.
    pub fn variant_fallbacks(&self) -> Vec<(String, String, String)> {
        let Ok(compiled) = self.current() else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for (variant, locales) in &compiled.variants {
            for locale in compiled.locales.iter().filter(|l| !locales.contains(*l)) {
                if let Some(fallback) = variant_locale(&compiled, variant, [locale.as_str()]) {
                    found.push((variant.clone(), locale.clone(), fallback));
                }
            }
        }
        found
    }

    /// Renders one part, for previews.
    pub fn render_part(
        &self,
        locale: &str,
        part: EmailPart,
        context: &EmailContext,
    ) -> Result<String, TemplateProblems> {
        let compiled = self.current()?;
        render_part(&compiled, locale, context.kind(), part, context)
    }

    /// Every problem a template author should fix: a locale missing a kind or part, and any
    /// template that fails to render in strict mode with the full or the minimal sample (an
    /// unknown variable, a missing partial). Compile errors are found by [`Self::load`].
    pub fn check(&self) -> Vec<TemplateProblem> {
        let compiled = match self.current() {
            Ok(compiled) => compiled,
            Err(problems) => return problems.0,
        };
        let mut problems = Vec::new();
        // The base templates of every locale, then each variant where it exists.
        let base = compiled
            .locales
            .iter()
            .flat_map(|locale| MessageKind::ALL.map(|kind| (locale.clone(), kind)));
        let variants = compiled.variants.iter().flat_map(|(variant, locales)| {
            locales
                .iter()
                .map(move |locale| (format!("{locale}/{variant}"), MessageKind::Invitation))
        });
        for (locale, kind) in base.chain(variants) {
            let locale = &locale;
            for &part in EmailPart::of(kind) {
                let name = template_name(locale, kind, part);
                if !compiled.files.contains_key(&name) {
                    problems.push(TemplateProblem {
                        file: format!("email-templates/{name}.hbs"),
                        line: None,
                        column: None,
                        message: format!(
                            "missing: {locale} has no {} {} template",
                            kind.as_str(),
                            part.as_str()
                        ),
                    });
                    continue;
                }
                for full in [true, false] {
                    // A variant's prefix is `<locale>/<variant>`: its sample is the locale's.
                    let language = locale.split('/').next().unwrap_or(locale);
                    let sample = EmailContext::sample(kind, language, full);
                    match render_part(&compiled, locale, kind, part, &sample) {
                        Err(found) => {
                            for problem in found.0 {
                                if !problems.contains(&problem) {
                                    problems.push(problem);
                                }
                            }
                        }
                        Ok(html) if part == EmailPart::Html && preheader(&html) == Some("") => {
                            let problem = TemplateProblem {
                                file: compiled.files.get(&name).cloned().unwrap_or_default(),
                                line: None,
                                column: None,
                                message: NO_PREHEADER.to_owned(),
                            };
                            if !problems.contains(&problem) {
                                problems.push(problem);
                            }
                        }
                        Ok(_) => {}
                    }
                }
            }
        }
        problems
    }

    /// Every message template in force (partials left out), by name.
    pub fn list(&self) -> Vec<TemplateInfo> {
        self.current()
            .map(|c| c.templates.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The template `key` names; `None` when the set has no such template (stored versions
    /// replace templates the files have; they add no locale, variant or part).
    pub fn get(&self, key: &TemplateKey) -> Option<TemplateInfo> {
        self.current().ok()?.templates.get(&key.name()).cloned()
    }

    /// Renders `key`'s message with `context`, `body` standing in for `key`'s template, and
    /// says what is wrong with it. Nothing is changed.
    pub fn preview_draft(
        &self,
        key: &TemplateKey,
        body: &str,
        context: &EmailContext,
    ) -> DraftPreview {
        let compiled = match self.current() {
            Ok(compiled) => compiled,
            Err(problems) => return DraftPreview::refused(problems.0),
        };
        match Draft::new(&compiled, key, body) {
            Ok(draft) => draft.render_all(context),
            Err(problem) => DraftPreview::refused(vec![problem]),
        }
    }

    /// What refuses saving `body` as `key`'s template, as `templates check` would find it:
    /// it must compile, render in strict mode with the full and the minimal sample (no
    /// unknown variable, no missing partial), and an HTML body must keep its preheader. A text
    /// message longer than [`SMS_SEGMENT_BUDGET`] segments (measured as
    /// [`Self::sms_lengths`] does) is a warning, which does not refuse the save. The parts
    /// returned are rendered with `shown`, else with the full sample. The draft is compiled
    /// once for all of these renders.
    pub fn check_draft(
        &self,
        key: &TemplateKey,
        body: &str,
        shown: Option<&EmailContext>,
    ) -> DraftPreview {
        let compiled = match self.current() {
            Ok(compiled) => compiled,
            Err(problems) => return DraftPreview::refused(problems.0),
        };
        let draft = match Draft::new(&compiled, key, body) {
            Ok(draft) => draft,
            Err(problem) => return DraftPreview::refused(vec![problem]),
        };
        let language = key.locale.as_str();
        let mut problems = draft
            .render_all(&EmailContext::sample(key.kind, language, false))
            .problems;
        let mut found = draft.render_all(&EmailContext::sample(key.kind, language, true));
        push_new(&mut problems, std::mem::take(&mut found.problems));
        if key.part == EmailPart::Html
            && let Some(html) = &found.html
            && preheader(html) == Some("")
        {
            problems.push(TemplateProblem {
                file: draft.label.clone(),
                line: None,
                column: None,
                message: NO_PREHEADER.to_owned(),
            });
        }
        if key.part == EmailPart::Sms
            && problems.is_empty()
            && let Some(sample) = sms_measure_sample(key.kind, language)
            && let Ok(raw) = draft.render(key.kind, EmailPart::Sms, &sample)
        {
            let length = SmsLength::of(&one_paragraph(&raw));
            if length.segments > SMS_SEGMENT_BUDGET {
                found.warnings.push(TemplateProblem {
                    file: draft.label.clone(),
                    line: None,
                    column: None,
                    message: format!(
                        "{length}, more than {SMS_SEGMENT_BUDGET} segments: each costs a message"
                    ),
                });
            }
        }
        if let Some(shown) = shown {
            found = DraftPreview {
                warnings: found.warnings,
                ..draft.render_all(shown)
            };
        }
        found.problems = problems;
        found
    }
}

/// What `templates check` and a save say of an HTML body whose preheader is empty.
const NO_PREHEADER: &str =
    "no preheader (the inbox preview): define {{#*inline \"preheader\"}}…{{/inline}}";

/// The invitation SMS as its length is measured: the full sample with an accept URL of 40
/// characters (plus the secret) and an inviter's name of 20. `None` for other kinds.
fn sms_measure_sample(kind: MessageKind, locale: &str) -> Option<EmailContext> {
    if kind != MessageKind::Invitation {
        return None;
    }
    let EmailContext::Invitation(mut sample) = EmailContext::sample(kind, locale, true) else {
        return None;
    };
    sample.inviter_name = "Ada Lovelace-Byron 1".to_owned();
    sample.accept_url = format!(
        "{}#secret={}",
        "https://app.example.com/invitations/join",
        "A".repeat(43)
    );
    Some(EmailContext::Invitation(sample))
}

impl DraftPreview {
    /// Nothing rendered: only `problems`.
    fn refused(problems: Vec<TemplateProblem>) -> Self {
        Self {
            subject: None,
            html: None,
            text: None,
            sms: None,
            problems,
            warnings: Vec::new(),
        }
    }
}

/// How problems name a template author's unsaved text.
fn draft_label(key: &TemplateKey) -> String {
    format!("{DRAFT} {}", key.name())
}

const DRAFT: &str = "draft";

/// A problem as a template author reads it: `line:column: message` when it is in the text
/// they are editing, else with the file it is in (a partial) first.
pub fn author_line(problem: &TemplateProblem) -> String {
    if !problem.in_draft() {
        return problem.to_string();
    }
    match (problem.line, problem.column) {
        (Some(line), Some(column)) => format!("{line}:{column}: {}", problem.message),
        (Some(line), None) => format!("{line}: {}", problem.message),
        _ => problem.message.clone(),
    }
}

/// Adds each of `found` that `problems` does not hold yet.
fn push_new(problems: &mut Vec<TemplateProblem>, found: Vec<TemplateProblem>) {
    for problem in found {
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    }
}

/// How deep a template author's blocks may nest (the shipped templates nest 5 deep).
const MAX_BLOCK_DEPTH: usize = 16;
/// How many `#each` loops may nest (the shipped templates have 1): each level multiplies the
/// work of a render.
const MAX_EACH_DEPTH: usize = 2;
/// How deep a template author's subexpressions may nest.
const MAX_PAREN_DEPTH: usize = 8;

/// Refuses what in a template author's text could make a render endless or exhausting, before
/// Handlebars sees it: blocks nested deeper than [`MAX_BLOCK_DEPTH`] (or loops deeper than
/// [`MAX_EACH_DEPTH`]), subexpressions deeper than [`MAX_PAREN_DEPTH`], a partial called from
/// inside an inline partial (two inline partials calling each other never end), a partial
/// named by an expression, and `@partial-block` (which only the layouts use). Syntax errors
/// are left to Handlebars, which reports them with their place.
pub(super) fn guard_draft(body: &str) -> Result<(), (usize, String)> {
    let mut open: Vec<&str> = Vec::new();
    let mut at = 0;
    while let Some(start) = body[at..].find("{{").map(|i| at + i) {
        let comment = body[start..].starts_with("{{!--");
        let close = if comment { "--}}" } else { "}}" };
        let Some(end) = body[start..].find(close).map(|i| start + i) else {
            return Ok(());
        };
        at = end + close.len();
        if body[start..].starts_with("{{!") {
            continue;
        }
        let tag = body[start + 2..end]
            .trim_start_matches('{')
            .trim_end_matches('}')
            .trim_matches('~')
            .trim();
        let mut depth: usize = 0;
        for c in tag.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ => {}
            }
            if depth > MAX_PAREN_DEPTH {
                return Err((
                    start,
                    format!("subexpressions nest more than {MAX_PAREN_DEPTH} deep"),
                ));
            }
        }
        let in_inline = open.contains(&"*inline");
        let partial = tag.strip_prefix("#>").or_else(|| tag.strip_prefix('>'));
        if let Some(name) = partial.map(str::trim_start) {
            if in_inline {
                return Err((start, "an inline partial may not call a partial".to_owned()));
            }
            if name.starts_with('(') {
                return Err((
                    start,
                    "name partials by their name, not by an expression".to_owned(),
                ));
            }
            if name.starts_with("@partial-block") {
                return Err((
                    start,
                    "@partial-block is for the layouts in partials/".to_owned(),
                ));
            }
        }
        if let Some(block) = tag.strip_prefix('#').or_else(|| tag.strip_prefix('^')) {
            let name = block
                .trim_start_matches('>')
                .trim_start()
                .split(|c: char| c.is_whitespace())
                .next()
                .unwrap_or_default();
            if name.is_empty() {
                continue; // `{{^}}`: an else.
            }
            open.push(name);
            if open.len() > MAX_BLOCK_DEPTH {
                return Err((
                    start,
                    format!("blocks nest more than {MAX_BLOCK_DEPTH} deep"),
                ));
            }
            if open.iter().filter(|b| **b == "each").count() > MAX_EACH_DEPTH {
                return Err((
                    start,
                    format!("#each loops nest more than {MAX_EACH_DEPTH} deep"),
                ));
            }
        } else if tag.starts_with('/') {
            open.pop();
        }
    }
    Ok(())
}

/// The line and column (from 1) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The compiled set with one template replaced by unsaved text: the registry of that part is
/// copied, the other shared.
struct Draft<'a> {
    compiled: &'a Compiled,
    registry: Handlebars<'static>,
    /// The part whose registry was copied.
    escapes_html: bool,
    /// Where the draft's templates are named from (`de`, `de/partner`).
    prefix: String,
    /// The draft's template name, and how problems name it.
    name: String,
    label: String,
}

impl<'a> Draft<'a> {
    fn new(compiled: &'a Compiled, key: &TemplateKey, body: &str) -> Result<Self, TemplateProblem> {
        let name = key.name();
        let label = draft_label(key);
        if !compiled.templates.contains_key(&name) {
            return Err(TemplateProblem {
                file: label,
                line: None,
                column: None,
                message: format!(
                    "there is no template {name}: stored versions replace the templates the \
                     files have, and add no locale, variant or part"
                ),
            });
        }
        if let Err((offset, message)) = guard_draft(body) {
            let (line, column) = line_column(body, offset);
            return Err(TemplateProblem {
                file: label,
                line: Some(line),
                column: Some(column),
                message,
            });
        }
        let escapes_html = key.part == EmailPart::Html;
        let mut registry = if escapes_html {
            compiled.html.clone()
        } else {
            compiled.text.clone()
        };
        registry
            .register_template_string(&name, body)
            .map_err(|err| TemplateProblem {
                file: label.clone(),
                line: err.pos().map(|(line, _)| line),
                column: err.pos().map(|(_, column)| column),
                message: err.reason().to_string(),
            })?;
        Ok(Self {
            compiled,
            registry,
            escapes_html,
            prefix: prefix(
                key.locale.as_str(),
                key.variant.as_ref().map(|v| v.as_str()),
            ),
            name,
            label,
        })
    }

    /// One part of the draft's message (the draft, or the template in force for the other
    /// parts) with `context`.
    fn render(
        &self,
        kind: MessageKind,
        part: EmailPart,
        context: &EmailContext,
    ) -> Result<String, TemplateProblems> {
        let registry = match (part == EmailPart::Html, self.escapes_html) {
            (true, true) | (false, false) => &self.registry,
            (true, false) => &self.compiled.html,
            (false, true) => &self.compiled.text,
        };
        render_in(
            registry,
            &template_name(&self.prefix, kind, part),
            context,
            |template| {
                if template == self.name {
                    Some(self.label.clone())
                } else {
                    self.compiled.files.get(template).cloned()
                }
            },
        )
    }

    /// Every part of the draft's message with `context`, and the problems of those that do
    /// not render.
    fn render_all(&self, context: &EmailContext) -> DraftPreview {
        let mut preview = DraftPreview::refused(Vec::new());
        let kind = context.kind();
        for &part in EmailPart::of(kind) {
            match self.render(kind, part, context) {
                Ok(rendered) => {
                    let (slot, text) = match part {
                        EmailPart::Subject => (&mut preview.subject, subject_line(&rendered)),
                        EmailPart::Html => (&mut preview.html, rendered),
                        EmailPart::Text => (&mut preview.text, rendered),
                        EmailPart::Sms => (&mut preview.sms, one_paragraph(&rendered)),
                    };
                    *slot = Some(text);
                }
                Err(found) => push_new(&mut preview.problems, found.0),
            }
        }
        preview
    }
}

/// What the shipped layout's hidden preheader holds, trimmed; `None` for a layout without one.
fn preheader(html: &str) -> Option<&str> {
    const MARK: &str = "mso-hide:all;\">";
    let start = html.find(MARK)? + MARK.len();
    let end = html[start..].find("</div>")?;
    Some(html[start..start + end].trim())
}

/// See [`EmailTemplates::variant_locale`].
fn variant_locale<'a>(
    compiled: &Compiled,
    variant: &str,
    preferences: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let locales = compiled.variants.get(variant)?;
    let find = |tag: &str| {
        locales
            .iter()
            .find(|l| l.eq_ignore_ascii_case(tag))
            .cloned()
    };
    preferences
        .into_iter()
        .find_map(|tag| find(tag).or_else(|| tag.split('-').next().and_then(find)))
        .or_else(|| find("en"))
        .or_else(|| locales.iter().next().cloned())
}

/// Where a locale's templates (or a variant's, `<locale>/<variant>`) are named from.
fn prefix(locale: &str, variant: Option<&str>) -> String {
    match variant {
        Some(variant) => format!("{locale}/{variant}"),
        None => locale.to_owned(),
    }
}

fn template_name(locale: &str, kind: MessageKind, part: EmailPart) -> String {
    format!("{locale}/{}.{}", kind.as_str(), part.as_str())
}

fn render_part(
    compiled: &Compiled,
    locale: &str,
    kind: MessageKind,
    part: EmailPart,
    context: &EmailContext,
) -> Result<String, TemplateProblems> {
    let registry = match part {
        EmailPart::Html => &compiled.html,
        EmailPart::Subject | EmailPart::Text | EmailPart::Sms => &compiled.text,
    };
    render_in(
        registry,
        &template_name(locale, kind, part),
        context,
        |template| compiled.files.get(template).cloned(),
    )
}

/// Renders the template `name` of `registry`; a problem names the file it is in, by
/// `file_of` (a template's name to its file).
fn render_in(
    registry: &Handlebars<'static>,
    name: &str,
    context: &EmailContext,
    file_of: impl Fn(&str) -> Option<String>,
) -> Result<String, TemplateProblems> {
    registry.render(name, context).map_err(|err| {
        let template = err.template_name.clone().unwrap_or_else(|| name.to_owned());
        TemplateProblems(vec![TemplateProblem {
            file: file_of(&template).unwrap_or_else(|| format!("email-templates/{template}.hbs")),
            line: err.line_no,
            column: err.column_no,
            message: render_problem(err.reason()),
        }])
    })
}

/// Collects the built-ins, the override folder's files and the stored versions (of templates
/// the files have), keyed by path under the root.
fn sources(
    override_dir: Option<&Path>,
    stored: &StoredTemplates,
) -> Result<BTreeMap<String, Source>, TemplateProblems> {
    let mut sources: BTreeMap<String, Source> = BUILTIN
        .iter()
        .map(|(path, text)| {
            (
                (*path).to_owned(),
                Source {
                    text: (*text).to_owned(),
                    file: format!("email-templates/{path}"),
                    origin: TemplateOrigin::BuiltIn,
                },
            )
        })
        .collect();
    if let Some(dir) = override_dir {
        let mut problems = Vec::new();
        collect_dir(dir, &mut sources, &mut problems);
        if !problems.is_empty() {
            return Err(TemplateProblems(problems));
        }
    }
    for (name, (version, text)) in &stored.bodies {
        if let Some(source) = sources.get_mut(&format!("{name}.hbs")) {
            *source = Source {
                text: text.clone(),
                file: stored_label(name, *version),
                origin: TemplateOrigin::Stored { version: *version },
            };
        }
    }
    Ok(sources)
}

/// How problems name a stored version.
fn stored_label(name: &str, version: u32) -> String {
    format!("stored {name} (version {version})")
}

fn collect_dir(
    root: &Path,
    sources: &mut BTreeMap<String, Source>,
    problems: &mut Vec<TemplateProblem>,
) {
    let mut files = Vec::new();
    if let Err(err) = hbs_files(root, &mut files) {
        problems.push(TemplateProblem {
            file: root.display().to_string(),
            line: None,
            column: None,
            message: format!("cannot read the template folder: {err}"),
        });
        return;
    }
    for path in files {
        let Ok(relative) = path.strip_prefix(root) else {
            continue;
        };
        let key = relative.to_string_lossy().replace('\\', "/");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                sources.insert(
                    key,
                    Source {
                        text,
                        file: path.display().to_string(),
                        origin: TemplateOrigin::Folder,
                    },
                );
            }
            Err(err) => problems.push(TemplateProblem {
                file: path.display().to_string(),
                line: None,
                column: None,
                message: format!("cannot read: {err}"),
            }),
        }
    }
}

fn compile(
    override_dir: Option<&Path>,
    stored: &StoredTemplates,
) -> Result<Compiled, TemplateProblems> {
    let fingerprint = fingerprint(override_dir);
    let sources = sources(override_dir, stored)?;
    let mut html = Handlebars::new();
    html.set_strict_mode(true);
    html.register_escape_fn(escape_html);
    let mut text = Handlebars::new();
    text.set_strict_mode(true);
    text.register_escape_fn(handlebars::no_escape);
    let mut files = BTreeMap::new();
    let mut locales = BTreeSet::new();
    let mut variants: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut templates = BTreeMap::new();
    let mut problems = Vec::new();
    for (path, source) in &sources {
        let Some(stem) = path.strip_suffix(".hbs") else {
            continue;
        };
        let report = |err: handlebars::TemplateError| TemplateProblem {
            file: source.file.clone(),
            line: err.pos().map(|(line, _)| line),
            column: err.pos().map(|(_, column)| column),
            message: err.reason().to_string(),
        };
        if let Some(partial) = stem.strip_prefix("partials/") {
            files.insert(partial.to_owned(), source.file.clone());
            for registry in [&mut html, &mut text] {
                if let Err(err) = registry.register_partial(partial, source.text.as_str()) {
                    problems.push(report(err));
                }
            }
            continue;
        }
        let Some((locale, file_name)) = stem.split_once('/') else {
            continue;
        };
        // `<locale>/<variant>/<kind>.<part>`: a variant of the invitation message.
        let (variant, file_name) = match file_name.split_once('/') {
            Some((variant, rest)) => (Some(variant), rest),
            None => (None, file_name),
        };
        if let Some(variant) = variant
            && crate::domain::TemplateVariant::parse(variant)
                .map(|v| v.as_str() != variant)
                .unwrap_or(true)
        {
            problems.push(TemplateProblem {
                file: source.file.clone(),
                line: None,
                column: None,
                message: format!(
                    "the variant folder {variant:?} is no variant name: lowercase letters, digits, '-' or '_'"
                ),
            });
            continue;
        }
        let Some((kind, part)) = file_name.rsplit_once('.') else {
            continue;
        };
        let (Some(kind), Some(part)) = (
            kind.parse::<MessageKind>().ok(),
            part.parse::<EmailPart>().ok(),
        ) else {
            problems.push(TemplateProblem {
                file: source.file.clone(),
                line: None,
                column: None,
                message:
                    "unknown kind or part: name files <locale>/<kind>.<subject|html|txt|sms>.hbs"
                        .to_owned(),
            });
            continue;
        };
        if !EmailPart::of(kind).contains(&part) {
            problems.push(TemplateProblem {
                file: source.file.clone(),
                line: None,
                column: None,
                message: format!(
                    "the {} message has no {} part (only messages to the invitee have an SMS)",
                    kind.as_str(),
                    part.as_str()
                ),
            });
            continue;
        }
        match variant {
            Some(variant) if kind != MessageKind::Invitation => {
                problems.push(TemplateProblem {
                    file: source.file.clone(),
                    line: None,
                    column: None,
                    message: format!(
                        "only the invitation has variants; {} in the variant {variant:?} is never used",
                        kind.as_str()
                    ),
                });
                continue;
            }
            Some(variant) => {
                variants
                    .entry(variant.to_owned())
                    .or_default()
                    .insert(locale.to_owned());
            }
            None => {
                locales.insert(locale.to_owned());
            }
        }
        files.insert(stem.to_owned(), source.file.clone());
        templates.insert(
            stem.to_owned(),
            TemplateInfo {
                kind,
                locale: locale.to_owned(),
                variant: variant.map(str::to_owned),
                part,
                origin: source.origin,
                body: source.text.clone(),
            },
        );
        let registry = match part {
            EmailPart::Html => &mut html,
            EmailPart::Subject | EmailPart::Text | EmailPart::Sms => &mut text,
        };
        if let Err(err) = registry.register_template_string(stem, source.text.as_str()) {
            problems.push(report(err));
        }
    }
    if problems.is_empty() {
        Ok(Compiled {
            html,
            text,
            files,
            locales,
            variants,
            templates,
            fingerprint,
        })
    } else {
        Err(TemplateProblems(problems))
    }
}

/// What a template author reads for a render error: the strict-mode and partial errors in
/// words, the rest as Handlebars says them.
fn render_problem(reason: &handlebars::RenderErrorReason) -> String {
    use handlebars::RenderErrorReason as Reason;
    match reason {
        Reason::MissingVariable(Some(name)) => {
            format!("unknown variable {name:?}: this message has no such variable")
        }
        Reason::PartialNotFound(name) => format!("no partial named {name:?}"),
        other => other.to_string(),
    }
}

/// A subject on one line: its lines trimmed, blank ones left out, joined by a space.
fn subject_line(raw: &str) -> String {
    raw.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A text message's body: its words with single spaces, trimmed, then folded into GSM-7.
fn one_paragraph(raw: &str) -> String {
    let spaced = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    fold_to_gsm7(&spaced).into_owned()
}

/// Escapes the five characters that matter in HTML text and quoted attributes. (Handlebars'
/// default also escapes `=` and backticks, which would make every link in a message's source
/// read `#secret&#x3D;…`.)
fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            other => out.push(other),
        }
    }
    out
}
