//! What is checked on a GraphQL document's text before it is parsed (its size, how deeply it
//! nests), and
//! one bounded walk over a parsed document: every field its operations select, with inline
//! fragments and fragment spreads followed (each spread where it stands, so a fragment spread
//! twice is visited twice).

use async_graphql::parser::types::{ExecutableDocument, Field, Selection, SelectionSet};

/// Brackets (`{`, `[`, `(`) one document may nest. Far more than any operation of this API
/// needs (selections stop at 12 levels, metadata at 16); far less than what exhausts the stack
/// of the parser, which recurses once per level before any of its own limits applies.
pub const MAX_NESTING: usize = 48;

/// Selections (fields, fragment spreads, inline fragments) one walk visits at most, fragments
/// expanded where they are spread. An operation of this API needs a few hundred; fragments that
/// spread each other several times expand exponentially, and past this they are refused.
pub const MAX_VISITED_SELECTIONS: usize = 10_000;

/// How deep the walk follows spreads and selections. Deeper than the executor's own recursion
/// limit (32), so every document the executor walks without error, this walk has counted.
const MAX_WALK_DEPTH: usize = 64;

/// Bytes of one GraphQL document (the `query` text; variables are bounded by the request body
/// limit). An operation of this API is a few KiB; parsing and validating a document costs
/// time and memory in proportion to its size, before any other limit can refuse it.
pub const MAX_DOCUMENT_BYTES: usize = 100 * 1024;

/// Why `text` is refused before anything parses it: larger than [`MAX_DOCUMENT_BYTES`], or
/// nesting brackets deeper than [`MAX_NESTING`].
pub fn precheck(text: &str) -> Result<(), String> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "the document is larger than {MAX_DOCUMENT_BYTES} bytes"
        ));
    }
    if nests_too_deeply(text) {
        return Err(format!(
            "the document nests brackets deeper than {MAX_NESTING} levels"
        ));
    }
    Ok(())
}

