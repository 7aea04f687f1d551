//! Tags that liquidjs has and the stock `liquid` tags lack or read differently: `echo`, a
//! `comment` block that does not parse what it holds, the tags the reference disables, and the
//! error tag written by [`super::expand`].

use std::io::Write;

use liquid_core::model::ValueView;
use liquid_core::parser::FilterChain;
use liquid_core::{
    BlockReflection, Error as LError, Language, ParseBlock, ParseTag, Renderable, Runtime,
    TagBlock, TagReflection, TagTokenIter,
};

use super::expand::ERROR_TAG;

/// A tag the reference disables: refused when the template is parsed.
#[derive(Clone)]
pub(super) struct DisabledTag(pub(super) &'static str);

impl TagReflection for DisabledTag {
    fn tag(&self) -> &str {
        self.0
    }
    fn description(&self) -> &str {
        "disabled"
    }
}

impl ParseTag for DisabledTag {
    fn parse(
        &self,
        _arguments: TagTokenIter<'_>,
        _options: &Language,
    ) -> liquid_core::Result<Box<dyn Renderable>> {
        Err(LError::with_msg(format!("tag \"{}\" is disabled", self.0)))
    }
    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

/// Fails parsing with its string argument: how [`super::expand`] reports, in place, what
/// liquidjs refuses in a `liquid` tag or an inline comment.
#[derive(Clone)]
pub(super) struct ErrorTag;

impl TagReflection for ErrorTag {
    fn tag(&self) -> &str {
        ERROR_TAG
    }
    fn description(&self) -> &str {
        "Fails with its message."
    }
}

impl ParseTag for ErrorTag {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        _options: &Language,
    ) -> liquid_core::Result<Box<dyn Renderable>> {
        let message = arguments
            .expect_next("message expected")?
            .expect_literal()
            .into_result()?;
        Err(LError::with_msg(message.to_kstr().into_owned()))
    }
    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

/// `{% echo expr | filters %}` (liquidjs); `{% echo %}` outputs nothing.
#[derive(Clone)]
pub(super) struct EchoTag;

impl TagReflection for EchoTag {
    fn tag(&self) -> &str {
        "echo"
    }
    fn description(&self) -> &str {
        "Outputs an expression."
    }
}

impl ParseTag for EchoTag {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        options: &Language,
    ) -> liquid_core::Result<Box<dyn Renderable>> {
        let chain = match arguments.next() {
            Some(token) => Some(token.expect_filter_chain(options).into_result()?),
            None => None,
        };
        arguments.expect_nothing()?;
        Ok(Box::new(Echo(chain)))
    }
    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

#[derive(Debug)]
struct Echo(Option<FilterChain>);

impl Renderable for Echo {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> liquid_core::Result<()> {
        let Some(chain) = &self.0 else {
            return Ok(());
        };
        let value = chain.evaluate(runtime)?;
        write!(writer, "{}", value.render()).map_err(|e| LError::with_msg(e.to_string()))
    }
}

/// `{% comment %}…{% endcomment %}` as liquidjs reads it: what it holds is skipped, not parsed,
/// and the first `endcomment` closes it. (The stock block parses nested tags and ignores their
/// errors, which can leave it past the end of the template.)
#[derive(Clone)]
pub(super) struct CommentBlock;

impl BlockReflection for CommentBlock {
    fn start_tag(&self) -> &str {
        "comment"
    }
    fn end_tag(&self) -> &str {
        "endcomment"
    }
    fn description(&self) -> &str {
        "Renders nothing."
    }
}

impl ParseBlock for CommentBlock {
    fn parse(
        &self,
        _arguments: TagTokenIter<'_>,
        mut tokens: TagBlock<'_, '_>,
        _options: &Language,
    ) -> liquid_core::Result<Box<dyn Renderable>> {
        // `next` returns `None` once `endcomment` is read and fails at the end of the template.
        while tokens.next()?.is_some() {}
        tokens.assert_empty();
        Ok(Box::new(Nothing))
    }
    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

#[derive(Debug)]
struct Nothing;

impl Renderable for Nothing {
    fn render_to(
        &self,
        _writer: &mut dyn Write,
        _runtime: &dyn Runtime,
    ) -> liquid_core::Result<()> {
        Ok(())
    }
}
