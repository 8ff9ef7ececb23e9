//! Clause bodies shared by SQL and clause syntax: select lists, aliased item lists, sort
//! lists, the source, the limit and the cursor.

use spanloom_model::ObjectKind;

use super::assemble::RawSelect;
use super::cursor::{PResult, Parser};
use super::lexer::{Punct, Tok, is_reserved};
use super::{AggCtx, Located};
use crate::error::ErrorKind;
use crate::plan::{Expr, SelectItem, Shape, SortKey, Source};

impl Parser<'_> {
    /// `*` or a list of aliased expressions.
    pub fn select_list(&mut self) -> PResult<Located<RawSelect>> {
        let loc = self.here();
        if self.eat_punct(Punct::Star) {
            if self.at_punct(Punct::Comma) {
                return Err(self.error_at(self.offset(), ErrorKind::StarWithItems));
            }
            return Ok(Located {
                loc,
                value: RawSelect::Star,
            });
        }
        let items = self.item_list(AggCtx::Allowed)?;
        Ok(Located {
            loc,
            value: RawSelect::Items(items),
        })
    }

    /// `expr [AS alias], …`.
    pub fn item_list(&mut self, ctx: AggCtx) -> PResult<Vec<Located<SelectItem>>> {
        let mut items = Vec::new();
        loop {
            if self.at_punct(Punct::Star) {
                return Err(self.error_at(self.offset(), ErrorKind::StarWithItems));
            }
            let loc = self.here();
            let expr = self.expr(ctx)?;
            let alias = if self.eat_keyword("as") {
                Some(self.alias()?)
            } else {
                None
            };
            items.push(Located {
                loc,
                value: SelectItem::new(expr, alias),
            });
            if !self.eat_punct(Punct::Comma) {
                return Ok(items);
            }
        }
    }

    /// The name after `AS`: a bare word or a quoted identifier.
    fn alias(&mut self) -> PResult<String> {
        match &self.peek().tok {
            Tok::Ident(name) | Tok::QuotedIdent(name) => {
                let name = name.clone();
                self.advance();
                Ok(name)
            }
            _ => Err(self.unexpected("an alias name after AS")),
        }
    }

    /// `expr [ASC|DESC], …`.
    pub fn sort_list(&mut self) -> PResult<Vec<Located<SortKey>>> {
        let mut keys = Vec::new();
        loop {
            let loc = self.here();
            let expr = self.expr(AggCtx::Allowed)?;
            let descending = self.eat_keyword("desc");
            if !descending {
                self.eat_keyword("asc");
            }
            keys.push(Located {
                loc,
                value: SortKey { expr, descending },
            });
            if !self.eat_punct(Punct::Comma) {
                return Ok(keys);
            }
        }
    }

    /// A list of plain expressions (`GROUP BY a, b`).
    pub fn expr_list(&mut self, ctx: AggCtx) -> PResult<Vec<Located<Expr>>> {
        let mut exprs = Vec::new();
        loop {
            let loc = self.here();
            exprs.push(Located {
                loc,
                value: self.expr(ctx)?,
            });
            if !self.eat_punct(Punct::Comma) {
                return Ok(exprs);
            }
        }
    }

    /// `project_logs('<id>') [spans|traces]`, `experiment('<id>')`, `dataset('<id>')`.
    pub fn source(&mut self) -> PResult<(Source, Shape)> {
        let Tok::Ident(name) = self.peek().tok.clone() else {
            return Err(self.unexpected("a source such as project_logs('<id>')"));
        };
        let kind = ObjectKind::parse(&name.to_ascii_lowercase())
            .ok_or_else(|| self.error_at(self.offset(), ErrorKind::UnknownSource(name)))?;
        self.advance();
        self.expect_punct(Punct::LParen, "`(` after the source name")?;
        let Tok::Str(id) = self.peek().tok.clone() else {
            let found = self.describe(self.peek());
            return Err(self.error_at(self.offset(), ErrorKind::SourceIdNotString(found)));
        };
        self.advance();
        self.expect_punct(Punct::RParen, "`)` after the source id")?;
        let shape = match &self.peek().tok {
            Tok::Ident(word) if !is_reserved(word) => match Shape::parse(word) {
                Some(shape) => {
                    self.advance();
                    shape
                }
                // A word that ends the clause can only be meant as a shape; anything else
                // (`WHER x = 1`) is left for the caller to report.
                None if self.ends_clause(1) => {
                    let kind = ErrorKind::UnknownShape(word.clone());
                    return Err(self.error_at(self.offset(), kind));
                }
                None => Shape::Spans,
            },
            _ => Shape::Spans,
        };
        Ok((Source { kind, id }, shape))
    }

    /// True if token `n` ahead ends a clause: end of input, `|`, `;`, or a new line.
    fn ends_clause(&self, n: usize) -> bool {
        let token = self.nth(n);
        token.newline_before
            || matches!(
                token.tok,
                Tok::Eof | Tok::Punct(Punct::Pipe) | Tok::Punct(Punct::Semicolon)
            )
    }

    /// A non-negative integer.
    pub fn limit(&mut self) -> PResult<u64> {
        let start = self.offset();
        if let Tok::Int(n) = self.peek().tok
            && let Ok(n) = u64::try_from(n)
        {
            self.advance();
            return Ok(n);
        }
        // Quote a signed number whole (`-1`), anything else token by token.
        let end = if self.at_punct(Punct::Minus)
            && matches!(self.nth(1).tok, Tok::Int(_) | Tok::Float(_))
        {
            self.nth(1).end
        } else {
            self.peek().end
        };
        let found = if self.peek().tok == Tok::Eof {
            "end of input".to_string()
        } else {
            super::cursor::quote_excerpt(self.slice(start, end))
        };
        Err(self.error_at(start, ErrorKind::InvalidLimit(found)))
    }

    /// A string literal cursor.
    pub fn cursor_value(&mut self) -> PResult<String> {
        if let Tok::Str(text) = &self.peek().tok {
            let text = text.clone();
            self.advance();
            return Ok(text);
        }
        let found = self.describe(self.peek());
        Err(self.error_at(self.offset(), ErrorKind::InvalidCursor(found)))
    }
}