/// Whether `text` nests brackets deeper than [`MAX_NESTING`]: one pass over its bytes,
/// skipping strings, block strings and comments.
fn nests_too_deeply(text: &str) -> bool {
    let bytes = text.as_bytes();
    let at = |i: usize, token: &[u8]| bytes.get(i..).is_some_and(|rest| rest.starts_with(token));
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if at(i, b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !at(i, b"\"\"\"") {
                    i += if at(i, b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return true;
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

/// The walk met more than [`MAX_VISITED_SELECTIONS`] selections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManySelections;

/// Where a field stands: how many fields enclose it, itself included (a top-level field is at
/// level 1; fragments add none), and whether it is inside `__schema` or `__type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct FieldDepth {
    pub level: usize,
    pub introspection: bool,
}

/// Calls `visit` with every field that any operation of `document` selects, and where it
/// stands, or stops with [`TooManySelections`] once more than [`MAX_VISITED_SELECTIONS`] were
/// visited. Spreads are followed the way the executor's own checks follow them, cycles included
/// (to a depth past the executor's limit), so a document this walk accepts is one those checks
/// finish quickly.
pub(crate) fn for_each_field(
    document: &ExecutableDocument,
    mut visit: impl FnMut(&Field, FieldDepth),
) -> Result<(), TooManySelections> {
    let mut walk = Walk {
        document,
        budget: MAX_VISITED_SELECTIONS,
    };
    for (_, operation) in document.operations.iter() {
        walk.selections(
            &operation.node.selection_set.node,
            0,
            FieldDepth::default(),
            &mut visit,
        )?;
    }
    Ok(())
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    budget: usize,
}

impl Walk<'_> {
    fn selections(
        &mut self,
        set: &SelectionSet,
        depth: usize,
        at: FieldDepth,
        visit: &mut impl FnMut(&Field, FieldDepth),
    ) -> Result<(), TooManySelections> {
        if depth > MAX_WALK_DEPTH {
            return Ok(());
        }
        for selection in &set.items {
            self.budget = self.budget.checked_sub(1).ok_or(TooManySelections)?;
            let (inner, inner_at) = match &selection.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    let here = FieldDepth {
                        level: at.level + 1,
                        introspection: at.introspection || name == "__schema" || name == "__type",
                    };
                    visit(&field.node, here);
                    (&field.node.selection_set.node, here)
                }
                Selection::InlineFragment(fragment) => (&fragment.node.selection_set.node, at),
                Selection::FragmentSpread(spread) => {
                    match self.document.fragments.get(&spread.node.fragment_name.node) {
                        Some(fragment) => (&fragment.node.selection_set.node, at),
                        None => continue,
                    }
                }
            };
            self.selections(inner, depth + 1, inner_at, visit)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_past_its_size_or_nesting_is_refused_before_parsing() {
        assert_eq!(precheck("{ __typename }"), Ok(()));
        let large = format!("{{ a(s: \"{}\") }}", "x".repeat(MAX_DOCUMENT_BYTES));
        assert!(precheck(&large).unwrap_err().contains("larger than"));
        let deep = "[".repeat(MAX_NESTING + 1);
        assert!(precheck(&deep).unwrap_err().contains("nests"));
    }

    #[test]
    fn nesting_is_counted_over_brackets_outside_strings_and_comments() {
        let within = "{ a(b: [[1]], c: {d: 1}) { e } }";
        assert!(!nests_too_deeply(within));
        let deep = "{".repeat(MAX_NESTING + 1);
        assert!(nests_too_deeply(&deep));
        assert!(
            !nests_too_deeply(&"{}".repeat(10_000)),
            "siblings are not depth"
        );
        let hidden = [
            format!("{{ a(s: \"{}\") }}", "[".repeat(1000)),
            format!("{{ a(s: \"\\\"{}\") }}", "[".repeat(1000)),
            format!("{{ a(s: \"\"\"{}\\\"\"\" \"\"\") }}", "(".repeat(1000)),
            format!("{{ a # {}\n }}", "{".repeat(1000)),
        ];
        for text in &hidden {
            assert!(!nests_too_deeply(text), "{text}");
        }
        let after_string = format!("{{ a(s: \"x\") {} }}", "[".repeat(MAX_NESTING));
        assert!(nests_too_deeply(&after_string));
        let after_newline = format!("\"unterminated\n{}", "(".repeat(MAX_NESTING + 1));
        assert!(nests_too_deeply(&after_newline));
    }

    /// Fragments that spread the next one `spreads` times over `levels` levels, ending in
    /// `leaf`.
    fn fan_out(levels: usize, spreads: usize, leaf: &str) -> String {
        let mut text = String::from("query { ...F0 }");
        for i in 0..levels {
            let spread = format!("...F{} ", i + 1).repeat(spreads);
            text.push_str(&format!(" fragment F{i} on Query {{ {spread}}}"));
        }
        text.push_str(&format!(" fragment F{levels} on Query {{ {leaf} }}"));
        text
    }

    #[test]
    fn fragments_that_fan_out_stop_the_walk_at_its_budget() {
        // F0 spreads F1 twice, F1 spreads F2 twice, ...: 2^40 fields once expanded.
        let text = fan_out(40, 2, "__typename");
        let document = async_graphql::parser::parse_query(&text).unwrap();
        let mut visited = 0usize;
        assert_eq!(
            for_each_field(&document, |_, _| visited += 1),
            Err(TooManySelections)
        );
        assert!(visited < MAX_VISITED_SELECTIONS);

        // Fan-out with no field at all, and fan-out through a cycle, are counted the same.
        let spreads_only = fan_out(30, 3, "...Missing");
        let cycle = "query { ...A } fragment A on Query { ...A ...A }";
        for text in [spreads_only.as_str(), cycle] {
            let document = async_graphql::parser::parse_query(text).unwrap();
            assert_eq!(
                for_each_field(&document, |_, _| {}),
                Err(TooManySelections),
                "{text}"
            );
        }
        let short_cycle =
            async_graphql::parser::parse_query("query { ...A } fragment A on Query { a ...A }")
                .unwrap();
        assert_eq!(
            for_each_field(&short_cycle, |_, _| {}),
            Ok(()),
            "a plain cycle ends at the depth bound"
        );

        let small =
            async_graphql::parser::parse_query("{ a b { c } ...F } fragment F on Q { d }").unwrap();
        let mut names = Vec::new();
        for_each_field(&small, |f, _| names.push(f.name.node.to_string())).unwrap();
        assert_eq!(names, ["a", "b", "c", "d"]);
    }
}
