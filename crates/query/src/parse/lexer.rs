//! The lexer shared by SQL and clause syntax: text → tokens with byte spans.
//!
//! Keywords are not tokens of their own: they are identifiers the parser compares
//! case-insensitively, so `metadata.limit` stays a valid path.

use crate::error::ErrorKind;

/// One token's kind and payload.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A bare word: a keyword or a field name.
    Ident(String),
    /// A `"double"` or `` `backtick` `` quoted identifier (never a keyword).
    QuotedIdent(String),
    /// A `'single quoted'` string with `''` unescaped.
    Str(String),
    /// An integer that fits in `i64`.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// An operator or punctuation mark.
    Punct(Punct),
    /// The end of the input (always the last token).
    Eof,
}

/// Operators and punctuation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Punct {
    Comma,
    LParen,
    RParen,
    Dot,
    Star,
    Plus,
    Minus,
    Slash,
    Percent,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `~`
    Tilde,
    /// `~*`
    TildeStar,
    /// `!~`
    NotTilde,
    /// `!~*`
    NotTildeStar,
    Pipe,
    Colon,
    Semicolon,
}

/// A token with its byte span in the source.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    /// What it is.
    pub tok: Tok,
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
    /// True if a line break separates it from the previous token.
    pub newline_before: bool,
}

/// Words that cannot be bare field names (quote them: `"order"`).
const RESERVED: &[&str] = &[
    "and", "as", "asc", "between", "by", "case", "desc", "distinct", "else", "end", "false",
    "from", "group", "having", "ilike", "in", "interval", "is", "join", "like", "limit", "match",
    "not", "null", "offset", "on", "or", "order", "select", "then", "true", "union", "when",
    "where", "with",
];

