//! Where setting values come from, in order: each setting's default, the TOML file named by
//! `INVITATIONS_CONFIG`, the environment (and `<VAR>_FILE` for settings that may hold
//! credentials). The file is read by the `toml` crate; this turns its native values (strings,
//! integers, booleans, lists of those) into the text every parser takes, so a value reads the
//! same from the file as from the environment.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::roles::RolePermissions;

/// One setting: its key in the TOML file (also allowed inside a `[section]` table), its
/// environment variable, its default (empty: unset) and its meaning. `docs/configuration.md`
/// shows every one; a test keeps the two in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub section: &'static str,
    pub key: &'static str,
    pub env: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
    /// May hold a credential, so it can also be read from the file `<env>_FILE` names.
    pub from_file: bool,
}

/// The `[roles]` table of the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RolesTable {
    pub invitee: Option<Vec<String>>,
    pub principals: Option<BTreeMap<String, RolePermissions>>,
    /// Display names: role, then locale, then the name.
    pub names: Option<BTreeMap<String, BTreeMap<String, String>>>,
}

/// Every setting's text after the file and the environment had their say, and every problem
/// found on the way. Parsers take values out one by one and add their own problems.
pub(super) struct Source {
    values: BTreeMap<&'static str, String>,
    pub roles: RolesTable,
    pub problems: Vec<String>,
}

impl Source {
    pub fn gather(settings: &[&'static Setting], env: &dyn Fn(&str) -> Option<String>) -> Self {
        let mut source = Self {
            values: settings
                .iter()
                .map(|s| (s.key, s.default.to_owned()))
                .collect(),
            roles: RolesTable::default(),
            problems: Vec::new(),
        };
        if let Some(path) = env("INVITATIONS_CONFIG").filter(|p| !p.is_empty()) {
            source.read_file(&path, settings);
        }
        for s in settings {
            source.read_env(s, env);
        }
        source
    }

    /// The value of `key`, parsed; `None` (with the problem recorded, naming the key) when the
    /// parser refuses it.
    pub fn take<T>(
        &mut self,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let text = self.values.get(key).map_or("", |v| v.trim());
        match parse(text) {
            Ok(value) => Some(value),
            Err(why) => {
                self.problems.push(format!("{key}: {why}"));
                None
            }
        }
    }

    fn read_env(&mut self, s: &Setting, env: &dyn Fn(&str) -> Option<String>) {
        if let Some(value) = env(s.env) {
            self.values.insert(s.key, value);
        }
        if !s.from_file {
            return;
        }
        let var = format!("{}_FILE", s.env);
        if let Some(path) = env(&var).filter(|p| !p.is_empty()) {
            match std::fs::read_to_string(&path) {
                Ok(content) => {
                    self.values.insert(s.key, content.trim().to_owned());
                }
                Err(err) => self
                    .problems
                    .push(format!("{var}: cannot read {path}: {err}")),
            }
        }
    }

    fn read_file(&mut self, path: &str, settings: &[&'static Setting]) {
        let table = match std::fs::read_to_string(path) {
            Ok(text) => text.parse::<toml::Table>(),
            Err(err) => {
                let problem = format!("INVITATIONS_CONFIG: cannot read {path}: {err}");
                return self.problems.push(problem);
            }
        };
        let table = match table {
            Ok(table) => table,
            Err(err) => return self.problems.push(format!("{path}: {err}")),
        };
        for (key, value) in table {
            let is_section = settings.iter().any(|s| s.section == key);
            match value {
                toml::Value::Table(roles) if key == "roles" => self.read_roles(path, roles),
                toml::Value::Table(inner) if is_section => {
                    for (inner_key, value) in inner {
                        let found = settings
                            .iter()
                            .find(|s| s.section == key && s.key == inner_key);
                        self.read_value(path, &format!("{key}.{inner_key}"), found, &value);
                    }
                }
                value => {
                    let found = settings.iter().find(|s| s.key == key);
                    self.read_value(path, &key, found, &value);
                }
            }
        }
    }

    fn read_value(
        &mut self,
        path: &str,
        name: &str,
        setting: Option<&&'static Setting>,
        value: &toml::Value,
    ) {
        let Some(setting) = setting else {
            return self
                .problems
                .push(format!("{path}: unknown setting {name:?}"));
        };
        match toml_text(value) {
            Some(text) => {
                self.values.insert(setting.key, text);
            }
            None => self.problems.push(format!(
                "{path}: {name} must be a string, a number, true or false, or a list of those"
            )),
        }
    }

    fn read_roles(&mut self, path: &str, roles: toml::Table) {
        match toml::Value::Table(roles).try_into::<RolesTable>() {
            Ok(parsed) => self.roles = parsed,
            Err(err) => self.problems.push(format!("{path}: roles: {err}")),
        }
    }
}

/// A TOML value as the text the environment would give: lists are comma-separated.
fn toml_text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        toml::Value::Array(items) => {
            let parts: Option<Vec<String>> = items
                .iter()
                .map(|item| match item {
                    toml::Value::Array(_) | toml::Value::Table(_) => None,
                    scalar => toml_text(scalar),
                })
                .collect();
            parts.map(|parts| parts.join(","))
        }
        toml::Value::Float(_) | toml::Value::Datetime(_) | toml::Value::Table(_) => None,
    }
}
