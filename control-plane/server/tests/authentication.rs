//! Every way a request can carry (or lack) a credential, and what each kind
//! of route answers: an API key or session route, an agent route, the token
//! exchange, the session routes, a public route. Each refusal is a 401 (or
//! the CSRF 403) problem that says what was wrong with the credential the
//! route takes.

mod common;

use axum::http::{Method, StatusCode};
use common::{Browser, TestApp, add_user, connect_agent, populate};
use serde_json::json;
use sqlx::PgPool;

type TestResult = anyhow::Result<()>;

const SEND_BEARER: &str = "send Authorization: Bearer <token>";
const EXPECTED_BEARER: &str = "expected Authorization: Bearer <token>";
const NOT_AN_API_KEY: &str = "the bearer token is not an API key";
const NOT_AN_ACCESS_TOKEN: &str = "the bearer token is not an agent access token; trade the agent credential at POST /v1/agent/token";
const NOT_A_CREDENTIAL: &str = "the bearer token is not an agent credential";
const NOT_SIGNED_IN: &str = "you are not signed in (no session cookie)";

/// Sends `method path` with `headers`; asserts the status and, for a
/// problem, its detail.
async fn expect(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    status: StatusCode,
    detail: Option<&str>,
) -> TestResult {
    let response = app.send(method.clone(), path, None, None, headers).await?;
    assert_eq!(
        response.status, status,
        "{method} {path} with {headers:?}: {}",
        response.body
    );
    if let Some(detail) = detail {
        assert_eq!(
            response.body["detail"], detail,
            "{method} {path} with {headers:?}"
        );
    }
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn each_route_refuses_the_credentials_it_does_not_take_saying_why(
    pool: PgPool,
) -> TestResult {
    let app = TestApp::new(pool).await?;
    let acme = populate(&app, "acme").await?;
    let (credential, access) = connect_agent(&app, &acme.registration_token).await?;
    let password = add_user(&app, "acme", "ada@example.com", "admin").await?;
    let browser = Browser::sign_in(&app, "ada@example.com", &password).await?;
    let key = format!("Bearer {}", acme.key);
    let access = format!("Bearer {access}");
    let credential = format!("Bearer {credential}");
    let unknown_key = format!("Bearer fjk_{}", "A".repeat(43));
    let unknown_access = format!("Bearer fjt_{}", "A".repeat(43));
    let unknown_credential = format!("Bearer fja_{}", "A".repeat(43));
    let unknown_session = format!("fjord_session=fjs_{}", "A".repeat(43));
    let cookie = browser.cookie.as_str();
    let (unauthorized, forbidden, ok) = (
        StatusCode::UNAUTHORIZED,
        StatusCode::FORBIDDEN,
        StatusCode::OK,
    );

    // An API key or a session: the Authorization header, when sent, decides.
    let organization = "/v1/organization";
    let get = Method::GET;
    for (headers, status, detail) in [
        (vec![], unauthorized, Some(SEND_BEARER)),
        (
            vec![("authorization", "Basic x")],
            unauthorized,
            Some(EXPECTED_BEARER),
        ),
        (
            vec![("authorization", "Bearer ")],
            unauthorized,
            Some(EXPECTED_BEARER),
        ),
        (
            vec![("authorization", unknown_key.as_str())],
            unauthorized,
            Some("unknown or revoked API key"),
        ),
        (
            vec![("authorization", access.as_str())],
            unauthorized,
            Some(NOT_AN_API_KEY),
        ),
        (
            vec![("authorization", credential.as_str())],
            unauthorized,
            Some(NOT_AN_API_KEY),
        ),
        (
            vec![("authorization", "Bearer garbage")],
            unauthorized,
            Some(NOT_AN_API_KEY),
        ),
        (vec![("authorization", key.as_str())], ok, None),
        (
            vec![("cookie", "fjord_session=garbage")],
            unauthorized,
            Some("the session cookie is not a session; sign in again"),
        ),
        (
            vec![("cookie", unknown_session.as_str())],
            unauthorized,
            Some("your session has expired or was ended; sign in again"),
        ),
        (vec![("cookie", cookie)], ok, None),
        (
            vec![("cookie", cookie), ("authorization", "Basic x")],
            unauthorized,
            Some(EXPECTED_BEARER),
        ),
        (
            vec![
                ("cookie", unknown_session.as_str()),
                ("authorization", key.as_str()),
            ],
            ok,
            None,
        ),
    ] {
        expect(&app, get.clone(), organization, &headers, status, detail).await?;
    }
    // A change made with the cookie needs the session's CSRF token.
    expect(
        &app,
        Method::POST,
        "/v1/api-keys",
        &[("cookie", cookie)],
        forbidden,
        Some("a change made with the session cookie needs the session's X-CSRF-Token header; reload the console"),
    )
    .await?;

    // An agent's access token.
    let poll = "/v1/agent/intents?wait_seconds=0";
    for (headers, status, detail) in [
        (vec![], unauthorized, Some(SEND_BEARER)),
        (vec![("cookie", cookie)], unauthorized, Some(SEND_BEARER)),
        (
            vec![("authorization", key.as_str())],
            unauthorized,
            Some(NOT_AN_ACCESS_TOKEN),
        ),
        (
            vec![("authorization", credential.as_str())],
            unauthorized,
            Some(NOT_AN_ACCESS_TOKEN),
        ),
        (
            vec![("authorization", unknown_access.as_str())],
            unauthorized,
            Some("unknown or expired access token"),
        ),
        (vec![("authorization", access.as_str())], ok, None),
    ] {
        expect(&app, get.clone(), poll, &headers, status, detail).await?;
    }

    // The agent's credential, traded for access tokens.
    let token = "/v1/agent/token";
    for (headers, status, detail) in [
        (vec![], unauthorized, Some(SEND_BEARER)),
        (
            vec![("authorization", key.as_str())],
            unauthorized,
            Some(NOT_A_CREDENTIAL),
        ),
        (
            vec![("authorization", access.as_str())],
            unauthorized,
            Some(NOT_A_CREDENTIAL),
        ),
        (
            vec![("authorization", unknown_credential.as_str())],
            unauthorized,
            Some("unknown or replaced agent credential"),
        ),
        (
            vec![("authorization", credential.as_str())],
            StatusCode::CREATED,
            None,
        ),
    ] {
        expect(&app, Method::POST, token, &headers, status, detail).await?;
    }

    // The session routes read the cookie only, whatever else is sent.
    for (headers, status, detail) in [
        (vec![], unauthorized, Some(NOT_SIGNED_IN)),
        (
            vec![("authorization", key.as_str())],
            unauthorized,
            Some(NOT_SIGNED_IN),
        ),
        (
            vec![("cookie", cookie), ("authorization", "Basic x")],
            ok,
            None,
        ),
    ] {
        expect(&app, get.clone(), "/v1/session", &headers, status, detail).await?;
    }

    // A public route serves whatever credential comes with the request.
    for headers in [
        vec![("authorization", "Basic x")],
        vec![("authorization", unknown_key.as_str())],
        vec![("cookie", unknown_session.as_str())],
    ] {
        expect(&app, get.clone(), "/v1/info", &headers, ok, None).await?;
    }
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn only_a_valid_api_key_gets_its_idempotency_key_checked(pool: PgPool) -> TestResult {
    let app = TestApp::new(pool).await?;
    let key = app.organization("acme").await?;
    let body = json!({"name": "ci", "scope": "read-only"});
    let bad_key = [("idempotency-key", "a b")];
    // A valid API key: the malformed Idempotency-Key is the problem.
    app.send(
        Method::POST,
        "/v1/api-keys",
        Some(&key),
        Some(body.clone()),
        &bad_key,
    )
    .await?
    .expect_problem(StatusCode::BAD_REQUEST, "bad-request");
    // Any other caller: the handler refuses the credential first.
    let unknown = format!("fjk_{}", "B".repeat(43));
    let refused = app
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(&unknown),
            Some(body.clone()),
            &bad_key,
        )
        .await?;
    refused.expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(refused.body["detail"], "unknown or revoked API key");
    // A session gets no replays: the same key makes a second key.
    let password = add_user(&app, "acme", "ada@example.com", "admin").await?;
    let browser = Browser::sign_in(&app, "ada@example.com", &password).await?;
    let headers = [
        ("cookie", browser.cookie.as_str()),
        ("x-csrf-token", browser.csrf.as_str()),
        ("idempotency-key", "k"),
    ];
    let first = app
        .send(
            Method::POST,
            "/v1/api-keys",
            None,
            Some(body.clone()),
            &headers,
        )
        .await?;
    let second = app
        .send(Method::POST, "/v1/api-keys", None, Some(body), &headers)
        .await?;
    let first_id = &first.expect(StatusCode::CREATED)["api_key"]["api_key_id"];
    let second_id = &second.expect(StatusCode::CREATED)["api_key"]["api_key_id"];
    assert_ne!(first_id, second_id, "a session's request is never replayed");
    assert!(second.headers.get("idempotent-replayed").is_none());
    Ok(())
}
