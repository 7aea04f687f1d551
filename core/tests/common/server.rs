//! Routes of the local mock server (mockito): what a request must carry and how it is
//! answered, each declared on one line, mounted together and verified together.

use mockito::{Matcher, Mock, Server, ServerGuard};

/// How many requests a route expects when it is verified.
#[derive(Clone, Copy, Debug)]
pub enum Hits {
    /// Exactly this many.
    Exactly(usize),
    /// This many or more.
    AtLeast(usize),
    /// Not checked.
    Unchecked,
}

/// One route: the request it matches and the answer it gives.
#[derive(Clone, Debug)]
pub struct Route {
    method: &'static str,
    path: &'static str,
    status: usize,
    headers: Vec<(&'static str, Matcher)>,
    body: Option<Matcher>,
    reply: Option<(&'static str, bool)>,
    hits: Hits,
}

/// A route for `"METHOD /path"` answering `status` with an empty body, expected once.
pub fn route(request: &'static str, status: usize) -> Route {
    let (method, path) = request
        .split_once(' ')
        .unwrap_or_else(|| panic!("{request:?} is not \"METHOD /path\""));
    Route {
        method,
        path,
        status,
        headers: Vec::new(),
        body: None,
        reply: None,
        hits: Hits::Exactly(1),
    }
}

impl Route {
    /// Matches only requests with `authorization: Bearer <token>`.
    pub fn bearer(mut self, token: &str) -> Self {
        let value = Matcher::Exact(format!("Bearer {token}"));
        self.headers.push(("authorization", value));
        self
    }

    /// Matches only requests without an `authorization` header.
    pub fn anonymous(mut self) -> Self {
        self.headers.push(("authorization", Matcher::Missing));
        self
    }

    /// Matches only requests whose body `matcher` accepts.
    pub fn body(mut self, matcher: Matcher) -> Self {
        self.body = Some(matcher);
        self
    }

    /// Answers with this JSON text (`content-type: application/json`).
    pub fn json(mut self, reply: &'static str) -> Self {
        self.reply = Some((reply, true));
        self
    }

    /// Answers with this body and no content type.
    pub fn text(mut self, reply: &'static str) -> Self {
        self.reply = Some((reply, false));
        self
    }

    /// Expects exactly `n` requests.
    pub fn times(mut self, n: usize) -> Self {
        self.hits = Hits::Exactly(n);
        self
    }

    /// Expects `n` requests or more.
    pub fn at_least(mut self, n: usize) -> Self {
        self.hits = Hits::AtLeast(n);
        self
    }

    /// Does not check how many requests came.
    pub fn unchecked(mut self) -> Self {
        self.hits = Hits::Unchecked;
        self
    }

    async fn mount(&self, server: &mut ServerGuard) -> Mock {
        let mut mock = server.mock(self.method, self.path).with_status(self.status);
        for (name, value) in &self.headers {
            mock = mock.match_header(*name, value.clone());
        }
        if let Some(body) = &self.body {
            mock = mock.match_body(body.clone());
        }
        if let Some((reply, json)) = self.reply {
            if json {
                mock = mock.with_header("content-type", "application/json");
            }
            mock = mock.with_body(reply);
        }
        mock = match self.hits {
            Hits::Exactly(n) => mock.expect(n),
            Hits::AtLeast(n) => mock.expect_at_least(n),
            Hits::Unchecked => mock,
        };
        mock.create_async().await
    }
}

/// A local server with its routes mounted (in order: mockito answers with the first route
/// that matches and still expects requests).
pub struct Mounted {
    /// The server; its `url()` is where the runtime's origins are redirected.
    pub server: ServerGuard,
    mocks: Vec<(Route, Mock)>,
}

/// Starts a server with `routes` mounted.
pub async fn serve(routes: &[Route]) -> Mounted {
    let mut server = Server::new_async().await;
    let mut mocks = Vec::new();
    for route in routes {
        mocks.push((route.clone(), route.mount(&mut server).await));
    }
    Mounted { server, mocks }
}

impl Mounted {
    /// Asserts that every checked route got the requests it expects.
    pub async fn verify(&self) {
        for (route, mock) in &self.mocks {
            if !matches!(route.hits, Hits::Unchecked) {
                mock.assert_async().await;
            }
        }
    }
}
