//! The syntax tree of a KQL query: `let` statements, then one tabular expression (a source and
//! a pipeline of operators). Every node that can fail in planning keeps its position.

use crate::error::Pos;

#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub lets: Vec<Let>,
    /// The query's result; `None` when the text holds only `let` statements.
    pub body: Option<Tabular>,
    /// The value of a scalar function's body (`(x:string) { x endswith ".lan" }`).
    pub scalar: Option<Expr>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Let {
    Scalar {
        name: String,
        expr: Expr,
        pos: Pos,
    },
    Tabular {
        name: String,
        tab: Box<Tabular>,
        pos: Pos,
    },
    Function {
        name: String,
        params: Vec<Param>,
        body: Box<Script>,
        pos: Pos,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub ty: String,
    pub default: Option<Expr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tabular {
    pub source: Source,
    pub ops: Vec<(Op, Pos)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A table or a `let` name.
    Name(String, Pos),
    /// A call: a `let` function, a parser function (`_Im_NetworkSession(...)`), `materialize`.
    Call {
        name: String,
        args: Vec<Expr>,
        pos: Pos,
    },
    Datatable {
        columns: Vec<(String, String)>,
        values: Vec<Expr>,
        pos: Pos,
    },
    Print(Vec<NamedExpr>),
    Range {
        name: String,
        from: Expr,
        to: Expr,
        step: Expr,
        pos: Pos,
    },
    Union {
        fuzzy: bool,
        tables: Vec<Tabular>,
        pos: Pos,
    },
    ExternalData {
        columns: Vec<(String, String)>,
        urls: Vec<String>,
        pos: Pos,
    },
    Paren(Box<Tabular>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct NamedExpr {
    /// `name = expr`, or `(a, b) = expr`; empty: a name is derived.
    pub names: Vec<String>,
    pub expr: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub desc: bool,
    pub nulls_first: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JoinOn {
    /// `on a`: the same column on both sides.
    Same(String),
    /// `on $left.a == $right.b`.
    Pair(String, String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Where(Expr),
    Project(Vec<NamedExpr>),
    ProjectAway(Vec<String>),
    ProjectKeep(Vec<String>),
    ProjectRename(Vec<(String, String)>),
    /// Patterns, and whether the columns a pattern matches are sorted by name descending.
    ProjectReorder(Vec<String>, Option<bool>),
    Extend(Vec<NamedExpr>),
    Summarize {
        aggs: Vec<NamedExpr>,
        by: Vec<NamedExpr>,
    },
    Distinct(Option<Vec<NamedExpr>>),
    Count,
    Take(Expr),
    Top {
        n: Expr,
        key: SortKey,
    },
    Sort(Vec<SortKey>),
    Join {
        kind: String,
        right: Tabular,
        on: Vec<JoinOn>,
        /// `join kind=inner T where predicate` (no `on`): the pairs of rows it holds for.
        filter: Option<Expr>,
    },
    Lookup {
        kind: String,
        right: Tabular,
        on: Vec<JoinOn>,
    },
    Union {
        fuzzy: bool,
        tables: Vec<Tabular>,
    },
    /// `mv-expand [with_itemindex=I] cols [limit N]`.
    MvExpand {
        items: Vec<NamedExpr>,
        index: Option<String>,
        limit: Option<i64>,
    },
    As(String),
    Serialize(Vec<NamedExpr>),
    Getschema,
    Render,
    /// `parse [kind=simple|regex|relaxed] [flags=...] expr with pattern`.
    Parse {
        kind: String,
        flags: String,
        source: Expr,
        items: Vec<ParseItem>,
    },
    /// A valid operator nethunt does not run: its name.
    Unsupported(String),
}

/// One piece of a `parse` pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseItem {
    /// `*`: any text, skipped.
    Star,
    /// A string: literal text (a regular expression in kind=regex).
    Text(String),
    /// A column to extract, with its type (`string` when none is given).
    Column(String, String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    Real(f64),
    Str(String),
    /// Microseconds since the epoch, UTC.
    DateTime(i64),
    /// Nanoseconds.
    Span(i64),
    /// A typed null: `int(null)`, `datetime(null)`.
    TypedNull(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Col(String, Pos),
    Lit(Lit, Pos),
    Neg(Box<Expr>, Pos),
    Binary {
        op: String,
        left: Box<Expr>,
        right: Box<Expr>,
        pos: Pos,
    },
    Call {
        name: String,
        args: Vec<Expr>,
        pos: Pos,
    },
    /// `name = value` inside a call's arguments (parser functions, `with (...)`).
    NamedArg(String, Box<Expr>, Pos),
    /// `x in (a, b)`, `x !in (T)`, `x in~ (...)`, `x has_any (...)`, `x has_all (...)`.
    InList {
        op: String,
        expr: Box<Expr>,
        list: Vec<Expr>,
        pos: Pos,
    },
    /// `x in (T)` where T is tabular.
    InTable {
        negated: bool,
        expr: Box<Expr>,
        table: Box<Tabular>,
        pos: Pos,
    },
    Between {
        negated: bool,
        expr: Box<Expr>,
        lo: Box<Expr>,
        hi: Box<Expr>,
        pos: Pos,
    },
    /// `dynamic([...])`, `pack_array(...)`.
    Array(Vec<Expr>, Pos),
    /// A property bag, `dynamic({"key": value, ...})`.
    Bag(Vec<(String, Expr)>, Pos),
    /// `d.name`, `d["name"]`, `d[i]`: a member of a bag or an element of an array.
    Member(Box<Expr>, Box<Expr>, Pos),
    /// `*` in `arg_max(x, *)`, `count(*)`.
    Star(Pos),
    /// `toscalar(T)`, `materialize(T)` inside an expression.
    Tabular(Box<Tabular>, Pos),
}

impl Expr {
    pub fn pos(&self) -> Pos {
        match self {
            Expr::Col(_, p)
            | Expr::Lit(_, p)
            | Expr::Neg(_, p)
            | Expr::Binary { pos: p, .. }
            | Expr::Call { pos: p, .. }
            | Expr::NamedArg(_, _, p)
            | Expr::InList { pos: p, .. }
            | Expr::InTable { pos: p, .. }
            | Expr::Between { pos: p, .. }
            | Expr::Array(_, p)
            | Expr::Bag(_, p)
            | Expr::Member(_, _, p)
            | Expr::Star(p)
            | Expr::Tabular(_, p) => *p,
        }
    }
}
