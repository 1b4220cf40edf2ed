//! Serves the built web console (a single-page app) from a directory.
//!
//! Files that exist are served as they are; any other path outside `/v1`
//! gets `index.html`, so the console's own routes survive a reload. (Paths
//! under `/v1` never reach it: the API answers them, with a problem when no
//! route matches.)

use std::path::Path;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use tower_http::services::{ServeDir, ServeFile};

const NOT_BUILT_PAGE: &str = "<!doctype html><html><head><title>Fjord</title></head><body>\
<h1>Fjord control plane</h1><p>The web console is not built. Run <code>cargo xtask dev</code>, \
or <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code> and start the control plane \
with <code>--console-dir web/dist</code>.</p><p>The API is at <a href=\"/openapi.json\">/openapi.json</a>.</p>\
</body></html>";

/// The console: files from `console_dir`, `index.html` for any other path;
/// a page explaining how to build the console when there is none.
pub(crate) fn service(console_dir: Option<&Path>) -> MethodRouter {
    match console_dir {
        Some(directory) => {
            let index = ServeFile::new(directory.join("index.html"));
            axum::routing::get_service(ServeDir::new(directory).fallback(index))
        }
        None => axum::routing::get(not_built),
    }
}

async fn not_built() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        NOT_BUILT_PAGE,
    )
        .into_response()
}
