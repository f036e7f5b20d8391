//! Committed contracts that must not drift from the code. `UPDATE_CONTRACTS=1` rewrites them
//! on purpose.

use cms_invitations::config::settings;

const CONFIG_DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");

fn settings_table() -> String {
    let mut table = String::from(
        "| Section | Setting (TOML key) | Environment variable | Default | Meaning |\n|---|---|---|---|---|\n",
    );
    for s in settings() {
        let default = if s.default.is_empty() {
            "(unset)".to_owned()
        } else {
            format!("`{}`", s.default)
        };
        let env = if s.from_file {
            format!("`{}` (or `{}_FILE`)", s.env, s.env)
        } else {
            format!("`{}`", s.env)
        };
        table.push_str(&format!(
            "| `{}` | `{}` | {env} | {default} | {} |\n",
            s.section, s.key, s.meaning
        ));
    }
    table
}

/// Checks that the part of `file` between `<!-- {section}:start -->` and `<!-- {section}:end -->`
/// is `expected` (with `UPDATE_CONTRACTS` set, writes it there instead).
pub fn assert_marked_section(file: &str, section: &str, expected: &str) {
    let start = format!("<!-- {section}:start -->");
    let end = format!("<!-- {section}:end -->");
    let doc = std::fs::read_to_string(file).unwrap_or_else(|err| panic!("{file}: {err}"));
    let (head, rest) = doc
        .split_once(&start)
        .unwrap_or_else(|| panic!("{file} has no {start} marker"));
    let (current, tail) = rest
        .split_once(&end)
        .unwrap_or_else(|| panic!("{file} has no {end} marker"));
    if std::env::var_os("UPDATE_CONTRACTS").is_some() {
        std::fs::write(file, format!("{head}{start}{expected}{end}{tail}")).unwrap();
        return;
    }
    assert_eq!(
        current, expected,
        "the {section} section of {file} drifted from the code; rerun with UPDATE_CONTRACTS=1"
    );
}

#[test]
fn the_documented_configuration_defaults_match_the_code() {
    assert_marked_section(CONFIG_DOC, "settings", &format!("\n{}", settings_table()));
}

#[test]
fn the_documented_defaults_make_a_valid_configuration() {
    cms_invitations::config::Config::defaults().unwrap();
}

/// The roles block under "## Roles" in `docs/configuration.md` says "The defaults:": loaded as a
/// configuration file, it must give exactly the default role policy.
#[test]
fn the_documented_default_roles_are_the_defaults() {
    let doc = std::fs::read_to_string(CONFIG_DOC).unwrap();
    let roles = doc.split_once("## Roles").unwrap().1;
    let block = roles
        .split_once("```toml\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block)
        .unwrap();
    let file = crate::helpers::temp_dir().join("roles.toml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, block).unwrap();
    let path = file.display().to_string();
    let config = cms_invitations::config::Config::load(|name| {
        (name == "INVITATIONS_CONFIG").then(|| path.clone())
    })
    .unwrap();
    assert_eq!(config.roles, cms_invitations::config::RolePolicy::default());
}
