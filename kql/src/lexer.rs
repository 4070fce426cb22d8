//! Tokens of KQL text, each with its line and column (1-based, in characters).
//!
//! Identifiers include `-` inside operator names (`project-away`, `mv-expand`) only where the
//! parser asks for them: the lexer yields `project`, `-`, `away` and the parser joins adjacent
//! pieces. Literals: integers, reals (`1.5`, `1e3`), strings in `"..."` or `'...'` with `\`
//! escapes, verbatim `@"..."` (a doubled quote is a quote), obfuscated `h"..."` (as plain), and
//! timespans (`2m`, `1.5h`, `100ms`, `10tick`).

use crate::error::{KqlError, Pos};

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    /// `['name']` or `["name"]`: an identifier that may hold any character.
    QuotedIdent(String),
    Int(i64),
    Real(f64),
    Str(String),
    /// A timespan literal, in nanoseconds.
    Span(i64),
    /// The raw text inside `datetime(...)`: a date is not made of tokens.
    Raw(String),
    /// Punctuation and operators: `| ( ) [ ] { } , ; . .. : = == != < <= > >= + - * / % =~ !~ !`
    Sym(&'static str),
    Eof,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub pos: Pos,
    /// Whether whitespace or a comment came right before it (`project-away` has none).
    pub spaced: bool,
}

impl Tok {
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::QuotedIdent(s) => format!("['{s}']"),
            Tok::Int(i) => format!("{i}"),
            Tok::Real(r) => format!("{r}"),
            Tok::Str(s) => format!("\"{s}\""),
            Tok::Span(_) => "a timespan".into(),
            Tok::Raw(s) => format!("'{s}'"),
            Tok::Sym(s) => format!("'{s}'"),
            Tok::Eof => "the end of the query".into(),
        }
    }
}

const SYMS: &[&str] = &[
    "..", "==", "!=", "<=", ">=", "=~", "!~", "<>", "|", "(", ")", "[", "]", "{", "}", ",", ";",
    ".", ":", "=", "<", ">", "+", "-", "*", "/", "%", "!", "$", "?", "~",
];

