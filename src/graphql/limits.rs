//! Limits on what one operation may ask for, counted across aliases and fragments where the
//! complexity limit cannot see: how deep it nests (with room for the standard introspection
//! queries, which nest deeper than any query of the API), how many listings (each an index
//! walk), how many `totalCount`s (each counts every match) and how many invitations it creates
//! or resends. Before the executor parses the document: its size, how deeply its brackets nest
//! (the parser would exhaust its stack long before its own limits) and how many selections its
//! fragments expand to (the executor's own recursion check follows them all). All refused
//! before anything runs, as VALIDATION_FAILED.
//!
//! The same extension marks a request whose execution started ([`ExecutionStarted`], so the
//! transport can tell a request error from an execution result) and answers
//! `__schema { description }` from the schema's [`SchemaDescription`].

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextResolve,
    ResolveInfo,
};
use async_graphql::parser::types::{ExecutableDocument, Field};
use async_graphql::{Name, Response, ServerError, ServerResult, Value, Variables};

use super::document::{
    FieldDepth, MAX_VISITED_SELECTIONS, TooManySelections, for_each_field, precheck,
};
use super::{ExecutionStarted, SchemaDescription};

/// Request data from a transport that has run the text precheck and [`check`] on the
/// parsed document it hands the executor, so the extension does neither a second time.
#[derive(Debug, Clone, Copy)]
pub struct Checked;

/// The per-operation limits on a parsed document: depth, listings, counts, invitations
/// created or resent, and the selection budget of the walk.
pub fn check(document: &ExecutableDocument, variables: &Variables) -> ServerResult<()> {
    let mut tally = Tally::default();
    for_each_field(document, |field, at| tally.count(field, at, variables)).map_err(
        |TooManySelections| {
            ServerError::new(
                format!(
                    "the document holds more than {MAX_VISITED_SELECTIONS} selections once its fragments are expanded"
                ),
                None,
            )
        },
    )?;
    tally.check()
}

/// Deepest query accepted, counted in fields; the API's own types nest at most 6 levels.
pub const MAX_DEPTH: usize = 12;
/// Deepest introspection accepted (inside `__schema` or `__type`). The standard query of
/// graphql-js 16.8+ (`getIntrospectionQuery()`) reaches 15 through its nested `ofType`s; the
/// schema's types are finite, so a deeper one only repeats itself.
pub const MAX_INTROSPECTION_DEPTH: usize = 20;

/// `invitations` listings in one operation, across aliases.
pub const MAX_LISTINGS: usize = 10;
/// `totalCount` selections in one operation.
pub const MAX_COUNTS: usize = 3;
/// Invitations one operation creates or resends: `createInvitations` items plus
/// `createInvitation` and `resendInvitation` fields, across aliases (one bulk field takes at
/// most as many).
pub const MAX_BULK_ITEMS: usize = 1000;

/// Register on a schema with `.extension(OperationLimits)` (`InvitationsModule::register` does).
#[derive(Debug, Clone, Copy, Default)]
pub struct OperationLimits;

impl ExtensionFactory for OperationLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationLimits)
    }
}

#[async_trait::async_trait]
impl Extension for OperationLimits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        // A transport that checked the document and hands the executor its own parse (the
        // module's HTTP routes do) says so with [`Checked`]: nothing here is done twice.
        // Otherwise the text is checked, then counted on a parse of our own, before the
        // executor's parse, whose recursion check follows every spread of every fragment:
        // exponential for fragments that spread each other several times. A document that
        // does not parse is left to the executor, which reports it.
        if ctx.data_opt::<Checked>().is_none() {
            precheck(query).map_err(|why| ServerError::new(why, None))?;
            if let Ok(document) = async_graphql::parser::parse_query(query) {
                check(&document, variables)?;
            }
        }
        next.run(ctx, query, variables).await
    }

    /// `__schema { description }` is the schema's own description when its data names one
    /// ([`SchemaDescription`]), instead of the GraphQL library's fixed sentence about schemas
    /// in general. (Every field passes this hook whether it is overridden or not; the cost is
    /// one comparison.)
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.is_for_introspection
            && info.parent_type == "__Schema"
            && info.name == "description"
            && let Some(SchemaDescription(text)) = ctx.data_opt::<SchemaDescription>()
        {
            return Ok(Some(Value::String((*text).to_owned())));
        }
        next.run(ctx, info).await
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(started) = ctx.data_opt::<ExecutionStarted>() {
            started.mark();
        }
        next.run(ctx, operation_name).await
    }
}

#[derive(Debug, Default)]
struct Tally {
    listings: usize,
    counts: usize,
    bulk_items: usize,
    /// Deepest field outside introspection, and inside it.
    depth: usize,
    introspection_depth: usize,
}

impl Tally {
    fn count(&mut self, field: &Field, at: FieldDepth, variables: &Variables) {
        if at.introspection {
            self.introspection_depth = self.introspection_depth.max(at.level);
        } else {
            self.depth = self.depth.max(at.level);
        }
        match field.name.node.as_str() {
            "invitations" => self.listings += 1,
            "totalCount" => self.counts += 1,
            // Each sends an email: aliases of the single mutations add up like bulk items.
            "createInvitation" | "resendInvitation" => self.bulk_items += 1,
            "createInvitations" => {
                self.bulk_items += field
                    .arguments
                    .iter()
                    .find(|(name, _)| name.node == "inputs")
                    .and_then(|(_, value)| {
                        let lookup = |name: Name| variables.get(&name).cloned().ok_or(());
                        value.node.clone().into_const_with(lookup).ok()
                    })
                    .map_or(0, |value| match value {
                        Value::List(items) => items.len(),
                        _ => 0,
                    });
            }
            _ => {}
        }
    }

    fn check(&self) -> ServerResult<()> {
        let refuse = |what: String| Err(ServerError::new(what, None));
        if self.depth > MAX_DEPTH {
            return refuse(format!(
                "the query is nested {} levels deep; at most {MAX_DEPTH} are allowed",
                self.depth
            ));
        }
        if self.introspection_depth > MAX_INTROSPECTION_DEPTH {
            return refuse(format!(
                "the introspection query is nested {} levels deep; at most {MAX_INTROSPECTION_DEPTH} are allowed",
                self.introspection_depth
            ));
        }
        if self.listings > MAX_LISTINGS {
            return refuse(format!(
                "one operation may hold at most {MAX_LISTINGS} invitation listings; this one holds {}",
                self.listings
            ));
        }
        if self.counts > MAX_COUNTS {
            return refuse(format!(
                "one operation may select totalCount at most {MAX_COUNTS} times; this one selects it {} times",
                self.counts
            ));
        }
        if self.bulk_items > MAX_BULK_ITEMS {
            return refuse(format!(
                "one operation may create or resend at most {MAX_BULK_ITEMS} invitations; this one asks for {}",
                self.bulk_items
            ));
        }
        Ok(())
    }
}
