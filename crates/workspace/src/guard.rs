//! The read-only rule, checked twice: on the parsed statement (before
//! DataFusion plans anything) and on the logical plan (before anything
//! executes). The first gives the clear refusals; the second catches whatever
//! the first might miss, since it sees what would actually run.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    Ident, ObjectName, ObjectNamePart, Query, SetExpr, Statement, TableFactor, Visit, Visitor,
};

use crate::error::WorkspaceError;

/// Checks one parsed statement: a query (SELECT, WITH, VALUES, set
/// operations) or an EXPLAIN of one, reading only `tables` (and its own
/// common table expressions) by their bare names, with no table functions and
/// no `SELECT … INTO`.
pub(crate) fn check_statement(
    statement: &DfStatement,
    tables: &BTreeSet<String>,
) -> Result<(), WorkspaceError> {
    match statement {
        DfStatement::Statement(inner) => check_sql_statement(inner, tables),
        DfStatement::Explain(explain) => check_statement(&explain.statement, tables),
        DfStatement::CreateExternalTable(_) => Err(not_read_only("CREATE EXTERNAL TABLE")),
        DfStatement::CopyTo(_) => Err(not_read_only("COPY")),
        DfStatement::Reset(_) => Err(not_read_only("RESET")),
    }
}

fn check_sql_statement(
    statement: &Statement,
    tables: &BTreeSet<String>,
) -> Result<(), WorkspaceError> {
    match statement {
        Statement::Query(_) => {}
        Statement::Explain { statement, .. } => return check_sql_statement(statement, tables),
        other => return Err(not_read_only(&statement_kind(other))),
    }
    // Common table expression names anywhere in the statement may be read
    // as relations; the planner enforces their scope.
    let mut ctes = CteNames::default();
    let _ = statement.visit(&mut ctes);
    let mut readable = ctes.0;
    readable.extend(tables.iter().cloned());
    let mut check = Relations {
        readable: &readable,
        tables,
    };
    match statement.visit(&mut check) {
        ControlFlow::Break(refusal) => Err(refusal),
        ControlFlow::Continue(()) => Ok(()),
    }
}

fn not_read_only(what: &str) -> WorkspaceError {
    WorkspaceError::NotReadOnly { what: what.into() }
}

/// The statement's leading keywords, for the refusal ("INSERT", "CREATE
/// TABLE", …): its SQL text up to the first name or parenthesis, at most
/// three words.
fn statement_kind(statement: &Statement) -> String {
    let text = statement.to_string();
    let words: Vec<&str> = text
        .split_whitespace()
        .take_while(|w| w.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .take(3)
        .collect();
    if words.is_empty() {
        "this statement".into()
    } else {
        words.join(" ")
    }
}

/// DataFusion's identifier rule: unquoted names are lowercased.
fn normalise(ident: &Ident) -> String {
    match ident.quote_style {
        None => ident.value.to_lowercase(),
        Some(_) => ident.value.clone(),
    }
}

#[derive(Default)]
struct CteNames(BTreeSet<String>);

impl Visitor for CteNames {
    type Break = ();
    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.0.insert(normalise(&cte.alias.name));
            }
        }
        ControlFlow::Continue(())
    }
}

struct Relations<'a> {
    readable: &'a BTreeSet<String>,
    tables: &'a BTreeSet<String>,
}