/// Timespan units and their length in nanoseconds, longest names first.
const UNITS: &[(&str, i64)] = &[
    ("microseconds", 1_000),
    ("microsecond", 1_000),
    ("milliseconds", 1_000_000),
    ("millisecond", 1_000_000),
    ("seconds", 1_000_000_000),
    ("second", 1_000_000_000),
    ("minutes", 60_000_000_000),
    ("minute", 60_000_000_000),
    ("hours", 3_600_000_000_000),
    ("hour", 3_600_000_000_000),
    ("days", 86_400_000_000_000),
    ("day", 86_400_000_000_000),
    ("ticks", 100),
    ("tick", 100),
    ("micros", 1_000),
    ("micro", 1_000),
    ("millis", 1_000_000),
    ("milli", 1_000_000),
    ("ms", 1_000_000),
    ("sec", 1_000_000_000),
    ("min", 60_000_000_000),
    ("hrs", 3_600_000_000_000),
    ("hr", 3_600_000_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
];

/// Split `text` into tokens, ending with `Eof`.
pub fn lex(text: &str) -> Result<Vec<Token>, KqlError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    let mut spaced = true;
    macro_rules! bump {
        () => {{
            if chars[i] == '\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
            i += 1;
        }};
    }
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            bump!();
            spaced = true;
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                bump!();
            }
            spaced = true;
            continue;
        }
        let pos = Pos { line, col };
        let start = i;
        let tok = if c.is_ascii_digit() {
            lex_number(&chars, &mut i, pos)?
        } else if c == '"' || c == '\'' {
            i += 1;
            Tok::Str(lex_string(&chars, &mut i, c, pos, false)?)
        } else if (c == '@' || c == 'h' || c == 'H')
            && matches!(chars.get(i + 1), Some('"') | Some('\''))
        {
            let q = chars[i + 1];
            i += 2;
            Tok::Str(lex_string(&chars, &mut i, q, pos, c == '@')?)
        } else if (c == '@' || c == 'h' || c == 'H')
            && chars.get(i + 1) == Some(&'@')
            && matches!(chars.get(i + 2), Some('"') | Some('\''))
        {
            let q = chars[i + 2];
            i += 3;
            Tok::Str(lex_string(&chars, &mut i, q, pos, true)?)
        } else if c == '[' && matches!(chars.get(i + 1), Some('"') | Some('\'')) && {
            // ['name'] is an identifier; ['a', 'b'] is a list of strings
            let mut j = i + 2;
            lex_string(&chars, &mut j, chars[i + 1], pos, false).is_ok()
                && chars.get(j) == Some(&']')
        } {
            let q = chars[i + 1];
            i += 2;
            let name = lex_string(&chars, &mut i, q, pos, false)?;
            i += 1;
            Tok::QuotedIdent(name)
        } else if c.is_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // datetime(2024-07-30 01:00): the parenthesised text is one raw token.
            let mut j = i;
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            if word.eq_ignore_ascii_case("datetime") && chars.get(j) == Some(&'(') {
                let close = chars[j..]
                    .iter()
                    .position(|c| *c == ')' || *c == '\n')
                    .filter(|k| chars[j + k] == ')')
                    .ok_or_else(|| KqlError::syntax(pos, "datetime( is not closed"))?;
                let raw: String = chars[j + 1..j + close].iter().collect();
                out.push(Token {
                    tok: Tok::Ident(word),
                    pos,
                    spaced,
                });
                let p2 = Pos {
                    line,
                    col: col + (j - start),
                };
                out.push(Token {
                    tok: Tok::Sym("("),
                    pos: p2,
                    spaced: false,
                });
                out.push(Token {
                    tok: Tok::Raw(raw.trim().to_string()),
                    pos: Pos {
                        line,
                        col: p2.col + 1,
                    },
                    spaced: false,
                });
                i = j + close;
                col += i - start;
                out.push(Token {
                    tok: Tok::Sym(")"),
                    pos: Pos { line, col },
                    spaced: false,
                });
                i += 1;
                col += 1;
                spaced = false;
                continue;
            }
            Tok::Ident(word)
        } else if let Some(s) = SYMS.iter().find(|s| {
            let n = s.chars().count();
            i + n <= chars.len() && chars[i..i + n].iter().copied().eq(s.chars())
        }) {
            i += s.chars().count();
            Tok::Sym(s)
        } else {
            return Err(KqlError::syntax(pos, format!("unexpected character '{c}'")));
        };
        // Columns advance by the characters consumed (no token spans a line but strings).
        for ch in &chars[start..i] {
            if *ch == '\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
        }
        out.push(Token { tok, pos, spaced });
        spaced = false;
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: Pos { line, col },
        spaced: true,
    });
    Ok(out)
}

fn lex_number(chars: &[char], i: &mut usize, pos: Pos) -> Result<Tok, KqlError> {
    let start = *i;
    // Hex integers.
    if chars[*i] == '0' && matches!(chars.get(*i + 1), Some('x') | Some('X')) {
        *i += 2;
        let hs = *i;
        while *i < chars.len() && chars[*i].is_ascii_hexdigit() {
            *i += 1;
        }
        let text: String = chars[hs..*i].iter().collect();
        return i64::from_str_radix(&text, 16)
            .map(Tok::Int)
            .map_err(|_| KqlError::syntax(pos, format!("bad hex number 0x{text}")));
    }
    while *i < chars.len() && chars[*i].is_ascii_digit() {
        *i += 1;
    }
    let mut real = false;
    if chars.get(*i) == Some(&'.') && chars.get(*i + 1).is_some_and(|c| c.is_ascii_digit()) {
        real = true;
        *i += 1;
        while *i < chars.len() && chars[*i].is_ascii_digit() {
            *i += 1;
        }
    }
    if matches!(chars.get(*i), Some('e') | Some('E'))
        && (chars.get(*i + 1).is_some_and(|c| c.is_ascii_digit())
            || (matches!(chars.get(*i + 1), Some('+') | Some('-'))
                && chars.get(*i + 2).is_some_and(|c| c.is_ascii_digit())))
    {
        real = true;
        *i += 2;
        while *i < chars.len() && chars[*i].is_ascii_digit() {
            *i += 1;
        }
    }
    let text: String = chars[start..*i].iter().collect();
    // A unit right after the number makes a timespan.
    let rest: String = chars[*i..]
        .iter()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    if !rest.is_empty() {
        let lower = rest.to_ascii_lowercase();
        if let Some((u, nanos)) = UNITS.iter().find(|(u, _)| *u == lower) {
            *i += u.len();
            let v: f64 = text
                .parse()
                .map_err(|_| KqlError::syntax(pos, format!("bad number {text}")))?;
            let total = v * *nanos as f64;
            if !total.is_finite() || total.abs() > i64::MAX as f64 {
                return Err(KqlError::syntax(
                    pos,
                    format!("timespan {text}{rest} is too long"),
                ));
            }
            return Ok(Tok::Span(total.round() as i64));
        }
        return Err(KqlError::syntax(
            pos,
            format!(
                "'{text}{rest}': not a number or a timespan (units: d, h, m, s, ms, microsecond, tick)"
            ),
        ));
    }
    if real {
        text.parse()
            .map(Tok::Real)
            .map_err(|_| KqlError::syntax(pos, format!("bad number {text}")))
    } else {
        match text.parse::<i64>() {
            Ok(v) => Ok(Tok::Int(v)),
            Err(_) => text
                .parse()
                .map(Tok::Real)
                .map_err(|_| KqlError::syntax(pos, format!("bad number {text}"))),
        }
    }
}

