//! Committed contracts that must not drift from the code. `UPDATE_CONTRACTS=1` rewrites them
//! on purpose.

use cms_invitations::config::SETTINGS;

const CONFIG_DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");
const START: &str = "<!-- settings:start -->";
const END: &str = "<!-- settings:end -->";

fn settings_table() -> String {
    let mut table = String::from(
        "| Setting (TOML key) | Environment variable | Default | Meaning |\n|---|---|---|---|\n",
    );
    for s in SETTINGS {
        let default = if s.default.is_empty() {
            "(unset)".to_owned()
        } else {
            format!("`{}`", s.default)
        };
        table.push_str(&format!(
            "| `{}` | `{}` | {} | {} |\n",
            s.key, s.env, default, s.meaning
        ));
    }
    table
}

#[test]
fn the_documented_configuration_defaults_match_the_code() {
    let doc = std::fs::read_to_string(CONFIG_DOC).expect("docs/configuration.md exists");
    let (head, rest) = doc.split_once(START).expect("the settings start marker");
    let (current, tail) = rest.split_once(END).expect("the settings end marker");
    let expected = format!("\n{}", settings_table());
    if std::env::var_os("UPDATE_CONTRACTS").is_some() {
        std::fs::write(CONFIG_DOC, format!("{head}{START}{expected}{END}{tail}")).unwrap();
        return;
    }
    assert_eq!(
        current, expected,
        "docs/configuration.md drifted from src/config/settings.rs; rerun with UPDATE_CONTRACTS=1"
    );
}

#[test]
fn the_documented_defaults_make_a_valid_configuration() {
    cms_invitations::config::Config::defaults().unwrap();
}
