//! Console users: sign-in, session cookie, CSRF, roles, rate limit.

mod common;

use axum::http::{Method, StatusCode, header};
use common::{Browser, TestApp, add_user};
use serde_json::json;
use sqlx::PgPool;

fn set_cookie(response: &common::Response) -> String {
    response
        .headers
        .get(header::SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn a_user_signs_in_reads_with_the_cookie_and_signs_out(pool: PgPool) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    app.organization("acme").await?;
    let password = add_user(&app, "acme", "Ada@Example.com", "admin").await?;

    let response = app
        .send(
            Method::POST,
            "/v1/session",
            None,
            Some(json!({"email": " ada@example.COM", "password": password})),
            &[],
        )
        .await?;
    let session = response.expect(StatusCode::CREATED).clone();
    assert_eq!(session["email"], "ada@example.com");
    assert_eq!(session["organization_name"], "acme");
    assert_eq!(session["role"], "admin");
    let cookie = set_cookie(&response);
    assert!(cookie.starts_with("fjord_session=fjs_"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain http gets no Secure flag: {cookie}"
    );

    let browser = Browser::sign_in(&app, "ada@example.com", &password).await?;
    browser
        .get(&app, "/v1/clusters")
        .await?
        .expect(StatusCode::OK);
    let me = browser.get(&app, "/v1/session").await?;
    assert_eq!(me.expect(StatusCode::OK)["email"], "ada@example.com");
    assert_eq!(me.body["csrf_token"], browser.csrf.as_str());

    // Signing out needs the CSRF token too, then the cookie is dead.
    app.send(
        Method::DELETE,
        "/v1/session",
        None,
        None,
        &[("cookie", &browser.cookie)],
    )
    .await?
    .expect_problem(StatusCode::FORBIDDEN, "forbidden");
    let out = browser
        .send(&app, Method::DELETE, "/v1/session", None)
        .await?;
    out.expect(StatusCode::NO_CONTENT);
    assert!(set_cookie(&out).contains("Max-Age=0"));
    browser
        .get(&app, "/v1/clusters")
        .await?
        .expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    browser
        .get(&app, "/v1/session")
        .await?
        .expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn the_cookie_is_secure_behind_tls(pool: PgPool) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    app.organization("acme").await?;
    let password = add_user(&app, "acme", "ada@example.com", "admin").await?;
    let response = app
        .send(
            Method::POST,
            "/v1/session",
            None,
            Some(json!({"email": "ada@example.com", "password": password})),
            &[("x-forwarded-proto", "https")],
        )
        .await?;
    response.expect(StatusCode::CREATED);
    assert!(
        set_cookie(&response).ends_with("; Secure"),
        "{}",
        set_cookie(&response)
    );
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn changes_made_with_the_cookie_need_the_csrf_token_and_are_audited(
    pool: PgPool,
) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    app.organization("acme").await?;
    let password = add_user(&app, "acme", "ada@example.com", "admin").await?;
    let browser = Browser::sign_in(&app, "ada@example.com", &password).await?;
    let account = json!({"name": "prod", "aws_account_id": "123456789012",
                         "role_arn": "arn:aws:iam::123456789012:role/fjord"});
    for csrf in [None, Some("forged")] {
        let mut headers = vec![("cookie", browser.cookie.as_str())];
        if let Some(csrf) = csrf {
            headers.push(("x-csrf-token", csrf));
        }
        app.send(
            Method::POST,
            "/v1/cloud-accounts",
            None,
            Some(account.clone()),
            &headers,
        )
        .await?
        .expect_problem(StatusCode::FORBIDDEN, "forbidden");
    }
    let created = browser
        .send(&app, Method::POST, "/v1/cloud-accounts", Some(account))
        .await?;
    let id = created.expect(StatusCode::CREATED)["cloud_account_id"].clone();
    let audit = browser
        .get(&app, "/v1/audit-records?actor=user:ada@example.com")
        .await?;
    let items = audit.expect(StatusCode::OK)["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        items
            .iter()
            .any(|r| r["action"] == "cloud-account.create" && r["object_id"] == id),
        "{items:?}"
    );
    assert!(
        items.iter().any(|r| r["action"] == "session.create"),
        "{items:?}"
    );
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn a_viewer_reads_everything_and_changes_nothing_until_promoted(
    pool: PgPool,
) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let key = app.organization("acme").await?;
    let viewer = app
        .post(
            "/v1/users",
            &key,
            json!({"email": "vic@example.com", "password": "a long enough secret", "role": "viewer"}),
        )
        .await?;
    let viewer_id = viewer.expect(StatusCode::CREATED)["user_id"].clone();
    assert_eq!(viewer.body["role"], "viewer");
    let browser = Browser::sign_in(&app, "vic@example.com", "a long enough secret").await?;
    for path in [
        "/v1/organization",
        "/v1/api-keys",
        "/v1/users",
        "/v1/clusters",
        "/v1/audit-records",
        "/v1/rollouts",
    ] {
        browser.get(&app, path).await?.expect(StatusCode::OK);
    }
    let account = json!({"name": "prod", "aws_account_id": "123456789012",
                         "role_arn": "arn:aws:iam::123456789012:role/fjord"});
    let refused = browser
        .send(
            &app,
            Method::POST,
            "/v1/cloud-accounts",
            Some(account.clone()),
        )
        .await?;
    let problem = refused.expect_problem(StatusCode::FORBIDDEN, "forbidden");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("viewer")
    );
    browser
        .send(
            &app,
            Method::POST,
            "/v1/api-keys",
            Some(json!({"name": "mine", "scope": "admin"})),
        )
        .await?
        .expect_problem(StatusCode::FORBIDDEN, "forbidden");
    browser
        .send(
            &app,
            Method::PATCH,
            &format!("/v1/users/{}", viewer_id.as_str().unwrap_or_default()),
            Some(json!({"role": "admin"})),
        )
        .await?
        .expect_problem(StatusCode::FORBIDDEN, "forbidden");

    // An admin promotes the viewer: the same session may change things now.
    app.patch(
        &format!("/v1/users/{}", viewer_id.as_str().unwrap_or_default()),
        &key,
        json!({"role": "admin"}),
    )
    .await?
    .expect(StatusCode::OK);
    browser
        .send(&app, Method::POST, "/v1/cloud-accounts", Some(account))
        .await?
        .expect(StatusCode::CREATED);
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn repeated_wrong_passwords_lock_the_email_for_a_while(pool: PgPool) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    app.organization("acme").await?;
    let password = add_user(&app, "acme", "ada@example.com", "admin").await?;
    let attempt = |email: &'static str, password: String| {
        let app = app.clone();
        async move {
            app.send(
                Method::POST,
                "/v1/session",
                None,
                Some(json!({"email": email, "password": password})),
                &[],
            )
            .await
        }
    };
    // An unknown email and a wrong password look the same.
    let unknown = attempt("nobody@example.com", "whatever".into()).await?;
    let unknown = unknown
        .expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated")
        .clone();
    for _ in 0..5 {
        let wrong = attempt("ada@example.com", "not the password".into()).await?;
        assert_eq!(
            wrong.expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated")["detail"],
            unknown["detail"]
        );
    }
    let locked = attempt("ada@example.com", password.clone()).await?;
    locked.expect_problem(StatusCode::TOO_MANY_REQUESTS, "too-many-requests");
    let retry_after: u64 = locked
        .headers
        .get(header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .unwrap_or_default();
    assert!(
        (1..=900).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn members_are_managed_and_the_last_admin_stays(pool: PgPool) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    let key = app.organization("acme").await?;
    let password = add_user(&app, "acme", "ada@example.com", "admin").await?;
    let ada = Browser::sign_in(&app, "ada@example.com", &password).await?;
    let me = ada.get(&app, "/v1/session").await?.body["user_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // The only admin can neither be demoted nor removed.
    ada.send(
        &app,
        Method::PATCH,
        &format!("/v1/users/{me}"),
        Some(json!({"role": "viewer"})),
    )
    .await?
    .expect_problem(StatusCode::CONFLICT, "conflict");
    app.delete(&format!("/v1/users/{me}"), &key)
        .await?
        .expect_problem(StatusCode::CONFLICT, "conflict");

    // Bad input is a 422 that names the field; a taken email a 409.
    let short = ada
        .send(
            &app,
            Method::POST,
            "/v1/users",
            Some(json!({"email": "bo@example.com", "password": "short", "role": "viewer"})),
        )
        .await?;
    assert!(
        short.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body")["detail"]
            .as_str()
            .unwrap_or_default()
            .starts_with("password")
    );
    ada.send(
        &app,
        Method::POST,
        "/v1/users",
        Some(json!({"email": "ADA@example.com", "password": "twelve chars!", "role": "viewer"})),
    )
    .await?
    .expect_problem(StatusCode::CONFLICT, "conflict");

    let bo = ada
        .send(
            &app,
            Method::POST,
            "/v1/users",
            Some(json!({"email": "bo@example.com", "password": "twelve chars!", "role": "viewer"})),
        )
        .await?;
    let bo_id = bo.expect(StatusCode::CREATED)["user_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let bo_session = Browser::sign_in(&app, "bo@example.com", "twelve chars!").await?;
    let listed = ada.get(&app, "/v1/users").await?;
    assert_eq!(
        listed.expect(StatusCode::OK)["items"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Removing a member ends their session at once.
    ada.send(&app, Method::DELETE, &format!("/v1/users/{bo_id}"), None)
        .await?
        .expect(StatusCode::NO_CONTENT);
    bo_session
        .get(&app, "/v1/clusters")
        .await?
        .expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    app.send(
        Method::POST,
        "/v1/session",
        None,
        Some(json!({"email": "bo@example.com", "password": "twelve chars!"})),
        &[],
    )
    .await?
    .expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    Ok(())
}

#[sqlx::test(migrator = "fjord_store::MIGRATOR")]
async fn a_user_of_several_organizations_names_one_and_keys_win_over_cookies(
    pool: PgPool,
) -> anyhow::Result<()> {
    let app = TestApp::new(pool).await?;
    app.organization("acme").await?;
    app.organization("globex").await?;
    let password = add_user(&app, "acme", "ada@example.com", "admin").await?;
    let again =
        fjord_control_plane::admin::create_user(&app.pool, "globex", "ada@example.com", "viewer")
            .await?;
    assert_eq!(again, None, "an existing user keeps their password");

    let sign_in = |organization: Option<&'static str>| {
        let app = app.clone();
        let password = password.clone();
        async move {
            app.send(
                Method::POST,
                "/v1/session",
                None,
                Some(json!({"email": "ada@example.com", "password": password, "organization": organization})),
                &[],
            )
            .await
        }
    };
    sign_in(None)
        .await?
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body");
    let globex = sign_in(Some("globex")).await?;
    assert_eq!(globex.expect(StatusCode::CREATED)["role"], "viewer");
    assert_eq!(globex.body["organization_name"], "globex");
    sign_in(Some("initech"))
        .await?
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body");

    // A bearer token is always what authenticates, even next to a cookie.
    let browser = Browser::sign_in_to(&app, "ada@example.com", &password, "acme").await?;
    app.send(
        Method::GET,
        "/v1/clusters",
        Some("fjk_not-a-real-key"),
        None,
        &[("cookie", &browser.cookie)],
    )
    .await?
    .expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    Ok(())
}
