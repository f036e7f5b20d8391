//! One walk over a parsed GraphQL document: every field its operations select, with inline
//! fragments and fragment spreads followed (each spread where it stands, so a fragment spread
//! twice is visited twice, and a cycle is left to GraphQL's own validation).

use std::collections::HashSet;

use async_graphql::Name;
use async_graphql::parser::types::{ExecutableDocument, Field, Selection, SelectionSet};

/// Calls `visit` with every field that any operation of `document` selects.
pub(crate) fn for_each_field(document: &ExecutableDocument, mut visit: impl FnMut(&Field)) {
    for (_, operation) in document.operations.iter() {
        let mut spreading = HashSet::new();
        walk(
            document,
            &operation.node.selection_set.node,
            &mut spreading,
            &mut visit,
        );
    }
}

fn walk(
    document: &ExecutableDocument,
    set: &SelectionSet,
    spreading: &mut HashSet<Name>,
    visit: &mut impl FnMut(&Field),
) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                visit(&field.node);
                walk(document, &field.node.selection_set.node, spreading, visit);
            }
            Selection::InlineFragment(fragment) => {
                walk(
                    document,
                    &fragment.node.selection_set.node,
                    spreading,
                    visit,
                );
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                if let Some(fragment) = document.fragments.get(name)
                    && spreading.insert(name.clone())
                {
                    walk(
                        document,
                        &fragment.node.selection_set.node,
                        spreading,
                        visit,
                    );
                    spreading.remove(name);
                }
            }
        }
    }
}