impl Visitor for Relations<'_> {
    type Break = WorkspaceError;

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<WorkspaceError> {
        match statement {
            Statement::Query(_) => ControlFlow::Continue(()),
            other => ControlFlow::Break(not_read_only(&statement_kind(other))),
        }
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<WorkspaceError> {
        match query.body.as_ref() {
            SetExpr::Select(select) if select.into.is_some() => {
                ControlFlow::Break(not_read_only("SELECT … INTO"))
            }
            SetExpr::Insert(_) => ControlFlow::Break(not_read_only("INSERT")),
            SetExpr::Update(_) => ControlFlow::Break(not_read_only("UPDATE")),
            SetExpr::Delete(_) => ControlFlow::Break(not_read_only("DELETE")),
            SetExpr::Merge(_) => ControlFlow::Break(not_read_only("MERGE")),
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<WorkspaceError> {
        match factor {
            TableFactor::Table {
                name, args: None, ..
            } => match self.check_relation(name) {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => ControlFlow::Break(e),
            },
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            } => ControlFlow::Break(WorkspaceError::NotAllowed {
                what: format!("table function {name}"),
            }),
            TableFactor::Derived { .. } | TableFactor::NestedJoin { .. } => {
                ControlFlow::Continue(())
            }
            TableFactor::UNNEST { .. } => ControlFlow::Continue(()),
            other => ControlFlow::Break(WorkspaceError::NotAllowed {
                what: format!("the FROM item {other}"),
            }),
        }
    }
}

impl Relations<'_> {
    fn check_relation(&self, name: &ObjectName) -> Result<(), WorkspaceError> {
        let parts: Vec<&ObjectNamePart> = name.0.iter().collect();
        let [ObjectNamePart::Identifier(ident)] = parts.as_slice() else {
            return Err(WorkspaceError::NotAllowed {
                what: format!("the qualified or computed name {name} (name a table alone)"),
            });
        };
        let table = normalise(ident);
        if table.contains(['/', '\\', '.', ':']) || ident.quote_style == Some('\'') {
            return Err(WorkspaceError::NotAllowed {
                what: format!("the file path or URL {name}"),
            });
        }
        if self.readable.contains(&table) {
            Ok(())
        } else {
            Err(unknown_table(&table, self.tables))
        }
    }
}

pub(crate) fn unknown_table(name: &str, tables: &BTreeSet<String>) -> WorkspaceError {
    let known = if tables.is_empty() {
        "no tables".to_string()
    } else {
        tables.iter().cloned().collect::<Vec<_>>().join(", ")
    };
    WorkspaceError::UnknownTable {
        name: name.into(),
        known,
    }
}

/// Checks the logical plan, subqueries included: only relational operators
/// and scans of `tables` in the workspace's one schema. DDL, DML, COPY,
/// session statements (SET, transactions, prepared statements), DESCRIBE and
/// extension nodes are refused.
pub(crate) fn check_plan(
    plan: &LogicalPlan,
    tables: &BTreeSet<String>,
    catalog: &str,
    schema: &str,
) -> Result<(), WorkspaceError> {
    let mut refusal = None;
    let walk = plan.apply_with_subqueries(|node| {
        let found = match node {
            LogicalPlan::Projection(_)
            | LogicalPlan::Filter(_)
            | LogicalPlan::Window(_)
            | LogicalPlan::Aggregate(_)
            | LogicalPlan::Sort(_)
            | LogicalPlan::Join(_)
            | LogicalPlan::Repartition(_)
            | LogicalPlan::Union(_)
            | LogicalPlan::EmptyRelation(_)
            | LogicalPlan::Subquery(_)
            | LogicalPlan::SubqueryAlias(_)
            | LogicalPlan::Limit(_)
            | LogicalPlan::Values(_)
            | LogicalPlan::Explain(_)
            | LogicalPlan::Analyze(_)
            | LogicalPlan::Distinct(_)
            | LogicalPlan::Unnest(_)
            | LogicalPlan::RecursiveQuery(_) => None,
            LogicalPlan::TableScan(scan) => {
                let reference = &scan.table_name;
                let in_schema = reference.schema().is_none_or(|s| s == schema)
                    && reference.catalog().is_none_or(|c| c == catalog);
                if in_schema && tables.contains(reference.table()) {
                    None
                } else if in_schema {
                    Some(unknown_table(reference.table(), tables))
                } else {
                    Some(WorkspaceError::NotAllowed {
                        what: format!("the table {reference} outside the workspace"),
                    })
                }
            }
            LogicalPlan::Dml(dml) => Some(not_read_only(&format!("{} (DML)", dml.op))),
            LogicalPlan::Ddl(ddl) => Some(not_read_only(ddl.name())),
            LogicalPlan::Copy(_) => Some(not_read_only("COPY")),
            LogicalPlan::Statement(statement) => Some(not_read_only(statement.name())),
            LogicalPlan::DescribeTable(_) => Some(not_read_only("DESCRIBE")),
            LogicalPlan::Extension(extension) => Some(WorkspaceError::NotAllowed {
                what: format!("the plan node {}", extension.node.name()),
            }),
        };
        match found {
            None => Ok(TreeNodeRecursion::Continue),
            Some(e) => {
                refusal = Some(e);
                Ok(TreeNodeRecursion::Stop)
            }
        }
    });
    if let Some(e) = refusal {
        return Err(e);
    }
    walk.map(|_| ()).map_err(|e| WorkspaceError::Plan {
        message: e.to_string(),
    })
}
