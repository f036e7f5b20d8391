//! The committed GraphQL contract: the SDL file, the read-only fields, the error-code table.

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
use cms_invitations::ErrorCode;

const SDL_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/invitations.graphql");
const GRAPHQL_DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/graphql.md");

fn rewrite_contracts() -> bool {
    std::env::var_os("UPDATE_CONTRACTS").is_some()
}

#[test]
fn the_committed_sdl_matches_the_schema_the_code_builds() {
    let sdl = cms_invitations::graphql::sdl();
    if rewrite_contracts() {
        std::fs::write(SDL_FILE, &sdl).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(SDL_FILE).unwrap();
    assert!(
        committed == sdl,
        "schema/invitations.graphql drifted from the code; rerun with UPDATE_CONTRACTS=1 and review the diff"
    );
}

#[test]
fn no_input_type_accepts_a_read_only_field() {
    let document = parse_schema(cms_invitations::graphql::sdl()).unwrap();
    let read_only = ["secret", "state", "acceptedAt"];
    let mut input_types = 0;
    for definition in &document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let ty = &ty.node;
        match &ty.kind {
            TypeKind::InputObject(input) => {
                input_types += 1;
                for field in &input.fields {
                    let name = field.node.name.node.as_str();
                    assert!(
                        !read_only.contains(&name),
                        "input {} accepts {name}",
                        ty.name.node
                    );
                }
            }
            TypeKind::Object(object) if ty.name.node == "Mutation" => {
                // `secret` is how the invitee names the invitation, never a value to store;
                // no mutation takes `state` or `acceptedAt` at all.
                for field in &object.fields {
                    for argument in &field.node.arguments {
                        let name = argument.node.name.node.as_str();
                        assert!(
                            name != "state" && name != "acceptedAt",
                            "{} takes {name}",
                            field.node.name.node
                        );
                    }
                }
            }
            _ => {}
        }
    }
    assert!(input_types >= 4, "the walk saw the input types");
}

fn error_code_table() -> String {
    let mut table = String::from("| Code | Returned when |\n|---|---|\n");
    for code in ErrorCode::ALL {
        table.push_str(&format!("| `{}` | {} |\n", code.as_str(), code.meaning()));
    }
    table
}

#[test]
fn the_documented_error_codes_are_exactly_the_codes_of_the_api() {
    crate::contracts::assert_marked_section(
        GRAPHQL_DOC,
        "error-codes",
        &format!("\n{}", error_code_table()),
    );
}