/// True if `word` is a reserved keyword (case-insensitively).
pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// Splits `src` into tokens, ending with [`Tok::Eof`]. Errors carry a byte offset.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, (usize, ErrorKind)> {
    Lexer {
        src,
        pos: 0,
        newline: false,
        out: Vec::new(),
    }
    .run()
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    newline: bool,
    out: Vec<Token>,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        self.src[self.pos..].chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn push(&mut self, tok: Tok, start: usize) {
        self.out.push(Token {
            tok,
            start,
            end: self.pos,
            newline_before: std::mem::take(&mut self.newline),
        });
    }

    fn run(mut self) -> Result<Vec<Token>, (usize, ErrorKind)> {
        while let Some(c) = self.peek() {
            let start = self.pos;
            if c == '\n' {
                self.newline = true;
                self.bump();
            } else if c.is_whitespace() {
                self.bump();
            } else if c == '-' && self.peek2() == Some('-') {
                while self.peek().is_some_and(|c| c != '\n') {
                    self.bump();
                }
            } else if c.is_ascii_digit() {
                let tok = self.number()?;
                self.push(tok, start);
            } else if c.is_alphabetic() || c == '_' {
                while self
                    .peek()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
                {
                    self.bump();
                }
                let word = self.src[start..self.pos].to_string();
                self.push(Tok::Ident(word), start);
            } else if c == '\'' {
                let text = self.quoted('\'', ErrorKind::UnterminatedString)?;
                self.push(Tok::Str(text), start);
            } else if c == '"' || c == '`' {
                let text = self.quoted(c, ErrorKind::UnterminatedIdent)?;
                self.push(Tok::QuotedIdent(text), start);
            } else {
                let punct = self.punct(c).ok_or((start, ErrorKind::UnexpectedChar(c)))?;
                self.push(Tok::Punct(punct), start);
            }
        }
        let end = self.src.len();
        self.push(Tok::Eof, end);
        Ok(self.out)
    }

    /// Reads a quoted run; a doubled quote stands for one quote character.
    fn quoted(
        &mut self,
        quote: char,
        unterminated: ErrorKind,
    ) -> Result<String, (usize, ErrorKind)> {
        let start = self.pos;
        self.bump();
        let mut text = String::new();
        loop {
            match self.bump() {
                None => return Err((start, unterminated)),
                Some(c) if c == quote => {
                    if self.peek() == Some(quote) {
                        self.bump();
                        text.push(quote);
                    } else {
                        return Ok(text);
                    }
                }
                Some(c) => text.push(c),
            }
        }
    }

    /// Reads `digits [. digits] [e [+-] digits]`.
    fn number(&mut self) -> Result<Tok, (usize, ErrorKind)> {
        let start = self.pos;
        let digits = |lexer: &mut Self| {
            while lexer.peek().is_some_and(|c| c.is_ascii_digit()) {
                lexer.bump();
            }
        };
        digits(self);
        let mut float = false;
        if self.peek() == Some('.') && self.peek2().is_some_and(|c| c.is_ascii_digit()) {
            float = true;
            self.bump();
            digits(self);
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let rest = &self.src[self.pos + 1..];
            let sign = usize::from(rest.starts_with(['+', '-']));
            if rest[sign..].starts_with(|c: char| c.is_ascii_digit()) {
                float = true;
                self.pos += 1 + sign;
                digits(self);
            }
        }
        let text = &self.src[start..self.pos];
        if !float && let Ok(int) = text.parse::<i64>() {
            return Ok(Tok::Int(int));
        }
        match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Tok::Float(x)),
            _ => Err((start, ErrorKind::InvalidNumber(text.to_string()))),
        }
    }

    fn punct(&mut self, c: char) -> Option<Punct> {
        self.bump();
        let next = self.peek();
        let (punct, extra) = match (c, next) {
            (',', _) => (Punct::Comma, 0),
            ('(', _) => (Punct::LParen, 0),
            (')', _) => (Punct::RParen, 0),
            ('.', _) => (Punct::Dot, 0),
            ('*', _) => (Punct::Star, 0),
            ('+', _) => (Punct::Plus, 0),
            ('-', _) => (Punct::Minus, 0),
            ('/', _) => (Punct::Slash, 0),
            ('%', _) => (Punct::Percent, 0),
            ('=', _) => (Punct::Eq, 0),
            ('!', Some('=')) => (Punct::Ne, 1),
            ('!', Some('~')) if self.peek2() == Some('*') => (Punct::NotTildeStar, 2),
            ('!', Some('~')) => (Punct::NotTilde, 1),
            ('<', Some('=')) => (Punct::Le, 1),
            ('<', Some('>')) => (Punct::Ne, 1),
            ('<', _) => (Punct::Lt, 0),
            ('>', Some('=')) => (Punct::Ge, 1),
            ('>', _) => (Punct::Gt, 0),
            ('~', Some('*')) => (Punct::TildeStar, 1),
            ('~', _) => (Punct::Tilde, 0),
            ('|', _) => (Punct::Pipe, 0),
            (':', _) => (Punct::Colon, 0),
            (';', _) => (Punct::Semicolon, 0),
            _ => return None,
        };
        for _ in 0..extra {
            self.bump();
        }
        Some(punct)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        tokenize(src)
            .expect("lexes")
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn lexes_strings_with_doubled_quotes() {
        assert_eq!(kinds("'it''s'"), vec![Tok::Str("it's".into()), Tok::Eof]);
    }

    #[test]
    fn lexes_quoted_identifiers() {
        assert_eq!(
            kinds("\"user \"\"id\"\"\" `a``b`"),
            vec![
                Tok::QuotedIdent("user \"id\"".into()),
                Tok::QuotedIdent("a`b".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn lexes_numbers() {
        assert_eq!(
            kinds("1 2.5 1e3 7.x 99999999999999999999"),
            vec![
                Tok::Int(1),
                Tok::Float(2.5),
                Tok::Float(1000.0),
                Tok::Int(7),
                Tok::Punct(Punct::Dot),
                Tok::Ident("x".into()),
                Tok::Float(1e20),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn lexes_operators() {
        use Punct::*;
        let expected: Vec<Tok> = [
            Ne,
            Ne,
            Le,
            Ge,
            Lt,
            Gt,
            Eq,
            Tilde,
            TildeStar,
            NotTilde,
            NotTildeStar,
        ]
        .into_iter()
        .map(Tok::Punct)
        .chain([Tok::Eof])
        .collect();
        assert_eq!(kinds("!= <> <= >= < > = ~ ~* !~ !~*"), expected);
    }

    #[test]
    fn skips_comments_and_tracks_newlines() {
        let toks = tokenize("a -- comment\nb").expect("lexes");
        assert_eq!(toks[0].tok, Tok::Ident("a".into()));
        assert_eq!(toks[1].tok, Tok::Ident("b".into()));
        assert!(toks[1].newline_before);
        assert!(!toks[0].newline_before);
    }

    #[test]
    fn reports_unterminated_string_at_its_quote() {
        assert_eq!(
            tokenize("x = 'abc"),
            Err((4, ErrorKind::UnterminatedString))
        );
    }

    #[test]
    fn reports_unexpected_characters() {
        assert_eq!(tokenize("a # b"), Err((2, ErrorKind::UnexpectedChar('#'))));
        assert_eq!(tokenize("a ! b"), Err((2, ErrorKind::UnexpectedChar('!'))));
    }
}
