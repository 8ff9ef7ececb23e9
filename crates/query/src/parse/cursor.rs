//! A cursor over the token list, with the helpers every text parser uses.

use super::lexer::{Punct, Tok, Token, tokenize};
use crate::error::{ErrorKind, Location, ParseError};

/// Result type of the text parsers.
pub(crate) type PResult<T> = Result<T, ParseError>;

/// Longest source excerpt quoted in an error message.
const MAX_FOUND_CHARS: usize = 40;

/// How many expressions may nest inside each other (parentheses, `IN` lists, arguments):
/// bounds the parser's recursion, whatever the input.
pub(crate) const MAX_NESTING: usize = 32;

/// Token cursor plus the source, for slicing and for turning offsets into line/column.
pub(crate) struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    line_starts: Vec<usize>,
    /// Expressions currently being parsed (see [`MAX_NESTING`]).
    pub nesting: usize,
}

impl<'a> Parser<'a> {
    /// Lexes `src`.
    pub fn new(src: &'a str) -> PResult<Self> {
        let line_starts = std::iter::once(0)
            .chain(src.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let mut parser = Self {
            src,
            toks: Vec::new(),
            pos: 0,
            line_starts,
            nesting: 0,
        };
        match tokenize(src) {
            Ok(toks) => parser.toks = toks,
            Err((offset, kind)) => return Err(parser.error_at(offset, kind)),
        }
        Ok(parser)
    }

    /// The 1-based line and column of a byte offset.
    pub fn location(&self, offset: usize) -> Location {
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let line_start = self.line_starts[line.saturating_sub(1)];
        let column = self.src[line_start..offset].chars().count() + 1;
        Location::Text { line, column }
    }

    /// An error at a byte offset.
    pub fn error_at(&self, offset: usize, kind: ErrorKind) -> ParseError {
        ParseError::new(self.location(offset), kind)
    }

    /// The next token (the `Eof` token once the input is used up).
    pub fn peek(&self) -> &Token {
        self.nth(0)
    }

    /// The token `n` places ahead.
    pub fn nth(&self, n: usize) -> &Token {
        let last = self.toks.len() - 1;
        &self.toks[(self.pos + n).min(last)]
    }

    /// Consumes and returns the next token.
    pub fn advance(&mut self) -> Token {
        let tok = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        tok
    }

    /// Byte offset where the next token starts.
    pub fn offset(&self) -> usize {
        self.peek().start
    }

    /// Location of the next token.
    pub fn here(&self) -> Location {
        self.location(self.offset())
    }

    /// The source text between two offsets.
    pub fn slice(&self, start: usize, end: usize) -> &'a str {
        &self.src[start..end]
    }

    /// How a token reads in an error message: `` `FROM` `` or `end of input`.
    pub fn describe(&self, token: &Token) -> String {
        if token.tok == Tok::Eof {
            return "end of input".to_string();
        }
        quote_excerpt(self.slice(token.start, token.end))
    }

    /// An [`ErrorKind::Expected`] error at the next token.
    pub fn unexpected(&self, expected: &str) -> ParseError {
        let found = self.describe(self.peek());
        self.error_at(self.offset(), ErrorKind::expected(expected, found))
    }

    /// True if token `n` ahead is the punctuation `p`.
    pub fn nth_is_punct(&self, n: usize, p: Punct) -> bool {
        self.nth(n).tok == Tok::Punct(p)
    }

    /// True if the next token is the punctuation `p`.
    pub fn at_punct(&self, p: Punct) -> bool {
        self.nth_is_punct(0, p)
    }

    /// Consumes the punctuation `p` if it is next.
    pub fn eat_punct(&mut self, p: Punct) -> bool {
        let hit = self.at_punct(p);
        if hit {
            self.advance();
        }
        hit
    }

    /// Consumes the punctuation `p` or fails with "expected {what}".
    pub fn expect_punct(&mut self, p: Punct, what: &str) -> PResult<()> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    /// True if token `n` ahead is the bare word `keyword` (case-insensitively).
    pub fn nth_is_keyword(&self, n: usize, keyword: &str) -> bool {
        matches!(&self.nth(n).tok, Tok::Ident(word) if word.eq_ignore_ascii_case(keyword))
    }

    /// True if the next token is the bare word `keyword`.
    pub fn at_keyword(&self, keyword: &str) -> bool {
        self.nth_is_keyword(0, keyword)
    }

    /// Consumes the keyword if it is next.
    pub fn eat_keyword(&mut self, keyword: &str) -> bool {
        let hit = self.at_keyword(keyword);
        if hit {
            self.advance();
        }
        hit
    }

    /// Consumes the keyword or fails with ``expected `KEYWORD` ``.
    pub fn expect_keyword(&mut self, keyword: &str) -> PResult<()> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{}`", keyword.to_ascii_uppercase())))
        }
    }

    /// Fails unless the input is used up.
    pub fn expect_eof(&self, expected: &str) -> PResult<()> {
        if self.peek().tok == Tok::Eof {
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }
}

/// Backquotes a source excerpt, shortening long ones.
pub(crate) fn quote_excerpt(text: &str) -> String {
    if text.chars().count() > MAX_FOUND_CHARS {
        let short: String = text.chars().take(MAX_FOUND_CHARS).collect();
        format!("`{short}…`")
    } else {
        format!("`{text}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_one_based_and_count_characters() {
        let parser = Parser::new("ab\n  é x").expect("lexes");
        assert_eq!(parser.location(0), Location::Text { line: 1, column: 1 });
        assert_eq!(parser.location(3), Location::Text { line: 2, column: 1 });
        // `x` sits after two spaces, a two-byte `é` and a space.
        assert_eq!(parser.location(8), Location::Text { line: 2, column: 5 });
    }
}