/// A string body after its opening quote `q`; `verbatim`: no escapes, a doubled quote is one.
fn lex_string(
    chars: &[char],
    i: &mut usize,
    q: char,
    pos: Pos,
    verbatim: bool,
) -> Result<String, KqlError> {
    let mut s = String::new();
    loop {
        let Some(&c) = chars.get(*i) else {
            return Err(KqlError::syntax(pos, "a string is not closed"));
        };
        *i += 1;
        if c == q {
            if verbatim && chars.get(*i) == Some(&q) {
                *i += 1;
                s.push(q);
                continue;
            }
            return Ok(s);
        }
        if c == '\n' && !verbatim {
            return Err(KqlError::syntax(pos, "a string is not closed on its line"));
        }
        if c == '\\' && !verbatim {
            let Some(&e) = chars.get(*i) else {
                return Err(KqlError::syntax(pos, "a string is not closed"));
            };
            *i += 1;
            s.push(match e {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                '0' => '\0',
                '\\' => '\\',
                '"' => '"',
                '\'' => '\'',
                'u' => {
                    let hex: String = chars.iter().skip(*i).take(4).collect();
                    *i += hex.len();
                    u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| KqlError::syntax(pos, format!("bad escape \\u{hex}")))?
                }
                other => {
                    return Err(KqlError::syntax(
                        pos,
                        format!("unknown escape \\{other} in a string"),
                    ));
                }
            });
            continue;
        }
        s.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(t: &str) -> Vec<Tok> {
        lex(t).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn literals_and_positions() {
        assert_eq!(
            toks("x >= 2m and y != 'a\\'b' // c\n| take 1.5e1"),
            [
                Tok::Ident("x".into()),
                Tok::Sym(">="),
                Tok::Span(120_000_000_000),
                Tok::Ident("and".into()),
                Tok::Ident("y".into()),
                Tok::Sym("!="),
                Tok::Str("a'b".into()),
                Tok::Sym("|"),
                Tok::Ident("take".into()),
                Tok::Real(15.0),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks(r#"@"c:\a""b""#),
            [Tok::Str("c:\\a\"b".into()), Tok::Eof]
        );
        assert_eq!(toks("['a b']"), [Tok::QuotedIdent("a b".into()), Tok::Eof]);
        assert_eq!(
            toks("1.5h 100ms 10tick 0x1F"),
            [
                Tok::Span(5_400_000_000_000),
                Tok::Span(100_000_000),
                Tok::Span(1000),
                Tok::Int(31),
                Tok::Eof
            ]
        );
        let t = lex("a\n  | where").unwrap();
        assert_eq!((t[1].pos.line, t[1].pos.col), (2, 3));
        assert_eq!((t[2].pos.line, t[2].pos.col), (2, 5));
    }

    #[test]
    fn errors_name_the_place() {
        let e = lex("a\n | where x == \"open").unwrap_err();
        assert_eq!(e.to_string(), "2:15: syntax error: a string is not closed");
        assert!(
            lex("x == 5parsecs")
                .unwrap_err()
                .to_string()
                .contains("5parsecs")
        );
        assert!(lex("x § y").unwrap_err().to_string().starts_with("1:3:"));
    }
}
