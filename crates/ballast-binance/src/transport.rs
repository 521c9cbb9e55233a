//! The HTTP seam is ballast's one HTTP layer, [`ballast_http`]: its [`Transport`]
//! sends one request, and its [`TransportError`] says whether the request may have left.

pub use ballast_http::{HttpRequest, HttpResponse, Method, Transport, TransportError, UreqTransport};
