//! A hand-written recursive-descent parser for KQL, checked against Microsoft's grammar
//! (microsoft/Kusto-Query-Language, `grammar/Kql.g4`) for the constructs it reads. Errors name
//! `line:col`, the token found and what was expected; a valid operator nethunt does not run is
//! parsed as `Op::Unsupported` so the planner can say "not supported yet" and name it. Nesting
//! deeper than [`MAX_DEPTH`] is an error, never a stack overflow.

use crate::ast::*;
use crate::error::{KqlError, Pos};
use crate::lexer::{Tok, Token, lex};

/// How deep expressions and sub-queries may nest.
pub const MAX_DEPTH: usize = 64;

/// Parse KQL text: `let` statements and one query, separated by `;`.
pub fn parse(text: &str) -> Result<Script, KqlError> {
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        i: 0,
        depth: 0,
    };
    let s = p.script(&[])?;
    if !matches!(p.peek(), Tok::Eof) {
        return Err(p.expected("';' or the end of the query"));
    }
    Ok(s)
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

/// Tabular operators nethunt does not run, recognised so the error can name them.
const OTHER_OPERATORS: &[&str] = &[
    "parse",
    "parse-where",
    "parse-kv",
    "mv-apply",
    "evaluate",
    "make-series",
    "scan",
    "reduce",
    "partition",
    "sample",
    "sample-distinct",
    "fork",
    "facet",
    "invoke",
    "find",
    "search",
    "make-graph",
    "graph-match",
    "graph-to-table",
    "graph-mark-components",
    "top-nested",
    "top-hitters",
    "extend-schema",
    "consume",
    "project-smart",
    "lookup-kind",
    "as-of",
    "externaldata",
    "summarize-hint",
];

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].tok
    }
    fn peek_at(&self, k: usize) -> &Tok {
        &self.toks[(self.i + k).min(self.toks.len() - 1)].tok
    }
    fn pos(&self) -> Pos {
        self.toks[self.i].pos
    }
    fn next(&mut self) -> Token {
        let t = self.toks[self.i].clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn expected(&self, what: &str) -> KqlError {
        KqlError::syntax(
            self.pos(),
            format!("expected {what}, found {}", self.peek().describe()),
        )
    }
    fn is_sym(&self, s: &str) -> bool {
        matches!(self.peek(), Tok::Sym(x) if *x == s)
    }
    fn eat_sym(&mut self, s: &str) -> bool {
        if self.is_sym(s) {
            self.next();
            true
        } else {
            false
        }
    }
    fn sym(&mut self, s: &str) -> Result<(), KqlError> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(self.expected(&format!("'{s}'")))
        }
    }
    fn is_kw(&self, k: &str) -> bool {
        matches!(self.peek(), Tok::Ident(x) if x == k)
    }
    fn eat_kw(&mut self, k: &str) -> bool {
        if self.is_kw(k) {
            self.next();
            true
        } else {
            false
        }
    }
    fn ident(&mut self) -> Result<String, KqlError> {
        match self.peek().clone() {
            Tok::Ident(s) | Tok::QuotedIdent(s) => {
                self.next();
                Ok(s)
            }
            _ => Err(self.expected("a name")),
        }
    }
    fn enter(&mut self) -> Result<(), KqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(KqlError::syntax(
                self.pos(),
                format!("the query nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }
    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// `let` statements and at most one query, separated by `;`, up to one of `end`.
    fn script(&mut self, end: &[&str]) -> Result<Script, KqlError> {
        let mut lets = Vec::new();
        let mut body = None;
        let mut scalar = None;
        loop {
            while self.eat_sym(";") {}
            if matches!(self.peek(), Tok::Eof) || end.iter().any(|e| self.is_sym(e)) {
                break;
            }
            if self.is_kw("let") {
                lets.push(self.let_stmt()?);
            } else if self.is_kw("declare") {
                return Err(KqlError::unsupported(Some(self.pos()), "'declare'"));
            } else if self.is_kw("set") && matches!(self.peek_at(1), Tok::Ident(_)) {
                return Err(KqlError::unsupported(Some(self.pos()), "'set' statements"));
            } else {
                if body.is_some() || scalar.is_some() {
                    return Err(self.expected("';' before another statement"));
                }
                match self.tab_or_expr()? {
                    Either::Tab(t) => body = Some(*t),
                    Either::Expr(Expr::Col(n, p)) if end.is_empty() => {
                        body = Some(Tabular {
                            source: Source::Name(n, p),
                            ops: Vec::new(),
                        })
                    }
                    Either::Expr(Expr::Call { name, args, pos }) if end.is_empty() => {
                        body = Some(Tabular {
                            source: Source::Call { name, args, pos },
                            ops: Vec::new(),
                        })
                    }
                    Either::Expr(e) if end.is_empty() => {
                        return Err(KqlError::syntax(
                            e.pos(),
                            "expected a tabular expression (a table, print, datatable, ...)",
                        ));
                    }
                    Either::Expr(e) => scalar = Some(e),
                }
            }
            if !self.eat_sym(";") {
                break;
            }
        }
        Ok(Script { lets, body, scalar })
    }

    fn let_stmt(&mut self) -> Result<Let, KqlError> {
        let pos = self.pos();
        self.next(); // let
        let name = self.ident()?;
        self.sym("=")?;
        // A lambda: (name:type, ...) { body }
        if self.is_sym("(")
            && (matches!(self.peek_at(1), Tok::Sym(")"))
                && matches!(self.peek_at(2), Tok::Sym("{"))
                || matches!(self.peek_at(1), Tok::Ident(_))
                    && matches!(self.peek_at(2), Tok::Sym(":")))
        {
            self.next();
            let mut params = Vec::new();
            while !self.is_sym(")") {
                let pname = self.ident()?;
                self.sym(":")?;
                let ty = if self.eat_sym("(") {
                    // a tabular parameter: (*) or (col:type, ...)
                    let mut depth = 1;
                    while depth > 0 {
                        match self.next().tok {
                            Tok::Sym("(") => depth += 1,
                            Tok::Sym(")") => depth -= 1,
                            Tok::Eof => return Err(self.expected("')'")),
                            _ => {}
                        }
                    }
                    "table".to_string()
                } else {
                    self.ident()?
                };
                let default = if self.eat_sym("=") {
                    Some(self.expr()?)
                } else {
                    None
                };
                params.push(Param {
                    name: pname,
                    ty,
                    default,
                });
                if !self.eat_sym(",") {
                    break;
                }
            }
            self.sym(")")?;
            self.sym("{")?;
            self.enter()?;
            let body = self.script(&["}"])?;
            self.leave();
            self.sym("}")?;
            return Ok(Let::Function {
                name,
                params,
                body: Box::new(body),
                pos,
            });
        }
        match self.tab_or_expr()? {
            Either::Tab(tab) => Ok(Let::Tabular { name, tab, pos }),
            Either::Expr(expr) => Ok(Let::Scalar { name, expr, pos }),
        }
    }

    /// A tabular expression or a scalar one; an expression followed by `|` becomes the source of
    /// a pipeline.
    fn tab_or_expr(&mut self) -> Result<Either, KqlError> {
        if let Tok::Ident(k) = self.peek()
            && matches!(
                k.as_str(),
                "datatable" | "range" | "print" | "union" | "externaldata" | "external_data"
            )
            && !matches!(
                self.peek_at(1),
                Tok::Sym("=") | Tok::Sym("==") | Tok::Sym(")") | Tok::Sym(",")
            )
        {
            return Ok(Either::Tab(Box::new(self.tabular()?)));
        }
        let e = self.expr()?;
        if self.is_sym("|") {
            let source = expr_to_source(e)?;
            let ops = self.pipeline()?;
            return Ok(Either::Tab(Box::new(Tabular { source, ops })));
        }
        Ok(match e {
            Expr::Tabular(t, _) => Either::Tab(t),
            e => Either::Expr(e),
        })
    }

    fn tabular(&mut self) -> Result<Tabular, KqlError> {
        self.enter()?;
        let source = self.source()?;
        let ops = self.pipeline()?;
        self.leave();
        Ok(Tabular { source, ops })
    }

    fn pipeline(&mut self) -> Result<Vec<(Op, Pos)>, KqlError> {
        let mut ops = Vec::new();
        while self.eat_sym("|") {
            let pos = self.pos();
            ops.push((self.operator()?, pos));
        }
        Ok(ops)
    }

    fn source(&mut self) -> Result<Source, KqlError> {
        let pos = self.pos();
        let kw = match self.peek() {
            Tok::Ident(k) => k.clone(),
            Tok::QuotedIdent(n) => {
                let n = n.clone();
                self.next();
                return Ok(Source::Name(n, pos));
            }
            Tok::Sym("(") => {
                self.next();
                let t = self.tabular()?;
                self.sym(")")?;
                return Ok(Source::Paren(Box::new(t)));
            }
            _ => return Err(self.expected("a table, datatable, print, range or union")),
        };
        match kw.as_str() {
            "datatable" => {
                self.next();
                let columns = self.column_decls()?;
                if let Tok::QuotedIdent(one) = self.peek().clone() {
                    // datatable(a:string)['x']: the lexer took it for a quoted name
                    self.next();
                    let values = vec![Expr::Lit(Lit::Str(one), pos)];
                    return Ok(Source::Datatable {
                        columns,
                        values,
                        pos,
                    });
                }
                self.sym("[")?;
                let mut values = Vec::new();
                while !self.is_sym("]") {
                    values.push(self.expr()?);
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                self.sym("]")?;
                Ok(Source::Datatable {
                    columns,
                    values,
                    pos,
                })
            }
            "print" => {
                self.next();
                Ok(Source::Print(self.named_list()?))
            }
            "range" => {
                self.next();
                let name = self.ident()?;
                if !self.eat_kw("from") {
                    return Err(self.expected("'from'"));
                }
                let from = self.expr()?;
                if !self.eat_kw("to") {
                    return Err(self.expected("'to'"));
                }
                let to = self.expr()?;
                if !self.eat_kw("step") {
                    return Err(self.expected("'step'"));
                }
                let step = self.expr()?;
                Ok(Source::Range {
                    name,
                    from,
                    to,
                    step,
                    pos,
                })
            }
            "union" => {
                self.next();
                let (fuzzy, tables) = self.union_body()?;
                Ok(Source::Union { fuzzy, tables, pos })
            }
            "externaldata" | "external_data" => {
                self.next();
                let columns = self.column_decls()?;
                self.sym("[")?;
                let mut urls = Vec::new();
                while !self.is_sym("]") {
                    match self.next().tok {
                        Tok::Str(s) => urls.push(s),
                        _ => return Err(self.expected("a URL string")),
                    }
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                self.sym("]")?;
                if self.eat_kw("with") {
                    self.sym("(")?;
                    while !self.is_sym(")") {
                        self.ident()?;
                        self.sym("=")?;
                        self.expr()?;
                        if !self.eat_sym(",") {
                            break;
                        }
                    }
                    self.sym(")")?;
                }
                Ok(Source::ExternalData { columns, urls, pos })
            }
            _ => {
                let e = self.expr()?;
                expr_to_source(e)
            }
        }
    }

    fn column_decls(&mut self) -> Result<Vec<(String, String)>, KqlError> {
        self.sym("(")?;
        let mut cols = Vec::new();
        while !self.is_sym(")") {
            let n = self.ident()?;
            self.sym(":")?;
            let t = self.ident()?;
            cols.push((n, t));
            if !self.eat_sym(",") {
                break;
            }
        }
        self.sym(")")?;
        Ok(cols)
    }

    fn union_body(&mut self) -> Result<(bool, Vec<Tabular>), KqlError> {
        let mut fuzzy = false;
        loop {
            if self.is_kw("isfuzzy") || self.is_kw("kind") || self.is_kw("withsource") {
                let k = self.ident()?;
                self.sym("=")?;
                let v = self.next().tok;
                if k == "isfuzzy" {
                    fuzzy = v == Tok::Ident("true".into());
                } else if k == "withsource" {
                    return Err(KqlError::unsupported(Some(self.pos()), "union withsource="));
                }
            } else {
                break;
            }
        }
        let mut tables = Vec::new();
        loop {
            tables.push(self.table_operand()?);
            if !self.eat_sym(",") {
                break;
            }
        }
        Ok((fuzzy, tables))
    }

    /// A table operand of join, lookup and union: `(tabular)` or a name.
    fn table_operand(&mut self) -> Result<Tabular, KqlError> {
        if self.eat_sym("(") {
            let t = self.tabular()?;
            self.sym(")")?;
            return Ok(t);
        }
        let pos = self.pos();
        Ok(Tabular {
            source: Source::Name(self.ident()?, pos),
            ops: Vec::new(),
        })
    }

    /// The operator's name, dashes included (`project-away`, `mv-expand`).
    fn op_name(&mut self) -> Result<String, KqlError> {
        let mut name = match self.next().tok {
            Tok::Ident(s) => s,
            _ => {
                self.i -= 1;
                return Err(self.expected("an operator"));
            }
        };
        while self.is_sym("-") && !self.toks[self.i].spaced {
            if let Tok::Ident(s) = self.peek_at(1).clone()
                && !self.toks[self.i + 1].spaced
            {
                self.next();
                self.next();
                name.push('-');
                name.push_str(&s);
            } else {
                break;
            }
        }
        Ok(name)
    }

    fn operator(&mut self) -> Result<Op, KqlError> {
        let pos = self.pos();
        let name = self.op_name()?;
        Ok(match name.as_str() {
            "where" | "filter" => Op::Where(self.expr()?),
            "project" => Op::Project(self.named_list()?),
            "project-away" => Op::ProjectAway(self.name_patterns()?),
            "project-keep" => Op::ProjectKeep(self.name_patterns()?),
            "project-reorder" => {
                let pats = self.name_patterns()?;
                let order = if self.eat_kw("asc") || self.eat_kw("granny-asc") {
                    Some(false)
                } else if self.eat_kw("desc") || self.eat_kw("granny-desc") {
                    Some(true)
                } else {
                    None
                };
                Op::ProjectReorder(pats, order)
            }
            "project-rename" => {
                let mut pairs = Vec::new();
                loop {
                    let new = self.ident()?;
                    self.sym("=")?;
                    let old = self.ident()?;
                    pairs.push((new, old));
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                Op::ProjectRename(pairs)
            }
            "extend" => Op::Extend(self.named_list()?),
            "summarize" => {
                self.hints()?;
                let aggs = if self.is_kw("by") {
                    Vec::new()
                } else {
                    self.named_list()?
                };
                let by = if self.eat_kw("by") {
                    self.named_list()?
                } else {
                    Vec::new()
                };
                Op::Summarize { aggs, by }
            }
            "distinct" => {
                if self.eat_sym("*") {
                    Op::Distinct(None)
                } else {
                    Op::Distinct(Some(self.named_list()?))
                }
            }
            "count" => Op::Count,
            "take" | "limit" => Op::Take(self.expr()?),
            "top" => {
                let n = self.expr()?;
                if !self.eat_kw("by") {
                    return Err(self.expected("'by'"));
                }
                let key = self.sort_key()?;
                Op::Top { n, key }
            }
            "sort" | "order" => {
                if !self.eat_kw("by") {
                    return Err(self.expected("'by'"));
                }
                let mut keys = Vec::new();
                loop {
                    keys.push(self.sort_key()?);
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                Op::Sort(keys)
            }
            "join" | "lookup" => {
                let mut kind = String::new();
                loop {
                    if self.is_kw("kind") {
                        self.next();
                        self.sym("=")?;
                        kind = self.ident()?;
                    } else if let Tok::Ident(h) = self.peek()
                        && h.starts_with("hint")
                    {
                        self.next();
                        self.sym(".")?;
                        self.ident()?;
                        self.sym("=")?;
                        self.next();
                    } else {
                        break;
                    }
                }
                let right = self.table_operand()?;
                if name == "join" && self.eat_kw("where") {
                    // Sentinel's port-misuse rules: `join kind=inner T where Ports has ...`
                    let filter = self.expr()?;
                    return Ok(Op::Join {
                        kind: if kind.is_empty() {
                            "innerunique".into()
                        } else {
                            kind
                        },
                        right,
                        on: Vec::new(),
                        filter: Some(filter),
                    });
                }
                if !self.eat_kw("on") {
                    return Err(self.expected("'on'"));
                }
                let mut on = Vec::new();
                loop {
                    if self.eat_sym("$") {
                        let side = self.ident()?;
                        self.sym(".")?;
                        let a = self.ident()?;
                        self.sym("==")?;
                        self.sym("$")?;
                        let side2 = self.ident()?;
                        self.sym(".")?;
                        let b = self.ident()?;
                        match (side.as_str(), side2.as_str()) {
                            ("left", "right") => on.push(JoinOn::Pair(a, b)),
                            ("right", "left") => on.push(JoinOn::Pair(b, a)),
                            _ => {
                                return Err(KqlError::syntax(
                                    pos,
                                    "join on: expected $left.a == $right.b",
                                ));
                            }
                        }
                    } else {
                        on.push(JoinOn::Same(self.ident()?));
                    }
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                if name == "join" {
                    Op::Join {
                        kind: if kind.is_empty() {
                            "innerunique".into()
                        } else {
                            kind
                        },
                        right,
                        on,
                        filter: None,
                    }
                } else {
                    Op::Lookup {
                        kind: if kind.is_empty() {
                            "leftouter".into()
                        } else {
                            kind
                        },
                        right,
                        on,
                    }
                }
            }
            "union" => {
                let (fuzzy, tables) = self.union_body()?;
                Op::Union { fuzzy, tables }
            }
            "mv-expand" => {
                let mut index = None;
                loop {
                    if self.is_kw("with_itemindex") {
                        self.next();
                        self.sym("=")?;
                        index = Some(self.ident()?);
                    } else if self.is_kw("bagexpansion") || self.is_kw("kind") {
                        // bag (one-member bags) is what nethunt does; array is not
                        let p = self.pos();
                        self.next();
                        self.sym("=")?;
                        let v = self.ident()?;
                        if v != "bag" {
                            return Err(KqlError::unsupported(
                                Some(p),
                                format!("mv-expand bagexpansion={v}"),
                            ));
                        }
                    } else {
                        break;
                    }
                }
                let items = self.named_list()?;
                if self.is_kw("to") {
                    return Err(KqlError::unsupported(
                        Some(self.pos()),
                        "mv-expand to typeof()",
                    ));
                }
                let limit = if self.eat_kw("limit") {
                    match self.peek().clone() {
                        Tok::Int(n) if n >= 0 => {
                            self.next();
                            Some(n)
                        }
                        _ => return Err(self.expected("a row limit")),
                    }
                } else {
                    None
                };
                Op::MvExpand {
                    items,
                    index,
                    limit,
                }
            }
            "as" => {
                while self.is_kw("hint") {
                    self.next();
                }
                Op::As(self.ident()?)
            }
            "serialize" => {
                if self.is_sym("|")
                    || self.is_sym(")")
                    || self.is_sym(";")
                    || matches!(self.peek(), Tok::Eof)
                {
                    Op::Serialize(Vec::new())
                } else {
                    Op::Serialize(self.named_list()?)
                }
            }
            "getschema" => Op::Getschema,
            "parse" => {
                let mut kind = "simple".to_string();
                let mut flags = String::new();
                while self.is_kw("kind") || self.is_kw("flags") {
                    let k = self.ident()?;
                    self.sym("=")?;
                    let v = self.ident()?;
                    if k == "kind" {
                        kind = v;
                    } else {
                        flags = v;
                    }
                }
                let source = self.add()?;
                if !self.eat_kw("with") {
                    return Err(self.expected("'with'"));
                }
                let mut items = Vec::new();
                loop {
                    match self.peek().clone() {
                        Tok::Sym("*") => {
                            self.next();
                            items.push(ParseItem::Star);
                        }
                        Tok::Str(t) => {
                            self.next();
                            items.push(ParseItem::Text(t));
                        }
                        Tok::Ident(n) | Tok::QuotedIdent(n) => {
                            self.next();
                            let ty = if self.eat_sym(":") {
                                self.ident()?
                            } else {
                                "string".into()
                            };
                            items.push(ParseItem::Column(n, ty));
                        }
                        _ => break,
                    }
                }
                if items.is_empty() {
                    return Err(self.expected("a parse pattern"));
                }
                Op::Parse {
                    kind,
                    flags,
                    source,
                    items,
                }
            }
            "render" => {
                self.skip_operator();
                Op::Render
            }
            other if OTHER_OPERATORS.contains(&other) => {
                self.skip_operator();
                Op::Unsupported(other.to_string())
            }
            other => {
                return Err(KqlError::syntax(
                    pos,
                    format!("unknown tabular operator '{other}'"),
                ));
            }
        })
    }

    /// Skip an operator's arguments, up to the next `|`, `)` or `;` at this level.
    fn skip_operator(&mut self) {
        let mut depth = 0i32;
        loop {
            match self.peek() {
                Tok::Eof => return,
                Tok::Sym("(") | Tok::Sym("[") | Tok::Sym("{") => depth += 1,
                Tok::Sym(")") | Tok::Sym("]") | Tok::Sym("}") => {
                    if depth == 0 {
                        return;
                    }
                    depth -= 1
                }
                Tok::Sym("|") | Tok::Sym(";") if depth == 0 => return,
                _ => {}
            }
            self.next();
        }
    }

    fn hints(&mut self) -> Result<(), KqlError> {
        while let Tok::Ident(h) = self.peek() {
            if !h.starts_with("hint") || !matches!(self.peek_at(1), Tok::Sym(".")) {
                break;
            }
            self.next();
            self.sym(".")?;
            self.ident()?;
            self.sym("=")?;
            self.next();
        }
        Ok(())
    }

    fn sort_key(&mut self) -> Result<SortKey, KqlError> {
        let expr = self.expr()?;
        // KQL sorts descending by default; nulls come last when descending, first when ascending.
        let desc = if self.eat_kw("asc") {
            false
        } else {
            self.eat_kw("desc");
            true
        };
        let mut nulls_first = !desc;
        if self.eat_kw("nulls") {
            if self.eat_kw("first") {
                nulls_first = true;
            } else if self.eat_kw("last") {
                nulls_first = false;
            } else {
                return Err(self.expected("'first' or 'last'"));
            }
        }
        Ok(SortKey {
            expr,
            desc,
            nulls_first,
        })
    }

    fn name_patterns(&mut self) -> Result<Vec<String>, KqlError> {
        let mut out = Vec::new();
        loop {
            let mut n = match self.peek().clone() {
                Tok::Ident(s) | Tok::QuotedIdent(s) => {
                    self.next();
                    s
                }
                Tok::Sym("*") => String::new(),
                _ => return Err(self.expected("a column name")),
            };
            while self.is_sym("*") && (n.is_empty() || !self.toks[self.i].spaced) {
                self.next();
                n.push('*');
                if let Tok::Ident(s) = self.peek().clone()
                    && !self.toks[self.i].spaced
                {
                    self.next();
                    n.push_str(&s);
                }
            }
            out.push(n);
            if !self.eat_sym(",") {
                break;
            }
        }
        Ok(out)
    }

    fn named_list(&mut self) -> Result<Vec<NamedExpr>, KqlError> {
        let mut out = Vec::new();
        loop {
            out.push(self.named()?);
            if !self.eat_sym(",") {
                break;
            }
        }
        Ok(out)
    }

    fn named(&mut self) -> Result<NamedExpr, KqlError> {
        // name = expr, (a, b) = expr
        if matches!(self.peek(), Tok::Ident(_) | Tok::QuotedIdent(_))
            && matches!(self.peek_at(1), Tok::Sym("="))
        {
            let n = self.ident()?;
            self.sym("=")?;
            return Ok(NamedExpr {
                names: vec![n],
                expr: self.expr()?,
            });
        }
        if self.is_sym("(") {
            let save = self.i;
            self.next();
            let mut names = Vec::new();
            while let Tok::Ident(n) | Tok::QuotedIdent(n) = self.peek().clone() {
                self.next();
                names.push(n);
                if !self.eat_sym(",") {
                    break;
                }
            }
            if self.eat_sym(")") && self.eat_sym("=") && !names.is_empty() {
                return Ok(NamedExpr {
                    names,
                    expr: self.expr()?,
                });
            }
            self.i = save;
        }
        Ok(NamedExpr {
            names: Vec::new(),
            expr: self.expr()?,
        })
    }

    // ---------------------------------------------------------------------------------------
    // Expressions

    fn expr(&mut self) -> Result<Expr, KqlError> {
        self.enter()?;
        let e = self.or();
        self.leave();
        e
    }

    fn or(&mut self) -> Result<Expr, KqlError> {
        self.chain("or", Self::and)
    }

    fn and(&mut self) -> Result<Expr, KqlError> {
        self.chain("and", Self::cmp)
    }

    /// `operand (keyword operand)*`, left-associative: the `or` and `and` levels.
    fn chain(
        &mut self,
        keyword: &str,
        operand: fn(&mut Self) -> Result<Expr, KqlError>,
    ) -> Result<Expr, KqlError> {
        let mut l = operand(self)?;
        while self.is_kw(keyword) {
            let pos = self.pos();
            self.next();
            let r = operand(self)?;
            l = Expr::Binary {
                op: keyword.into(),
                left: Box::new(l),
                right: Box::new(r),
                pos,
            };
        }
        Ok(l)
    }

    /// The comparison or string operator at the cursor, if any (`!has` is `!` + `has`).
    fn cmp_op(&self) -> Option<(String, usize)> {
        const WORDS: &[&str] = &[
            "has",
            "has_cs",
            "hasprefix",
            "hasprefix_cs",
            "hassuffix",
            "hassuffix_cs",
            "contains",
            "contains_cs",
            "startswith",
            "startswith_cs",
            "endswith",
            "endswith_cs",
            "in",
            "has_any",
            "has_all",
            "between",
            "matches",
            "like",
            "notlike",
        ];
        match self.peek() {
            Tok::Sym(s) if ["==", "!=", "<", "<=", ">", ">=", "=~", "!~", "<>"].contains(s) => {
                Some((s.to_string(), 1))
            }
            Tok::Sym("!") => match self.peek_at(1) {
                Tok::Ident(w) if WORDS.contains(&w.as_str()) && !self.toks[self.i + 1].spaced => {
                    let tilde =
                        matches!(self.peek_at(2), Tok::Sym("~")) && !self.toks[self.i + 2].spaced;
                    Some((
                        format!("!{w}{}", if tilde { "~" } else { "" }),
                        if tilde { 3 } else { 2 },
                    ))
                }
                _ => None,
            },
            Tok::Ident(w) if WORDS.contains(&w.as_str()) => {
                let tilde =
                    matches!(self.peek_at(1), Tok::Sym("~")) && !self.toks[self.i + 1].spaced;
                Some((
                    format!("{w}{}", if tilde { "~" } else { "" }),
                    if tilde { 2 } else { 1 },
                ))
            }
            _ => None,
        }
    }

    fn cmp(&mut self) -> Result<Expr, KqlError> {
        let l = self.add()?;
        let Some((op, n)) = self.cmp_op() else {
            return Ok(l);
        };
        let pos = self.pos();
        for _ in 0..n {
            self.next();
        }
        let bare = op.trim_start_matches('!').trim_end_matches('~');
        match bare {
            "in" | "has_any" | "has_all" => {
                self.sym("(")?;
                // x in (T): a tabular operand
                let mut list = Vec::new();
                while !self.is_sym(")") {
                    match self.tab_or_expr()? {
                        Either::Tab(t) if list.is_empty() && bare == "in" => {
                            self.sym(")")?;
                            return Ok(Expr::InTable {
                                negated: op.starts_with('!'),
                                expr: Box::new(l),
                                table: t,
                                pos,
                            });
                        }
                        Either::Tab(_) => {
                            return Err(KqlError::unsupported(
                                Some(pos),
                                format!("a table inside {op}(...) with other values"),
                            ));
                        }
                        Either::Expr(e) => list.push(e),
                    }
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                self.sym(")")?;
                Ok(Expr::InList {
                    op,
                    expr: Box::new(l),
                    list,
                    pos,
                })
            }
            "between" => {
                self.sym("(")?;
                let lo = self.add()?;
                self.sym("..")?;
                let hi = self.add()?;
                self.sym(")")?;
                Ok(Expr::Between {
                    negated: op.starts_with('!'),
                    expr: Box::new(l),
                    lo: Box::new(lo),
                    hi: Box::new(hi),
                    pos,
                })
            }
            "matches" => {
                if !self.eat_kw("regex") {
                    return Err(self.expected("'regex' after 'matches'"));
                }
                let r = self.add()?;
                Ok(Expr::Binary {
                    op: "matches regex".into(),
                    left: Box::new(l),
                    right: Box::new(r),
                    pos,
                })
            }
            _ => {
                let r = self.add()?;
                Ok(Expr::Binary {
                    op,
                    left: Box::new(l),
                    right: Box::new(r),
                    pos,
                })
            }
        }
    }

    fn add(&mut self) -> Result<Expr, KqlError> {
        let mut l = self.mul()?;
        while self.is_sym("+") || self.is_sym("-") {
            let pos = self.pos();
            let op = if self.eat_sym("+") {
                "+"
            } else {
                self.next();
                "-"
            };
            let r = self.mul()?;
            l = Expr::Binary {
                op: op.into(),
                left: Box::new(l),
                right: Box::new(r),
                pos,
            };
        }
        Ok(l)
    }

    fn mul(&mut self) -> Result<Expr, KqlError> {
        let mut l = self.unary()?;
        while self.is_sym("*") || self.is_sym("/") || self.is_sym("%") {
            let pos = self.pos();
            let op = match self.next().tok {
                Tok::Sym(s) => s,
                _ => unreachable!("checked above"),
            };
            let r = self.unary()?;
            l = Expr::Binary {
                op: op.into(),
                left: Box::new(l),
                right: Box::new(r),
                pos,
            };
        }
        Ok(l)
    }

    fn unary(&mut self) -> Result<Expr, KqlError> {
        let pos = self.pos();
        if self.eat_sym("-") {
            self.enter()?;
            let e = self.unary()?;
            self.leave();
            return Ok(match e {
                Expr::Lit(Lit::Int(i), p) => Expr::Lit(Lit::Int(-i), p),
                Expr::Lit(Lit::Real(r), p) => Expr::Lit(Lit::Real(-r), p),
                Expr::Lit(Lit::Span(s), p) => Expr::Lit(Lit::Span(-s), p),
                e => Expr::Neg(Box::new(e), pos),
            });
        }
        if self.eat_sym("+") {
            return self.unary();
        }
        let mut e = self.primary()?;
        // d.name, d["name"], d[i], chained
        loop {
            let pos = self.pos();
            if self.is_sym(".") && !matches!(e, Expr::Lit(..)) {
                self.next();
                let name = match self.peek().clone() {
                    Tok::Ident(n) | Tok::QuotedIdent(n) => {
                        self.next();
                        n
                    }
                    _ => return Err(self.expected("a member name after '.'")),
                };
                e = Expr::Member(Box::new(e), Box::new(Expr::Lit(Lit::Str(name), pos)), pos);
            } else if let Tok::QuotedIdent(name) = self.peek().clone()
                && !matches!(e, Expr::Lit(..))
            {
                // d['name']: the lexer reads ['name'] as a quoted name
                self.next();
                e = Expr::Member(Box::new(e), Box::new(Expr::Lit(Lit::Str(name), pos)), pos);
            } else if self.is_sym("[") && !matches!(e, Expr::Lit(..)) {
                self.next();
                self.enter()?;
                let key = self.expr()?;
                self.leave();
                self.sym("]")?;
                e = Expr::Member(Box::new(e), Box::new(key), pos);
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, KqlError> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Int(i) => {
                self.next();
                Ok(Expr::Lit(Lit::Int(i), pos))
            }
            Tok::Real(r) => {
                self.next();
                Ok(Expr::Lit(Lit::Real(r), pos))
            }
            Tok::Str(s) => {
                self.next();
                // Adjacent string literals concatenate.
                let mut s = s;
                while let Tok::Str(more) = self.peek().clone() {
                    self.next();
                    s.push_str(&more);
                }
                Ok(Expr::Lit(Lit::Str(s), pos))
            }
            Tok::Span(n) => {
                self.next();
                Ok(Expr::Lit(Lit::Span(n), pos))
            }
            Tok::Sym("*") => {
                self.next();
                Ok(Expr::Star(pos))
            }
            Tok::Sym("(") => {
                self.next();
                self.enter()?;
                let inner = self.tab_or_expr()?;
                self.leave();
                self.sym(")")?;
                Ok(match inner {
                    Either::Expr(e) => e,
                    Either::Tab(t) => Expr::Tabular(t, pos),
                })
            }
            Tok::Sym("[") => {
                // [1, 2] inside dynamic(...)
                self.next();
                let mut items = Vec::new();
                while !self.is_sym("]") {
                    items.push(self.expr()?);
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                self.sym("]")?;
                Ok(Expr::Array(items, pos))
            }
            Tok::Sym("{") => {
                // a property bag: { "key": value, ... }
                self.next();
                self.enter()?;
                let mut members = Vec::new();
                while !self.is_sym("}") {
                    let key = match self.peek().clone() {
                        Tok::Str(k) | Tok::Ident(k) | Tok::QuotedIdent(k) => {
                            self.next();
                            k
                        }
                        _ => return Err(self.expected("a property name")),
                    };
                    self.sym(":")?;
                    members.push((key, self.expr()?));
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                self.sym("}")?;
                self.leave();
                Ok(Expr::Bag(members, pos))
            }
            Tok::QuotedIdent(n) => {
                self.next();
                Ok(Expr::Col(n, pos))
            }
            Tok::Ident(name) => {
                self.next();
                match name.as_str() {
                    // Kusto takes True/TRUE as well (Sentinel's PortScan rule writes == False)
                    "true" | "True" | "TRUE" => return Ok(Expr::Lit(Lit::Bool(true), pos)),
                    "false" | "False" | "FALSE" => return Ok(Expr::Lit(Lit::Bool(false), pos)),
                    "null" => return Ok(Expr::Lit(Lit::Null, pos)),
                    _ => {}
                }
                if !self.is_sym("(") {
                    return Ok(Expr::Col(name, pos));
                }
                self.next();
                if name == "datetime" {
                    let raw = match self.next().tok {
                        Tok::Raw(r) => r,
                        _ => return Err(self.expected("a date")),
                    };
                    self.sym(")")?;
                    if raw == "null" {
                        return Ok(Expr::Lit(Lit::TypedNull("datetime".into()), pos));
                    }
                    return parse_datetime(&raw)
                        .map(|us| Expr::Lit(Lit::DateTime(us), pos))
                        .ok_or_else(|| {
                            KqlError::syntax(pos, format!("datetime({raw}) is not a date"))
                        });
                }
                if name == "dynamic" {
                    let e = if self.is_kw("null") {
                        self.next();
                        Expr::Lit(Lit::Null, pos)
                    } else if let Tok::QuotedIdent(one) = self.peek().clone() {
                        // dynamic(['a']): the lexer took it for a quoted name
                        self.next();
                        Expr::Array(vec![Expr::Lit(Lit::Str(one), pos)], pos)
                    } else {
                        self.expr()?
                    };
                    self.sym(")")?;
                    return Ok(e);
                }
                let mut args = Vec::new();
                while !self.is_sym(")") {
                    if matches!(self.peek(), Tok::Ident(_))
                        && matches!(self.peek_at(1), Tok::Sym("="))
                    {
                        let apos = self.pos();
                        let n = self.ident()?;
                        self.sym("=")?;
                        let v = self.expr()?;
                        args.push(Expr::NamedArg(n, Box::new(v), apos));
                    } else {
                        match self.tab_or_expr()? {
                            Either::Expr(e) => args.push(e),
                            Either::Tab(t) => args.push(Expr::Tabular(t, pos)),
                        }
                    }
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                self.sym(")")?;
                if matches!(
                    name.as_str(),
                    "int"
                        | "long"
                        | "real"
                        | "double"
                        | "bool"
                        | "boolean"
                        | "string"
                        | "timespan"
                        | "time"
                        | "guid"
                ) && matches!(args.as_slice(), [Expr::Lit(Lit::Null, _)])
                {
                    return Ok(Expr::Lit(Lit::TypedNull(name), pos));
                }
                if name == "pack_array" {
                    return Ok(Expr::Array(args, pos));
                }
                Ok(Expr::Call { name, args, pos })
            }
            _ => Err(self.expected("an expression")),
        }
    }
}

enum Either {
    Tab(Box<Tabular>),
    Expr(Expr),
}

fn expr_to_source(e: Expr) -> Result<Source, KqlError> {
    match e {
        Expr::Col(n, p) => Ok(Source::Name(n, p)),
        Expr::Call { name, args, pos } => Ok(Source::Call { name, args, pos }),
        Expr::Tabular(t, _) => Ok(Source::Paren(t)),
        other => Err(KqlError::syntax(other.pos(), "expected a table before '|'")),
    }
}

/// `2024-07-30`, `2024-07-30 01:02:03.5`, `2024-07-30T01:02Z`: microseconds since the epoch.
pub fn parse_datetime(raw: &str) -> Option<i64> {
    let raw = raw.trim().trim_matches('"').trim_matches('\'');
    let t = raw
        .trim()
        .trim_end_matches('Z')
        .trim_end_matches('z')
        .replace('T', " ");
    let (date, time) = t.split_once(' ').unwrap_or((t.as_str(), ""));
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: i64 = d.next().map_or(Some(1), |x| x.parse().ok())?;
    let day: i64 = d.next().map_or(Some(1), |x| x.parse().ok())?;
    // KQL's datetimes run from year 1 to 9999
    if d.next().is_some()
        || !(1..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
    {
        return None;
    }
    let (mut h, mut mi, mut sec, mut frac) = (0i64, 0i64, 0i64, 0i64);
    let time = time.trim();
    if !time.is_empty() {
        let mut parts = time.split(':');
        h = parts.next()?.trim().parse().ok()?;
        mi = parts.next().map_or(Some(0), |x| x.parse().ok())?;
        if let Some(s) = parts.next() {
            let (whole, f) = s.split_once('.').unwrap_or((s, ""));
            sec = whole.parse().ok()?;
            if !f.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            for (i, b) in f.bytes().take(6).enumerate() {
                frac += (b - b'0') as i64 * 10i64.pow(5 - i as u32);
            }
        }
        if parts.next().is_some() || h > 23 || mi > 59 || sec > 60 {
            return None;
        }
    }
    // days from civil (Howard Hinnant's algorithm)
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec) * 1_000_000) + frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_queries_parse() {
        let q1 = "let threshold=5;\nlet commonPorts=dynamic([443, 53]);\nNetworkSessions\n | where isnotempty(DstPortNumber) and not(ipv4_is_private(DstIpAddr) )\n | where DstPortNumber !between (toint(49512) .. toint(65535)) and DstPortNumber !in (commonPorts)\n | summarize PortCount=dcount(DstPortNumber) by SrcIpAddr, bin(TimeGenerated, 2m)\n | where PortCount > threshold";
        let s = parse(q1).unwrap();
        assert_eq!(s.lets.len(), 2);
        let body = s.body.unwrap();
        assert_eq!(body.ops.len(), 4);
        assert!(matches!(&body.ops[2].0, Op::Summarize { by, .. } if by.len() == 2));
        let q2 = "let isInternal = (url_hostname:string){url_hostname endswith \".local\"};\nlet top1M = (externaldata (Position:int, Domain:string) [@\"http://x/top-1m.csv.zip\"] with (format=\"csv\", zipPattern=\"*.csv\"));\nlet t = top1M | extend Domain = tolower(Domain) | distinct Domain;\nT | where x !in (t) | join kind=innerunique t on Domain | sort by a desc";
        let s = parse(q2).unwrap();
        assert!(matches!(&s.lets[0], Let::Function { params, .. } if params.len() == 1));
        assert!(
            matches!(&s.lets[1], Let::Tabular { tab, .. } if matches!(tab.source, Source::Paren(_) | Source::ExternalData { .. }))
        );
        assert!(matches!(&s.lets[2], Let::Tabular { .. }));
    }

    #[test]
    fn dashed_operators_and_negations() {
        let s =
            parse("T | project-away a, b* | where x !has \"y\" and z !in~ (\"a\") | mv-expand v")
                .unwrap();
        let ops = s.body.unwrap().ops;
        assert!(
            matches!(&ops[0].0, Op::ProjectAway(v) if v == &["a".to_string(), "b*".to_string()])
        );
        match &ops[1].0 {
            Op::Where(Expr::Binary { left, right, .. }) => {
                assert!(matches!(&**left, Expr::Binary { op, .. } if op == "!has"));
                assert!(matches!(&**right, Expr::InList { op, .. } if op == "!in~"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_say_where_and_what() {
        let e = parse("T\n| where x == ").unwrap_err();
        assert_eq!(
            e.to_string(),
            "2:14: syntax error: expected an expression, found the end of the query"
        );
        let e = parse("T | frobnicate").unwrap_err();
        assert!(
            e.to_string()
                .contains("unknown tabular operator 'frobnicate'"),
            "{e}"
        );
        let e = parse("T | where (a").unwrap_err();
        assert!(e.to_string().contains("expected ')'"), "{e}");
        let deep = format!("print {}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(
            parse(&deep)
                .unwrap_err()
                .to_string()
                .contains("nests deeper")
        );
        let deep = format!("print {}1", "-".repeat(10_000));
        assert!(
            parse(&deep)
                .unwrap_err()
                .to_string()
                .contains("nests deeper")
        );
    }

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime("1970-01-01"), Some(0));
        assert_eq!(parse_datetime("2024-07-30"), Some(1_722_297_600_000_000));
        assert_eq!(
            parse_datetime("2024-07-30 01:02:03.5"),
            Some(1_722_301_323_500_000)
        );
        assert_eq!(
            parse_datetime("2024-07-30T01:02:03Z"),
            Some(1_722_301_323_000_000)
        );
        assert_eq!(parse_datetime("2024-13-01"), None);
        // found by the fuzzer: a year that overflowed the arithmetic
        assert_eq!(parse_datetime("99999999999999999-01-01"), None);
        assert_eq!(parse_datetime("2024-01-01 99999999999999:00"), None);
    }
}
