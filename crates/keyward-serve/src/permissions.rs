//! Unkey's permission queries, over a key's scopes: names joined by `AND`
//! and `OR` (either case; AND binds tighter), grouped with parentheses,
//! e.g. `deploy AND (read OR admin)`.

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Name(String),
    And(Vec<Query>),
    Or(Vec<Query>),
}

/// How deep parentheses may nest: a body of 16 KiB of `(` must not
/// exhaust the stack.
const MAX_DEPTH: usize = 32;

impl Query {
    pub fn parse(text: &str) -> Result<Query, String> {
        let tokens = tokens(text);
        if tokens.is_empty() {
            return Err("the permissions query is empty: name a scope, e.g. \"read\"".into());
        }
        let mut parser = Parser { tokens, at: 0 };
        let query = parser.or(0)?;
        match parser.tokens.get(parser.at) {
            None => Ok(query),
            Some(t) => Err(format!(
                "unexpected '{}' in the permissions query",
                t.shown()
            )),
        }
    }

    /// Whether a key whose scopes satisfy `has` meets the query.
    pub fn allows(&self, has: &dyn Fn(&str) -> bool) -> bool {
        match self {
            Query::Name(name) => has(name),
            Query::And(all) => all.iter().all(|q| q.allows(has)),
            Query::Or(any) => any.iter().any(|q| q.allows(has)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Word(String),
}

impl Token {
    fn shown(&self) -> String {
        match self {
            Token::Open => "(".into(),
            Token::Close => ")".into(),
            Token::And => "AND".into(),
            Token::Or => "OR".into(),
            Token::Word(w) => keyward_core::shown::quote(w),
        }
    }
}

fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<Token>| {
        if word.is_empty() {
            return;
        }
        let token = match word.to_ascii_uppercase().as_str() {
            "AND" => Token::And,
            "OR" => Token::Or,
            _ => Token::Word(word.clone()),
        };
        out.push(token);
        word.clear();
    };
    for c in text.chars() {
        match c {
            '(' | ')' => {
                flush(&mut word, &mut out);
                out.push(if c == '(' { Token::Open } else { Token::Close });
            }
            c if c.is_whitespace() => flush(&mut word, &mut out),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut out);
    out
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn eat(&mut self, t: &Token) -> bool {
        if self.tokens.get(self.at) == Some(t) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self, depth: usize) -> Result<Query, String> {
        let mut any = vec![self.and(depth)?];
        while self.eat(&Token::Or) {
            any.push(self.and(depth)?);
        }
        Ok(if any.len() == 1 {
            any.remove(0)
        } else {
            Query::Or(any)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Query, String> {
        let mut all = vec![self.factor(depth)?];
        while self.eat(&Token::And) {
            all.push(self.factor(depth)?);
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Query::And(all)
        })
    }

    fn factor(&mut self, depth: usize) -> Result<Query, String> {
        match self.tokens.get(self.at).cloned() {
            Some(Token::Word(w)) => {
                self.at += 1;
                // A permission is a scope, and a scope is a token: a comma
                // inside would read as two scopes to anything that splits.
                if keyward_core::text::Scope::parse(&w).is_err() {
                    return Err(
                        "a permission in the query is not a scope keyward accepts: 1-64 \
                         visible characters without commas (join scopes with AND or OR)"
                            .into(),
                    );
                }
                Ok(Query::Name(w))
            }
            Some(Token::Open) => {
                if depth >= MAX_DEPTH {
                    return Err(format!(
                        "the permissions query nests parentheses more than {MAX_DEPTH} deep"
                    ));
                }
                self.at += 1;
                let inner = self.or(depth + 1)?;
                if !self.eat(&Token::Close) {
                    return Err("a '(' in the permissions query is never closed".into());
                }
                Ok(inner)
            }
            Some(t) => Err(format!(
                "expected a scope name in the permissions query, found '{}'",
                t.shown()
            )),
            None => Err("the permissions query ends where a scope name should follow".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(query: &str, scopes: &[&str]) -> bool {
        Query::parse(query)
            .expect("a valid query")
            .allows(&|s| scopes.contains(&s))
    }

    #[test]
    fn and_binds_tighter_than_or() {
        assert!(allows("a OR b AND c", &["a"]));
        assert!(!allows("(a OR b) AND c", &["a"]));
        assert!(allows("(a OR b) AND c", &["b", "c"]));
        assert!(allows("read and (write or admin)", &["read", "admin"]));
        assert!(!allows("read AND (write OR admin)", &["read"]));
        assert!(allows("api.read", &["api.read"]));
    }

    #[test]
    fn malformed_queries_say_what_is_wrong() {
        for bad in [
            "",
            "  ",
            "a AND",
            "(a",
            "a)",
            "AND a",
            "a b",
            "()",
            "read,admin",
            "a AND b,c",
        ] {
            assert!(Query::parse(bad).is_err(), "{bad:?} parsed");
        }
        let deep = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(Query::parse(&deep).unwrap_err().contains("deep"));
    }
}
