//! Errors of the front-end: one line, with the place (`line:col`) where there is one, and a kind
//! that tells a syntax error from a construct that is valid KQL but not supported yet.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Not valid KQL (or not as far as this parser reads it).
    Syntax,
    /// Valid KQL that nethunt does not run yet: an operator, a function, an option.
    Unsupported,
    /// Valid KQL that cannot be planned: an unknown column or table, a type mismatch.
    Plan,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KqlError {
    pub kind: Kind,
    pub pos: Option<Pos>,
    pub msg: String,
}

impl KqlError {
    pub fn syntax(pos: Pos, msg: impl Into<String>) -> KqlError {
        KqlError {
            kind: Kind::Syntax,
            pos: Some(pos),
            msg: msg.into(),
        }
    }
    pub fn unsupported(pos: Option<Pos>, what: impl Into<String>) -> KqlError {
        KqlError {
            kind: Kind::Unsupported,
            pos,
            msg: format!("{} is not supported yet", what.into()),
        }
    }
    pub fn plan(pos: Option<Pos>, msg: impl Into<String>) -> KqlError {
        KqlError {
            kind: Kind::Plan,
            pos,
            msg: msg.into(),
        }
    }
}

impl fmt::Display for KqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.pos {
            write!(f, "{}:{}: ", p.line, p.col)?;
        }
        match self.kind {
            Kind::Syntax => write!(f, "syntax error: {}", self.msg),
            Kind::Unsupported | Kind::Plan => write!(f, "{}", self.msg),
        }
    }
}

impl std::error::Error for KqlError {}

impl From<KqlError> for datafusion::error::DataFusionError {
    fn from(e: KqlError) -> Self {
        datafusion::error::DataFusionError::External(Box::new(e))
    }
}
